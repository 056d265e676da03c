package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoEntityLeavesItsCommittedTransaction (review helper txent15, checks15) is the rule
// behind the fixes of UpdateConnection, Import, RollbackImport, AddAlternativeEmail,
// VerifyAlternativeEmail, CreateVariant and UpdateVariant: an ent entity keeps the driver it
// was read or written with, so one read or written in a transaction and returned after the
// transaction committed reads its edges through that committed transaction ("sql: transaction
// has already been committed or rolled back"), which GraphQL's edge resolvers
// (connection { licenses }, variant { application }, …) answer as an internal error.
//
// The check is syntactic, over every hand-written Go file outside ent/ and the tests: in a
// function that runs a closure taking a *ent.Tx, a variable of the function declared as
// *ent.T or []*ent.T and assigned inside the closure must not be returned as it is after the
// closure (return v, return &X{F: v}, return X{F: v}): it is returned as v.Unwrap() (ent's
// method, which panics on an entity not read through a transaction, so only on a path where v
// certainly came from tx), or read again through the client. A function whose answer is known
// to have no edge a caller reads may be listed in allowed, with the reason.
func TestNoEntityLeavesItsCommittedTransaction(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	allowed := map[string]string{
		// The published signing keys, kept in the key cache and read for their columns only:
		// SigningKey has no edge anything reads.
		"internal/oauth/keys.go:Keys.createMissing": "no edges",
	}
	skip := map[string]bool{"ent": true, "node_modules": true, ".git": true}
	files, closures := 0, 0
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
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			for _, v := range leakedTxEntities(fn, &closures) {
				name := funcName(fn)
				if _, ok := allowed[filepath.ToSlash(rel)+":"+name]; ok {
					continue
				}
				t.Errorf("%s:%d: %s returns %s, read or written in its transaction, after the transaction committed: return %s.Unwrap() (on the paths where it came from tx) or read it again through the client",
					filepath.ToSlash(rel), fset.Position(v.pos).Line, name, v.name, v.name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 || closures < 30 {
		t.Fatalf("walked only %d Go files and %d transaction closures under %s", files, closures, root)
	}
}

type leak struct {
	name string
	pos  token.Pos
}

// leakedTxEntities returns the entity variables of fn that a closure taking a *ent.Tx assigns
// and that a return statement after that closure returns without Unwrap.
func leakedTxEntities(fn *ast.FuncDecl, closures *int) []leak {
	entVars := map[string]bool{}
	if fn.Type.Results != nil {
		for _, r := range fn.Type.Results.List {
			if isEntEntity(r.Type) {
				for _, n := range r.Names {
					entVars[n.Name] = true
				}
			}
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && isEntEntity(vs.Type) {
			for _, n := range vs.Names {
				entVars[n.Name] = true
			}
		}
		return true
	})
	assigned := map[string]token.Pos{} // variable -> end of the closure that assigned it
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[len(call.Args)-1].(*ast.FuncLit)
		if !ok || !takesTx(lit) {
			return true
		}
		*closures++
		if len(entVars) == 0 {
			return true
		}
		ast.Inspect(lit.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || as.Tok != token.ASSIGN {
				return true
			}
			for _, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok && entVars[id.Name] {
					if end, seen := assigned[id.Name]; !seen || call.End() > end {
						assigned[id.Name] = call.End()
					}
				}
			}
			return true
		})
		return true
	})
	if len(assigned) == 0 {
		return nil
	}
	// Assignments of the function's own (outside closures): v = v.Unwrap(), or v read again.
	var again []struct {
		name string
		pos  token.Pos
	}
	var out []leak
	var returns []*ast.ReturnStmt
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			return false // a closure's assignments and returns are its own
		case *ast.AssignStmt:
			for _, l := range x.Lhs {
				if id, ok := l.(*ast.Ident); ok && entVars[id.Name] {
					again = append(again, struct {
						name string
						pos  token.Pos
					}{id.Name, x.Pos()})
				}
			}
		case *ast.ReturnStmt:
			returns = append(returns, x)
		}
		return true
	})
	for _, ret := range returns {
		for _, res := range ret.Results {
			for _, id := range returnedIdents(res) {
				end, ok := assigned[id.Name]
				if !ok || ret.Pos() < end {
					continue
				}
				reread := false
				for _, a := range again {
					reread = reread || (a.name == id.Name && a.pos > end && a.pos < ret.Pos())
				}
				if !reread {
					out = append(out, leak{id.Name, ret.Pos()})
				}
			}
		}
	}
	return out
}

// returnedIdents is e when it is a bare identifier, or the bare identifiers among the values
// of a composite literal e (also behind &).
func returnedIdents(e ast.Expr) []*ast.Ident {
	switch x := e.(type) {
	case *ast.Ident:
		return []*ast.Ident{x}
	case *ast.UnaryExpr:
		if x.Op == token.AND {
			return returnedIdents(x.X)
		}
	case *ast.CompositeLit:
		var ids []*ast.Ident
		for _, el := range x.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			if id, ok := el.(*ast.Ident); ok {
				ids = append(ids, id)
			}
		}
		return ids
	}
	return nil
}

// takesTx reports whether lit's first parameter is a *ent.Tx.
func takesTx(lit *ast.FuncLit) bool {
	ps := lit.Type.Params.List
	if len(ps) == 0 {
		return false
	}
	star, ok := ps[0].Type.(*ast.StarExpr)
	return ok && isEntSelector(star.X, "Tx")
}

// isEntEntity reports whether t is *ent.T or []*ent.T for an entity T (not ent.Tx or ent.Client).
func isEntEntity(t ast.Expr) bool {
	if arr, ok := t.(*ast.ArrayType); ok {
		t = arr.Elt
	}
	star, ok := t.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && isEntSelector(sel, "") && sel.Sel.Name != "Tx" && sel.Sel.Name != "Client"
}

func isEntSelector(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "ent" && (name == "" || sel.Sel.Name == name)
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}
