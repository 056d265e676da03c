package graph_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"loginsign/graph"
)

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

// limitBody serves one request through graph.LimitBody(limit) in front of a handler that
// records whether it ran, and returns the answer, its GraphQL error code and whether the
// handler ran.
func limitBody(t *testing.T, limit int64, r *http.Request) (rec *httptest.ResponseRecorder, code string, reached bool) {
	t.Helper()
	rec = httptest.NewRecorder()
	graph.LimitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		io.Copy(io.Discard, r.Body)
	}), limit).ServeHTTP(rec, r)
	var out struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &out) == nil && len(out.Errors) > 0 {
		code = out.Errors[0].Extensions.Code
	}
	return rec, code, reached
}

// A body announced longer than the limit is answered 413 without a byte of it read.
func TestGraphQLBodyAnnouncedTooLargeIsRefusedUnread(t *testing.T) {
	t.Parallel()
	body := &countingBody{r: strings.NewReader(`{"query":"{ viewer { id } }"}` + strings.Repeat(" ", 200))}
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Body, req.ContentLength = body, 230
	rec, code, reached := limitBody(t, 100, req)
	if rec.Code != http.StatusRequestEntityTooLarge || code != "REQUEST_TOO_LARGE" || reached {
		t.Fatalf("%d %q reached %v, want 413 REQUEST_TOO_LARGE before the handler", rec.Code, code, reached)
	}
	if body.read != 0 {
		t.Fatalf("%d bytes of an announced oversized body were read, want none", body.read)
	}
}

// A body that does not announce its length is cut at the limit: 413, and the handler never
// sees it.
func TestGraphQLBodyUnannouncedTooLargeIsCutAtTheLimit(t *testing.T) {
	t.Parallel()
	body := &countingBody{r: strings.NewReader(`{"query":"{ viewer { id } }"}` + strings.Repeat(" ", 10000))}
	req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	req.Body, req.ContentLength = body, -1
	rec, code, reached := limitBody(t, 100, req)
	if rec.Code != http.StatusRequestEntityTooLarge || code != "REQUEST_TOO_LARGE" || reached {
		t.Fatalf("%d %q reached %v, want 413 REQUEST_TOO_LARGE before the handler", rec.Code, code, reached)
	}
	if body.read > 1000 {
		t.Fatalf("%d bytes read of a body over a limit of 100, want it cut near the limit", body.read)
	}
}

// Text the database refuses (not UTF-8, a JSON \u0000, GraphQL's own \u0000 inside the query,
// a \u0000 in a GET query string) is 400 BAD_REQUEST before the handler.
func TestGraphQLBadBytesAreRefusedBeforeTheHandler(t *testing.T) {
	t.Parallel()
	post := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	for _, tt := range []struct {
		name string
		req  *http.Request
	}{
		{"a body that is not UTF-8", post("{\"query\":\"{ viewer { name } }\xff\"}")},
		{"a JSON NUL escape", post(`{"query":"{ viewer { id } }","variables":{"a":"\u0000"}}`)},
		{"a GraphQL NUL escape in the query", post(`{"query":"{ node(id: \"\\u0000\") { id } }"}`)},
		{"a NUL escape in a GET query", httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ node(id: "\u0000") { id } }`), nil)},
		{"a NUL escape in GET variables", httptest.NewRequest(http.MethodGet, "/graphql?query=%7Bviewer%7Bid%7D%7D&variables="+url.QueryEscape(`{"a":"\u0000"}`), nil)},
	} {
		rec, code, reached := limitBody(t, 1<<20, tt.req)
		if rec.Code != http.StatusBadRequest || code != "BAD_REQUEST" || reached {
			t.Errorf("%s: %d %q reached %v, want 400 BAD_REQUEST before the handler", tt.name, rec.Code, code, reached)
		}
	}
	// Plain requests pass.
	for _, req := range []*http.Request{
		post(`{"query":"{ viewer { id } }"}`),
		post(`{"query":"{ node(id: \"\\\\u0000\") { id } }"}`), // an escaped backslash, then u0000
		httptest.NewRequest(http.MethodGet, "/graphql?query=%7Bviewer%7Bid%7D%7D", nil),
	} {
		if rec, _, reached := limitBody(t, 1<<20, req); !reached {
			t.Errorf("%s %s: %d %s, want it handed on", req.Method, req.URL, rec.Code, rec.Body)
		}
	}
}

// A document longer than Limits.MaxTokens is refused by the parser, before validation or
// execution: without the limit gqlgen parses a document of any length.
func TestGraphQLDocumentPastTheTokenLimitIsRefused(t *testing.T) {
	t.Parallel()
	h := graph.Endpoint(graph.NewHandler(&graph.Resolver{}, slog.New(slog.DiscardHandler)), graph.Limits{MaxTokens: 50})
	ask := func(query string) (data any, errs []any) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"query": query})
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		errs, _ = out["errors"].([]any)
		return out["data"], errs
	}
	if data, errs := ask("{ __typename }"); data == nil || len(errs) != 0 {
		t.Fatalf("a short document: data %v errors %v", data, errs)
	}
	long := "{ " + strings.Repeat("__typename ", 100) + "}"
	data, errs := ask(long)
	if data != nil || len(errs) == 0 || !strings.Contains(fmt.Sprint(errs[0]), "token") {
		t.Fatalf("a document of 102 tokens under a limit of 50: data %v errors %v, want a token limit error and no data", data, errs)
	}
}
