package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/csvtable"
	"loginsign/internal/httpx"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// MaxImportBody bounds an import request body (JSON or CSV): 10,000 rows fit easily.
const MaxImportBody = 8 << 20

// importRowJSON is one row of an import result.
type importRowJSON struct {
	Row            int    `json:"row"`
	ExternalUserID string `json:"externalUserId"`
	Email          string `json:"email"`
	Status         string `json:"status"`
	// ConnectionID is set only for already_connected rows (a connection the app already has).
	ConnectionID *string `json:"connectionId,omitempty"`
	Message      *string `json:"message,omitempty"`
}

// importSourceJSON is a stored import run.
type importSourceJSON struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Kind         string         `json:"kind"`
	Total        int            `json:"total"`
	Counts       map[string]int `json:"counts"`
	CreatedAt    string         `json:"createdAt"`
	RolledBackAt *string        `json:"rolledBackAt"`
}

func toImportSource(s *ent.ImportSource) importSourceJSON {
	counts := map[string]int{}
	for _, st := range portal.ImportStatuses {
		counts[st] = s.Counts[st]
	}
	return importSourceJSON{ID: s.ID, Name: s.Name, Kind: string(s.Kind), Total: s.Total, Counts: counts,
		CreatedAt: httpx.Time(s.CreatedAt), RolledBackAt: httpx.TimePtr(s.RolledBackAt)}
}

func toImportRows(rows []*ent.ImportRow) []importRowJSON {
	out := make([]importRowJSON, len(rows))
	for i, r := range rows {
		out[i] = importRowJSON{Row: r.Row, ExternalUserID: r.ExternalUserID, Email: r.Email, Status: string(r.Status),
			ConnectionID: r.ConnectionID, Message: nullable(r.Message)}
	}
	return out
}

// importBody is the JSON of POST …/import-existing-users/csv.
type importBody struct {
	SourceName string      `json:"sourceName"`
	Users      importUsers `json:"users"`
}

// importUserJSON is one user of an import's JSON.
type importUserJSON struct {
	ExternalUserID   string `json:"externalUserId"`
	Email            string `json:"email"`
	Name             string `json:"name"`
	RegistrationDate string `json:"registrationDate"`
	LastLoginDate    string `json:"lastLoginDate"`
}

// importUsers is the "users" array of an import, decoded one element at a time and refused
// (TooLarge) at its portal.MaxImportRows+1st: decoded whole, an 8 MiB body of "{}," made
// 2.8 million users and over a gigabyte of allocations before the domain counted them.
type importUsers []importUserJSON

func (u *importUsers) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null: no users
		*u = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return apperr.New(apperr.Invalid, "field \"users\" must be an array of users")
	}
	out := importUsers{}
	for dec.More() {
		if len(out) == portal.MaxImportRows {
			return apperr.New(apperr.TooLarge, "at most %d rows per import", portal.MaxImportRows)
		}
		var one importUserJSON
		if err := dec.Decode(&one); err != nil {
			return elementError(err, "users", "an array of users")
		}
		out = append(out, one)
	}
	*u = out
	return nil
}

// ImportExistingUsers answers POST /api/developer/applications/:appId/import-existing-users/csv.
// The body is the documented JSON ({"sourceName","users":[…]}), a text/csv upload, or a
// multipart/form-data upload with the CSV in a file part and an optional sourceName field
// (sourceName may also be a query parameter). The answer is
// {"sourceId","sourceName","total","counts","results":[…]}; more than 10,000 rows answer 413.
func (a *API) ImportExistingUsers(w http.ResponseWriter, r *http.Request) {
	// Signed out, the body is not read: parsing 10,000 rows is work no one should get for free
	// (the domain function checks the session again, and who may import).
	if _, err := auth.RequireUser(r.Context()); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// Nor is it for a developer off the application's team, or without the role to import:
	// any free account could otherwise have 8 MiB read and parsed per request against an
	// application it cannot touch, before the domain's 404.
	if _, err := a.Portal.Authorize(r.Context(), r.PathValue("appId"), team.RunImports); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	req, err := readImport(w, r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Portal.Import(r.Context(), r.PathValue("appId"), req)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	src := toImportSource(res.Source)
	httpx.WriteJSON(w, http.StatusOK, struct {
		SourceID   string          `json:"sourceId"`
		SourceName string          `json:"sourceName"`
		Total      int             `json:"total"`
		Counts     map[string]int  `json:"counts"`
		Results    []importRowJSON `json:"results"`
	}{src.ID, src.Name, src.Total, src.Counts, toImportRows(res.Rows)})
}

func readImport(w http.ResponseWriter, r *http.Request) (portal.ImportRequest, error) {
	qs, err := query(r)
	if err != nil {
		return portal.ImportRequest{}, err
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/json", nil
	}
	if err != nil {
		return portal.ImportRequest{}, apperr.New(apperr.Invalid, "unreadable Content-Type")
	}
	switch {
	case mt == "application/json":
		var b importBody
		if err := httpx.DecodeJSON(w, r, &b, MaxImportBody); err != nil {
			return portal.ImportRequest{}, err
		}
		req := portal.ImportRequest{SourceName: b.SourceName, Kind: "json", Users: make([]portal.ImportUser, len(b.Users))}
		for i, u := range b.Users {
			req.Users[i] = portal.ImportUser{ExternalUserID: u.ExternalUserID, Email: u.Email, Name: u.Name,
				RegistrationDate: u.RegistrationDate, LastLoginDate: u.LastLoginDate}
		}
		return req, nil
	case mt == "text/csv":
		csv, err := readCSV(http.MaxBytesReader(w, r.Body, MaxImportBody), MaxImportBody)
		if err != nil {
			return portal.ImportRequest{}, bodyErr(err)
		}
		users, err := portal.ParseImportCSV(bytes.NewReader(csv))
		if err != nil {
			return portal.ImportRequest{}, bodyErr(err)
		}
		return portal.ImportRequest{SourceName: qs.Get("sourceName"), Kind: "csv", Users: users}, nil
	case mt == "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, MaxImportBody)
		mr, err := r.MultipartReader()
		if err != nil || params["boundary"] == "" {
			return portal.ImportRequest{}, apperr.New(apperr.Invalid, "malformed multipart body")
		}
		req := portal.ImportRequest{SourceName: qs.Get("sourceName"), Kind: "csv"}
		var fileName string
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return req, bodyErr(apperr.New(apperr.Invalid, "malformed multipart body: %v", err), err)
			}
			switch {
			case part.FormName() == "sourceName":
				b, err := readText(io.LimitReader(part, 1024), "sourceName")
				if err != nil {
					return req, bodyErr(err)
				}
				req.SourceName = strings.TrimSpace(string(b))
			case part.FileName() != "" || part.FormName() == "file":
				if req.Users != nil {
					return req, apperr.New(apperr.Invalid, "send one CSV file per import")
				}
				fileName = part.FileName()
				if err := httpx.CheckText("the file name", fileName); err != nil {
					return req, err
				}
				csv, err := readCSV(part, MaxImportBody)
				if err != nil {
					return req, bodyErr(err)
				}
				if req.Users, err = portal.ParseImportCSV(bytes.NewReader(csv)); err != nil {
					return req, bodyErr(err)
				}
			}
			part.Close()
		}
		if req.Users == nil {
			return req, apperr.New(apperr.Invalid, "the multipart body holds no CSV file part")
		}
		if req.SourceName == "" {
			// A file's name stands for the run's name the developer did not give: cut to the
			// length a name may have, so a long file name does not refuse the import.
			req.SourceName = fileName
			if r := []rune(fileName); len(r) > portal.MaxSourceName {
				req.SourceName = strings.TrimSpace(string(r[:portal.MaxSourceName]))
			}
		}
		return req, nil
	default:
		return portal.ImportRequest{}, apperr.New(apperr.Invalid, "Content-Type must be application/json, text/csv or multipart/form-data")
	}
}

// bodyErr maps a read error of an upload: an oversized body is 413, a domain error stays, and
// anything else is a 400 (the fallback, when given, or a generic message).
func bodyErr(err error, cause ...error) error {
	var mb *http.MaxBytesError
	for _, e := range append(cause, err) {
		if errors.As(e, &mb) {
			return apperr.New(apperr.TooLarge, "body larger than %d bytes", mb.Limit)
		}
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	return apperr.New(apperr.Invalid, "unreadable body: %v", err)
}

// DeveloperImportSources answers GET …/import-sources[?limit=&cursor=] with
// {"sources":[…],"nextCursor"}, newest first, a page of at most limit (1–100, default 100).
func (a *API) DeveloperImportSources(w http.ResponseWriter, r *http.Request) {
	first, after, err := listPage(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	conn, err := a.Portal.ImportSources(r.Context(), r.PathValue("appId"), after, first, nil, nil)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := struct {
		Sources    []importSourceJSON `json:"sources"`
		NextCursor *string            `json:"nextCursor"`
	}{Sources: make([]importSourceJSON, 0, len(conn.Edges)), NextCursor: store.NextCursor(conn.PageInfo)}
	for _, e := range conn.Edges {
		out.Sources = append(out.Sources, toImportSource(e.Node))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// DeveloperImportSource answers GET …/import-sources/:sourceId with the run and its results.
func (a *API) DeveloperImportSource(w http.ResponseWriter, r *http.Request) {
	res, err := a.Portal.ImportSource(r.Context(), r.PathValue("appId"), r.PathValue("sourceId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		importSourceJSON
		Results []importRowJSON `json:"results"`
	}{toImportSource(res.Source), toImportRows(res.Rows)})
}

// RollbackDeveloperImport answers POST …/import-sources/:sourceId/rollback with
// {"ok":true,"sourceId","deletedConnections","withdrawnLinks","rolledBackAt"}; 409 when
// already rolled back.
func (a *API) RollbackDeveloperImport(w http.ResponseWriter, r *http.Request) {
	rb, err := a.Portal.RollbackImport(r.Context(), r.PathValue("appId"), r.PathValue("sourceId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		OK                 bool    `json:"ok"`
		SourceID           string  `json:"sourceId"`
		DeletedConnections int     `json:"deletedConnections"`
		WithdrawnLinks     int     `json:"withdrawnLinks"`
		RolledBackAt       *string `json:"rolledBackAt"`
	}{true, rb.Source.ID, rb.DeletedConnections, rb.WithdrawnLinks, httpx.TimePtr(rb.Source.RolledBackAt)})
}

// readText reads a text upload whole (its reader is bounded by the route's limit) and refuses
// invalid UTF-8 and NUL characters with a 400 naming what, before any of it reaches a
// database that would refuse it.
func readText(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := httpx.CheckText(what, string(b)); err != nil {
		return nil, err
	}
	return b, nil
}

// readCSV reads an uploaded CSV file whole (its reader is bounded by the route's limit, limit
// bytes: checked before decoding), decodes it to UTF-8 as spreadsheets save it
// (csvtable.Decode: UTF-8, UTF-16 with a byte order mark, else Windows-1252; more than limit
// bytes once decoded answer 413) and refuses NUL characters with a 400, before any of it
// reaches a database that would refuse them.
func readCSV(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if b, err = csvtable.Decode(b, limit); err != nil {
		return nil, err
	}
	if err := httpx.CheckText("the CSV", string(b)); err != nil {
		return nil, err
	}
	return b, nil
}

// elementError is the error of decoding one element of the array field: an element of the
// wrong type (a number, an array) is the field's own Invalid, which names it. Decoded alone, the
// element's type error names no field, which the body's decoding (httpx.DecodeJSON) read as a
// body that is not an object ("body must be a JSON object" for {"users": [1]}).
func elementError(err error, field, want string) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		return apperr.New(apperr.Invalid, "field %q must be %s", field, want)
	}
	return err
}
