package rest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

func (a *API) now() time.Time { return a.Licenses.Now().UTC() }

// variantWithCounts answers one variant with its code counts.
func (a *API) variantWithCounts(w http.ResponseWriter, r *http.Request, status int, v *ent.LicenseVariant) {
	counts, err := a.Licenses.CodeCounts(r.Context(), v.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, status, toVariantJSON(v, counts[v.ID]))
}

// ListVariants is GET /api/developer/applications/{appId}/licenses/variants.
func (a *API) ListVariants(w http.ResponseWriter, r *http.Request) {
	vs, err := a.Licenses.ListVariants(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	idList := make([]string, len(vs))
	for i, v := range vs {
		idList[i] = v.ID
	}
	counts, err := a.Licenses.CodeCounts(r.Context(), idList...)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := struct {
		Variants []variantJSON `json:"variants"`
	}{Variants: make([]variantJSON, len(vs))}
	for i, v := range vs {
		out.Variants[i] = toVariantJSON(v, counts[v.ID])
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// CreateVariant is POST /api/developer/applications/{appId}/licenses/variants: 201 with the
// variant, 409 variant_name_taken.
func (a *API) CreateVariant(w http.ResponseWriter, r *http.Request) {
	var body variantBody
	if err := httpx.DecodeJSON(w, r, &body, 16<<10); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.Licenses.CreateVariant(r.Context(), r.PathValue("appId"), licenses.VariantInput{
		Name: zeroIfNil(body.Name), Description: zeroIfNil(body.Description), Duration: zeroIfNil(body.Duration),
		DefaultDuration: body.DefaultDuration})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, toVariantJSON(v, licenses.CodeCounts{}))
}

// UpdateVariant is PATCH /api/developer/applications/{appId}/licenses/variants/{variantId}.
func (a *API) UpdateVariant(w http.ResponseWriter, r *http.Request) {
	var body variantBody
	if err := httpx.DecodeJSON(w, r, &body, 16<<10); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.Licenses.UpdateVariant(r.Context(), r.PathValue("appId"), r.PathValue("variantId"), licenses.VariantPatch{
		Name: body.Name, Description: body.Description, Duration: body.Duration, DefaultDuration: body.DefaultDuration})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.variantWithCounts(w, r, http.StatusOK, v)
}

// DeleteVariant is DELETE /api/developer/applications/{appId}/licenses/variants/{variantId}
// [?force=true]: 200 {"ok":true}; 409 variant_has_active_codes without force.
func (a *API) DeleteVariant(w http.ResponseWriter, r *http.Request) {
	force := false
	qs, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if v := qs.Get("force"); v != "" {
		var err error
		if force, err = strconv.ParseBool(v); err != nil {
			httpx.WriteError(w, r, apperr.New(apperr.Invalid, "force must be true or false"))
			return
		}
	}
	if err := a.Licenses.DeleteVariant(r.Context(), r.PathValue("appId"), r.PathValue("variantId"), force); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okJSON{OK: true})
}

// GenerateCodes is POST /api/developer/applications/{appId}/licenses/codes/generate with
// {"variantId","count":1..10000,"prefix"?}: 201 {"created","variantId","codes":[…]}.
func (a *API) GenerateCodes(w http.ResponseWriter, r *http.Request) {
	var body struct {
		VariantID string `json:"variantId"`
		Count     int    `json:"count"`
		Prefix    string `json:"prefix"`
	}
	if err := httpx.DecodeJSON(w, r, &body, 16<<10); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if body.VariantID == "" {
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "variantId is required"))
		return
	}
	g, err := a.Licenses.GenerateCodes(r.Context(), r.PathValue("appId"), licenses.GenerateInput{
		VariantID: body.VariantID, Count: body.Count, Prefix: body.Prefix})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		Created   int      `json:"created"`
		VariantID string   `json:"variantId"`
		Codes     []string `json:"codes"`
	}{len(g.Codes), g.Variant.ID, g.Codes})
}

// MaxUploadBody bounds a code upload: 10,000 codes of up to 64 characters with a variant column.
const MaxUploadBody = 2 << 20

// UploadCodes is POST /api/developer/applications/{appId}/licenses/codes/upload. The body is
// either JSON {"variantId","codes":[…]} or CSV (text/csv) with a header row naming a "code"
// column and optionally a "variant" column (variant id or name); CSV rows without a variant
// go to ?variantId=. Answers 200 {"created","duplicates":[codes],"invalid":[{line,code,reason}]}
// (line: 1-based index in "codes", or the CSV line number).
func (a *API) UploadCodes(w http.ResponseWriter, r *http.Request) {
	// Signed out, the body is not read (as ImportExistingUsers).
	if _, err := auth.RequireUser(r.Context()); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	// Nor for a developer who may not manage the application's licenses (the domain checks
	// again): 2 MiB read and parsed for an application one cannot touch is work for free.
	if _, err := a.Licenses.Authorize(r.Context(), r.PathValue("appId"), team.ManageLicenses); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var (
		variantID string
		rows      []licenses.UploadRow
	)
	switch mt {
	case "text/csv", "application/csv":
		qs, err := query(r)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		variantID = qs.Get("variantId")
		body, err := readCSV(http.MaxBytesReader(w, r.Body, MaxUploadBody), MaxUploadBody)
		if err != nil {
			httpx.WriteError(w, r, bodyErr(err))
			return
		}
		if rows, err = licenses.ReadCodesCSV(bytes.NewReader(body)); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
	case "application/json", "":
		var body struct {
			VariantID string      `json:"variantId"`
			Codes     uploadCodes `json:"codes"`
		}
		if err := httpx.DecodeJSON(w, r, &body, MaxUploadBody); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if body.VariantID == "" {
			httpx.WriteError(w, r, apperr.New(apperr.Invalid, "variantId is required"))
			return
		}
		variantID = body.VariantID
		rows = make([]licenses.UploadRow, len(body.Codes))
		for i, c := range body.Codes {
			rows[i] = licenses.UploadRow{Line: i + 1, Code: c}
		}
	default:
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "send application/json or text/csv"))
		return
	}
	res, err := a.Licenses.UploadCodes(r.Context(), r.PathValue("appId"), variantID, rows)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Created    int                   `json:"created"`
		Duplicates []string              `json:"duplicates"`
		Invalid    []licenses.InvalidRow `json:"invalid"`
	}{res.Created, res.Duplicates, res.Invalid})
}

// ListCodes is GET /api/developer/applications/{appId}/licenses/codes
// ?variantId=&state=&q=&limit=&cursor=: {"codes":[…],"total":n[,"nextCursor"]}, newest first.
func (a *API) ListCodes(w http.ResponseWriter, r *http.Request) {
	qs, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	in := licenses.CodeQuery{VariantID: qs.Get("variantId"), State: qs.Get("state"), Q: qs.Get("q")}
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			httpx.WriteError(w, r, apperr.New(apperr.Invalid, "limit must be between 1 and %d", licenses.MaxPage))
			return
		}
		in.First = &n
	}
	if v := qs.Get("cursor"); v != "" {
		in.AfterText = v
	}
	page, err := a.Licenses.ListCodes(r.Context(), r.PathValue("appId"), in)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	now := a.now()
	out := struct {
		Codes      []codeJSON `json:"codes"`
		Total      int        `json:"total"`
		NextCursor *string    `json:"nextCursor,omitempty"`
	}{Codes: make([]codeJSON, 0, len(page.Edges)), Total: page.TotalCount}
	for _, e := range page.Edges {
		c := e.Node
		cj := codeJSON{ID: c.ID, Code: c.Code, VariantID: c.VariantID, State: string(licenses.EffectiveState(c, now)),
			Source: string(c.Source), CreatedAt: httpx.Time(c.CreatedAt), ActivatedAt: httpx.TimePtr(c.ActivatedAt), ExpiresAt: httpx.TimePtr(c.ExpiresAt)}
		if c.Edges.Variant != nil {
			cj.VariantName = c.Edges.Variant.Name
		}
		o, err := a.Licenses.OwnerOf(r.Context(), c)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if o != nil {
			cj.Owner = &ownerJSON{ConnectionID: o.ConnectionID, GlobalID: o.GlobalID, Email: o.Email}
			if o.Name != "" {
				cj.Owner.Name = &o.Name
			}
		}
		out.Codes = append(out.Codes, cj)
	}
	out.NextCursor = store.NextCursor(page.PageInfo)
	httpx.WriteJSON(w, http.StatusOK, out)
}

// DeleteCode is DELETE /api/developer/applications/{appId}/licenses/codes/{codeId}: 200
// {"ok":true}; 409 code_not_unused once redeemed.
func (a *API) DeleteCode(w http.ResponseWriter, r *http.Request) {
	if err := a.Licenses.DeleteCode(r.Context(), r.PathValue("appId"), r.PathValue("codeId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okJSON{OK: true})
}

// writeLicenseError writes an error of the person's license routes (/api/user/licenses/…):
// {"error","message"} as on the other REST routes, except an outage, which answers as every
// other outage on /api/user… does, whether it meets the Bearer check (writeOAuthError), the
// session check (httpx.WriteUnavailable) or the handler: 503
// {"error":"temporarily_unavailable","error_description"} with Retry-After (README "When a
// dependency is down"). Before, an outage met in the handler answered {"error","message"}, so
// one route answered two 503 shapes depending on which store failed first.
func writeLicenseError(w http.ResponseWriter, r *http.Request, err error) {
	if httpx.AnswerClientGone(w, r, nil, err) {
		return
	}
	if e := httpx.Unavailable(r, err, apperr.As(err)); e.Code == apperr.Unavailable {
		writeAppError(w, r, e)
		return
	}
	httpx.WriteError(w, r, err)
}

// applicationParam is the application a session-authenticated person asks about:
// ?client_id= or ?applicationId=, and in a body (Redeem) "client_id" or "applicationId". Two
// of them naming different applications, or a parameter given twice, are 400: the route never
// picks one of two applications.
func applicationParam(r *http.Request, body ...string) (string, error) {
	qs, err := query(r)
	if err != nil {
		return "", err
	}
	app := ""
	for _, v := range append([]string{qs.Get("client_id"), qs.Get("applicationId")}, body...) {
		switch {
		case v == "" || v == app:
		case app != "":
			return "", apperr.New(apperr.Invalid, "client_id and applicationId name different applications")
		default:
			app = v
		}
	}
	return app, nil
}

// Subscriptions is GET /api/user/licenses/subscriptions: the caller's entitlements for one
// application, with effective state and expiry. The caller is the Bearer token's connection,
// or the session's person and ?client_id= (or ?applicationId=).
func (a *API) Subscriptions(w http.ResponseWriter, r *http.Request) {
	appID, err := applicationParam(r)
	if err != nil {
		writeLicenseError(w, r, err)
		return
	}
	conn, codes, err := a.Licenses.Subscriptions(r.Context(), appID)
	if err != nil {
		writeLicenseError(w, r, err)
		return
	}
	now := a.now()
	out := struct {
		ApplicationID string        `json:"applicationId"`
		ConnectionID  string        `json:"connectionId"`
		Subscriptions []licenseJSON `json:"subscriptions"`
	}{conn.ApplicationID, conn.ID, make([]licenseJSON, len(codes))}
	for i, c := range codes {
		out.Subscriptions[i] = toLicenseJSON(c, now)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, out)
}

// Redeem is POST /api/user/licenses/redeem with {"code", "client_id"?/"applicationId"?}
// (the application may also be a query parameter): 200 with the license; 400 invalid_code,
// 404 code_not_found, 409 code_already_used, 409 too_many_licenses (licenses.MaxPerConnection),
// 410 code_expired, 429 rate_limited.
func (a *API) Redeem(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code          string `json:"code"`
		ClientID      string `json:"client_id"`
		ApplicationID string `json:"applicationId"`
	}
	if err := httpx.DecodeJSON(w, r, &body, 4<<10); err != nil {
		writeLicenseError(w, r, err)
		return
	}
	appID, err := applicationParam(r, body.ClientID, body.ApplicationID)
	if err != nil {
		writeLicenseError(w, r, err)
		return
	}
	c, err := a.Licenses.Redeem(r.Context(), appID, body.Code)
	if err != nil {
		writeLicenseError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, toLicenseJSON(c, a.now()))
}

// uploadCodes is the "codes" array of a JSON code upload, decoded one code at a time and
// refused at its licenses.MaxUpload+1st with the domain's Invalid: decoded whole, 2 MiB of
// "", made 700,000 strings and some 70 MiB of allocations before the domain counted them.
type uploadCodes []string

func (u *uploadCodes) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null: no codes
		*u = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return apperr.New(apperr.Invalid, "field \"codes\" must be an array of strings")
	}
	out := uploadCodes{}
	for dec.More() {
		if len(out) == licenses.MaxUpload {
			return apperr.New(apperr.Invalid, "at most %d codes per upload", licenses.MaxUpload)
		}
		var c string
		if err := dec.Decode(&c); err != nil {
			return elementError(err, "codes", "an array of strings")
		}
		out = append(out, c)
	}
	*u = out
	return nil
}
