// Package openapi is the OpenAPI 3.1 description of every LoginSign REST route, written by
// hand in openapi.yaml and embedded in the binary. It serves the document at /openapi.json and
// a reference page rendered from it on the server at /docs (no script, works offline). The
// tests validate every REST response they produce against it (see
// internal/server/openapi_test.go).
package openapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var specYAML []byte

var load = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(specYAML)
	if err != nil {
		return nil, fmt.Errorf("loading openapi.yaml: %w", err)
	}
	return doc, nil
})

// Doc returns the parsed document (shared; do not modify it).
func Doc() (*openapi3.T, error) { return load() }

// Load parses a fresh copy of the document, for a caller that changes it (tests drop the
// servers to match any host).
func Load() (*openapi3.T, error) { return openapi3.NewLoader().LoadFromData(specYAML) }

// Validate lints the document: the OpenAPI 3.1 structure, references, examples and defaults
// (kin-openapi's doc.Validate).
func Validate(ctx context.Context) error {
	doc, err := Doc()
	if err != nil {
		return err
	}
	return doc.Validate(ctx)
}

var specJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := Doc()
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

// JSON answers GET /openapi.json with the document.
func JSON(w http.ResponseWriter, r *http.Request) {
	b, err := specJSON()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}

// operation is one row of the reference page.
type operation struct {
	Method, Path, ID, Summary, Description string
	Security                               []string
	Params                                 []string
	Body                                   []string
	Responses                              []string
}

type section struct {
	Name, Description string
	Ops               []operation
}

var pageTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="docs">
<h1>{{.Title}} <small>v{{.Version}}</small></h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). GraphQL: <a href="/playground">/playground</a>.</p>
<pre class="note">{{.Description}}</pre>
<nav><ul>{{range .Sections}}<li><a href="#tag-{{.Name}}">{{.Name}}</a> — {{.Description}}</li>{{end}}</ul></nav>
{{range .Sections}}<section id="tag-{{.Name}}"><h2>{{.Name}}</h2>
{{range .Ops}}<article id="{{.ID}}"><h3><code>{{.Method}} {{.Path}}</code></h3>
<p>{{.Summary}}</p>{{if .Description}}<pre class="note">{{.Description}}</pre>{{end}}
{{if .Security}}<p>Authentication: {{range $i, $s := .Security}}{{if $i}} or {{end}}{{$s}}{{end}}</p>{{end}}
{{if .Params}}<h4>Parameters</h4><ul>{{range .Params}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{if .Body}}<h4>Body</h4><ul>{{range .Body}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<h4>Responses</h4><ul>{{range .Responses}}<li>{{.}}</li>{{end}}</ul>
</article>{{end}}</section>{{end}}
</main></body></html>`))

var page = sync.OnceValues(func() ([]byte, error) {
	doc, err := Doc()
	if err != nil {
		return nil, err
	}
	var sections []*section
	byTag := map[string]*section{}
	for _, t := range doc.Tags {
		s := &section{Name: t.Name, Description: t.Description}
		sections = append(sections, s)
		byTag[t.Name] = s
	}
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, p := range paths {
		item := doc.Paths.Value(p)
		methods := []string{}
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			op := item.GetOperation(m)
			o := operation{Method: m, Path: p, ID: op.OperationID, Summary: op.Summary, Description: op.Description}
			if op.Security != nil {
				for _, req := range *op.Security {
					names := []string{}
					for name, scopes := range req {
						if len(scopes) > 0 {
							name += " (" + strings.Join(scopes, ", ") + ")"
						}
						names = append(names, name)
					}
					if len(names) == 0 {
						names = []string{"form client_id + client_secret"}
					}
					slices.Sort(names)
					o.Security = append(o.Security, strings.Join(names, " + "))
				}
			}
			for _, pr := range append(item.Parameters, op.Parameters...) {
				if pr.Value != nil {
					o.Params = append(o.Params, pr.Value.Name+" ("+pr.Value.In+")")
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					fields := []string{}
					if mt.Schema != nil && mt.Schema.Value != nil {
						for name := range mt.Schema.Value.Properties {
							fields = append(fields, name)
						}
					}
					slices.Sort(fields)
					o.Body = append(o.Body, ct+": "+strings.Join(fields, ", "))
				}
				slices.Sort(o.Body)
			}
			codes := []string{}
			for code := range op.Responses.Map() {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			for _, code := range codes {
				r := op.Responses.Value(code)
				desc := ""
				if r.Value != nil && r.Value.Description != nil {
					desc = *r.Value.Description
				}
				o.Responses = append(o.Responses, code+": "+desc)
			}
			tag := "ops"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if s := byTag[tag]; s != nil {
				s.Ops = append(s.Ops, o)
			}
		}
	}
	var buf bytes.Buffer
	err = pageTemplate.Execute(&buf, map[string]any{"Title": doc.Info.Title, "Version": doc.Info.Version,
		"Description": doc.Info.Description, "Sections": sections})
	return buf.Bytes(), err
})

// Docs answers GET /docs: the REST reference, rendered from the document on the server.
func Docs(w http.ResponseWriter, r *http.Request) {
	b, err := page()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Write(b)
}
