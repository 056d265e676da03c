package store_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Hand-written code asks the store, not ent, which storage error it got (store.Err,
// store.NotFound, store.Conflict), so the mapping of ent's errors to the domain vocabulary
// lives in one place. Outside internal/store and the generated ent/ tree no Go file, test or
// not, calls ent.IsNotFound, ent.IsConstraintError or another ent.Is* helper.
func TestNoEntErrorChecksOutsideStore(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	call := regexp.MustCompile(`\bent\.Is[A-Z]\w*\(`)
	skip := map[string]bool{"ent": true, filepath.Join("internal", "store"): true, "node_modules": true, ".git": true}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skip[rel] || (rel != "." && strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if call.MatchString(line) {
				t.Errorf("%s:%d: %s (use store.Err, store.NotFound or store.Conflict)", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("walked only %d Go files under %s", files, root)
	}
}
