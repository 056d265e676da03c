package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"loginsign/internal/apperr"
)

// Media types of a GraphQL-over-HTTP response.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// overHTTP is the GraphQL-over-HTTP transport (GET and POST with an application/json body),
// answering per the spec (graphql-over-http, "Status Codes"):
//   - a body or query string that is not a GraphQL-over-HTTP request (bad JSON, no query
//     string, wrong parameter types) is 400 whatever the Accept header says;
//   - a request that fails before execution (parse, validation, variable coercion, limits) is
//     200 with {"errors"} for application/json (legacy clients read the body whatever the
//     status) and 400 with {"errors"} and no data entry for application/graphql-response+json;
//   - GET carries only queries: a mutation is 405 with Allow: POST;
//   - an Accept header naming neither media type (nor */*, application/*) is 406.
//
// Every answer is Cache-Control: no-store: a query's data is the signed-in person's (their
// session cookie picks it), so neither the browser nor a shared cache may keep it, GET
// included.
//
// gqlgen's own GET and POST transports answer 422 to application/json and write "data": null
// on request errors, which graphql-http's audit flags.
type overHTTP struct{}

var _ graphql.Transport = overHTTP{}

// Supports takes GET (without a WebSocket upgrade) and POST with an application/json body.
func (overHTTP) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	if r.Method == http.MethodGet {
		return true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && err == nil && mt == mediaJSON
}

// requestParams is the JSON body of a POST (and the shape of a GET's query string).
type requestParams struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// responseMediaType picks the response media type from Accept: the first of the two GraphQL
// types named (application/json for a wildcard or no header); "" when none is acceptable.
func responseMediaType(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			return mediaJSON
		}
	}
	return ""
}

func (overHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	media := responseMediaType(r.Header.Get("Accept"))
	if media == "" {
		w.Header().Set("Content-Type", mediaJSON)
		w.WriteHeader(http.StatusNotAcceptable)
		writeResponse(w, requestError("Accept must allow application/graphql-response+json or application/json"), false)
		return
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	bad := func(status int, msg string) {
		w.WriteHeader(status)
		writeResponse(w, requestError(msg), false)
	}

	var p requestParams
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if q.Has("query") {
			p.Query = ptr(q.Get("query"))
		}
		if q.Has("operationName") {
			p.OperationName = ptr(q.Get("operationName"))
		}
		for name, dst := range map[string]*map[string]any{"variables": &p.Variables, "extensions": &p.Extensions} {
			if v := q.Get(name); v != "" {
				if err := decodeJSON(strings.NewReader(v), dst); err != nil {
					bad(http.StatusBadRequest, name+" must be a JSON object")
					return
				}
			}
		}
	} else {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				bad(http.StatusRequestEntityTooLarge, "the request body is too large")
				return
			}
			bad(http.StatusBadRequest, "the request body could not be read")
			return
		}
		if err := decodeJSON(bytes.NewReader(body), &p); err != nil {
			bad(http.StatusBadRequest, "the body must be a JSON object with a query string (and optional operationName, variables, extensions)")
			return
		}
	}
	raw := &graphql.RawParams{Headers: r.Header, Variables: p.Variables, Extensions: p.Extensions}
	if p.Query != nil {
		raw.Query = *p.Query
	}
	if p.OperationName != nil {
		raw.OperationName = *p.OperationName
	}
	// A persisted query (extensions.persistedQuery) may come without its text.
	if p.Query == nil && raw.Extensions["persistedQuery"] == nil {
		bad(http.StatusBadRequest, "query is required")
		return
	}
	raw.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}

	rc, errs := exec.CreateOperationContext(ctx, raw)
	if errs != nil {
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		if outage(errs) {
			// A dependency the request needs before it runs (the rate-limit counters) is
			// down: 503 with Retry-After, as the session check answers (httpx.WriteUnavailable).
			w.Header().Set("Retry-After", strconv.Itoa(apperr.RetryAfterUnavailable))
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs), false)
		return
	}
	if r.Method == http.MethodGet {
		if op := rc.Doc.Operations.ForName(rc.OperationName); op == nil || op.Operation != ast.Query {
			w.Header().Set("Allow", http.MethodPost)
			bad(http.StatusMethodNotAllowed, "GET carries only queries; send mutations with POST")
			return
		}
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx), true)
}

// optionsOnly is gqlgen's OPTIONS transport for OPTIONS alone: it also takes HEAD, which it
// answers 405 without the Allow field RFC 9110 §15.5.6 requires.
type optionsOnly struct{ transport.Options }

func (optionsOnly) Supports(r *http.Request) bool { return r.Method == http.MethodOptions }

// unsupported takes every request the other transports leave (it goes last) and refuses it
// in the shape of the other request errors (code BAD_REQUEST), where gqlgen would answer 400
// "transport not supported" without a code: a method other than GET, POST and OPTIONS (HEAD
// included) is 405 with Allow; a POST body that is not application/json (a form, multipart, text/plain,
// application/graphql) and a protocol upgrade (WebSocket) are 400.
type unsupported struct{}

var _ graphql.Transport = unsupported{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodPost:
		w.Header().Set("Allow", "OPTIONS, GET, POST") // as transport.Options answers OPTIONS
		writeGraphQLError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", r.Method+" is not supported; send GET or POST")
	case r.Header.Get("Upgrade") != "":
		writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "protocol upgrades (WebSocket) are not supported; send GET or POST")
	default:
		writeGraphQLError(w, http.StatusBadRequest, "BAD_REQUEST", "the body of a POST must be application/json")
	}
}

// outage reports whether errs holds an error of an unavailable dependency (unavailableError).
func outage(errs gqlerror.List) bool {
	for _, e := range errs {
		if e != nil && e.Extensions["code"] == string(apperr.Unavailable) {
			return true
		}
	}
	return false
}

// requestError is a response that carries only an error: the request never reached execution.
func requestError(msg string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": "BAD_REQUEST"}}}}
}

// writeResponse writes resp; withData false leaves out the data entry, as for a request error
// (GraphQL spec §7.1.2: an error raised before execution begins leaves data absent).
func writeResponse(w io.Writer, resp *graphql.Response, withData bool) {
	var v any = resp
	if !withData {
		v = struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions}
	}
	if b, err := json.Marshal(v); err == nil {
		w.Write(b)
	}
}

// decodeJSON decodes one JSON object (numbers kept as json.Number, as gqlgen expects) and
// refuses trailing data.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
