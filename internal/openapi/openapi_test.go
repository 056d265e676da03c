package openapi_test

import (
	"context"
	"testing"

	"loginsign/internal/openapi"
)

// The hand-written document is valid OpenAPI 3.1 (kin-openapi's linter: structure, $refs,
// schemas); CI runs this test.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	if err := openapi.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	doc, _ := openapi.Doc()
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			if op.OperationID == "" || ids[op.OperationID] || op.Summary == "" || len(op.Tags) != 1 {
				t.Errorf("%s %s: operationId %q (unique), a summary and one tag are required", m, path, op.OperationID)
			}
			ids[op.OperationID] = true
		}
	}
}
