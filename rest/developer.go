package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
	"loginsign/internal/portal"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Developer Portal REST (/api/developer/…, session cookie): each handler parses, calls the
// portal domain operation its GraphQL twin calls, and writes the documented JSON.

// developerApplication is an application as the portal routes show it.
type developerApplication struct {
	ID             string   `json:"id"`
	ClientID       string   `json:"clientId"`
	Name           string   `json:"name"`
	Website        *string  `json:"website"`
	IconURL        *string  `json:"iconUrl"`
	TermsURL       *string  `json:"termsUrl"`
	PrivacyURL     *string  `json:"privacyUrl"`
	RedirectURIs   []string `json:"redirectUris"`
	AllowedOrigins []string `json:"allowedOrigins"`
	WebhookURL     *string  `json:"webhookUrl"`
	// IDTokenSigningAlg is ES256 or RS256.
	IDTokenSigningAlg      string   `json:"idTokenSigningAlg"`
	PostLogoutRedirectURIs []string `json:"postLogoutRedirectUris"`
	BackchannelLogoutURI   *string  `json:"backchannelLogoutUri"`
	// ClientRequestsPerMinute is the quota of successful client-authenticated requests.
	ClientRequestsPerMinute            int  `json:"clientRequestsPerMinute"`
	RequirePushedAuthorizationRequests bool `json:"requirePushedAuthorizationRequests"`
	// DeletingSince is set while the application's deletion, begun then, has not ended
	// (a failed one is finished by the same DELETE again).
	DeletingSince *string `json:"deletingSince,omitempty"`
	CreatedAt     string  `json:"createdAt"`
	UpdatedAt     string  `json:"updatedAt"`
	// Role is the signed-in developer's role on the application (owner, admin, developer, support).
	Role string `json:"role,omitempty"`
	// Secrets appear only in the answer that created them.
	ClientSecret  string `json:"clientSecret,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
}

func toDeveloperApplication(a *ent.Application) developerApplication {
	out := developerApplication{
		ID: a.ID, ClientID: a.ID, Name: a.Name, Website: nullable(a.Website), IconURL: nullable(a.IconURL),
		TermsURL: nullable(a.TermsURL), PrivacyURL: nullable(a.PrivacyURL),
		RedirectURIs: nonNil(a.RedirectUris), AllowedOrigins: nonNil(a.AllowedOrigins), WebhookURL: nullable(a.WebhookURL),
		IDTokenSigningAlg: a.IDTokenSigningAlg, PostLogoutRedirectURIs: nonNil(a.PostLogoutRedirectUris),
		BackchannelLogoutURI:               nullable(a.BackchannelLogoutURI),
		ClientRequestsPerMinute:            a.ClientRequestsPerMinute,
		RequirePushedAuthorizationRequests: a.RequirePushedAuthorizationRequests,
		CreatedAt:                          httpx.Time(a.CreatedAt), UpdatedAt: httpx.Time(a.UpdatedAt),
	}
	if a.DeletingSince != nil {
		t := httpx.Time(*a.DeletingSince)
		out.DeletingSince = &t
	}
	return out
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type okBody struct {
	OK bool `json:"ok"`
}

// DeveloperApplications answers GET /api/developer/applications[?limit=&cursor=]: the
// signed-in developer's applications, newest first, a page of at most limit (1–100, default
// 100) with the next page's cursor.
func (a *API) DeveloperApplications(w http.ResponseWriter, r *http.Request) {
	first, after, err := listPage(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	conn, err := a.Portal.Applications(r.Context(), first, after)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := struct {
		Applications []developerApplication `json:"applications"`
		NextCursor   *string                `json:"nextCursor"`
	}{Applications: []developerApplication{}, NextCursor: store.NextCursor(conn.PageInfo)}
	for _, e := range conn.Edges {
		v, err := a.viewApplication(r, e.Node)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		out.Applications = append(out.Applications, v)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// listPage reads the page of a developer's list from ?limit= (1 to portal.MaxListPage; the
// domain's page when absent) and ?cursor= (the previous page's nextCursor).
func listPage(r *http.Request) (first *int, after *store.Cursor, err error) {
	q, err := query(r)
	if err != nil {
		return nil, nil, err
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > portal.MaxListPage {
			return nil, nil, apperr.New(apperr.Invalid, "limit must be a number from 1 to %d", portal.MaxListPage)
		}
		first = &n
	}
	after, err = store.ParseCursor(q.Get("cursor"), "cursor is not one this API returned")
	return first, after, err
}

// applicationBody is the JSON of POST and PATCH /api/developer/applications[/:appId]. In a
// PATCH, absent (or null) fields stay as they are.
type applicationBody struct {
	Name           *string          `json:"name"`
	Website        *string          `json:"website"`
	IconURL        *string          `json:"iconUrl"`
	TermsURL       *string          `json:"termsUrl"`
	PrivacyURL     *string          `json:"privacyUrl"`
	RedirectURIs   *redirectURIList `json:"redirectUris"`
	AllowedOrigins *originList      `json:"allowedOrigins"`
	WebhookURL     *string          `json:"webhookUrl"`
	// IDTokenSigningAlg is ES256 (the default) or RS256.
	IDTokenSigningAlg      *string        `json:"idTokenSigningAlg"`
	PostLogoutRedirectURIs *logoutURIList `json:"postLogoutRedirectUris"`
	BackchannelLogoutURI   *string        `json:"backchannelLogoutUri"`
	// ClientRequestsPerMinute is read by PATCH only.
	ClientRequestsPerMinute            *int  `json:"clientRequestsPerMinute"`
	RequirePushedAuthorizationRequests *bool `json:"requirePushedAuthorizationRequests"`
}

// maxURIListItems is the most entries any of an application's lists may have (portal:
// redirect URIs, post-logout redirect URIs, allowed origins).
const maxURIListItems = max(portal.MaxRedirectURIs, portal.MaxPostLogoutRedirectURIs, portal.MaxAllowedOrigins)

// redirectURIList, logoutURIList and originList are an application's lists in a request body
// (redirectUris, postLogoutRedirectUris, allowedOrigins), decoded by decodeURIList.
type (
	redirectURIList []string
	logoutURIList   []string
	originList      []string
)

func (l *redirectURIList) UnmarshalJSON(b []byte) error {
	return decodeURIList(b, "redirectUris", (*[]string)(l))
}

func (l *logoutURIList) UnmarshalJSON(b []byte) error {
	return decodeURIList(b, "postLogoutRedirectUris", (*[]string)(l))
}

func (l *originList) UnmarshalJSON(b []byte) error {
	return decodeURIList(b, "allowedOrigins", (*[]string)(l))
}

// decodeURIList decodes the JSON array b of strings (the list field) into out one entry at a
// time, and no further than maxURIListItems+1 entries: the domain refuses a list that long
// with its own message ("at most 50 redirect URIs"), so the entries past it are never decoded.
// Decoded whole, a 1 MiB body of "" made 350,000 strings and some 31 MiB of allocations (8 MiB
// for a 1 MiB body of one long string) before the domain counted them; now about 4 MiB.
func decodeURIList(b []byte, field string, out *[]string) error {
	wrong := apperr.New(apperr.Invalid, "field %q must be an array of strings", field)
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil {
		return err
	} else if d, ok := tok.(json.Delim); !ok || d != '[' {
		return wrong // null never gets here: the field is a pointer, left nil
	}
	list := []string{}
	for len(list) <= maxURIListItems && dec.More() {
		var s string
		if err := dec.Decode(&s); err != nil {
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return wrong
			}
			return err
		}
		list = append(list, s)
	}
	*out = list
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CreateDeveloperApplication answers POST /api/developer/applications: 201 with the
// application and its one-time clientSecret (and webhookSecret when a webhook URL was given).
func (a *API) CreateDeveloperApplication(w http.ResponseWriter, r *http.Request) {
	var b applicationBody
	if err := httpx.DecodeJSON(w, r, &b, 0); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if b.ClientRequestsPerMinute != nil {
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "clientRequestsPerMinute is set with PATCH once the application exists"))
		return
	}
	created, err := a.Portal.CreateApplication(r.Context(), portal.ApplicationInput{
		Name: deref(b.Name), Website: deref(b.Website), IconURL: deref(b.IconURL), TermsURL: deref(b.TermsURL),
		PrivacyURL: deref(b.PrivacyURL), RedirectURIs: []string(deref(b.RedirectURIs)), AllowedOrigins: []string(deref(b.AllowedOrigins)),
		WebhookURL: deref(b.WebhookURL), IDTokenSigningAlg: deref(b.IDTokenSigningAlg),
		PostLogoutRedirectURIs: []string(deref(b.PostLogoutRedirectURIs)), BackchannelLogoutURI: deref(b.BackchannelLogoutURI),
		RequirePushedAuthorizationRequests: deref(b.RequirePushedAuthorizationRequests),
	})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.viewApplication(r, created.Application)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out.ClientSecret, out.WebhookSecret = created.ClientSecret, created.WebhookSecret
	httpx.WriteJSON(w, http.StatusCreated, out)
}

// DeveloperApplication answers GET /api/developer/applications/:appId.
func (a *API) DeveloperApplication(w http.ResponseWriter, r *http.Request) {
	app, err := a.Portal.Authorize(r.Context(), r.PathValue("appId"), team.ReadApp)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := a.viewApplication(r, app)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

// UpdateDeveloperApplication answers PATCH /api/developer/applications/:appId with the
// application; webhookSecret appears when this update set the first webhook URL.
func (a *API) UpdateDeveloperApplication(w http.ResponseWriter, r *http.Request) {
	var b applicationBody
	if err := httpx.DecodeJSON(w, r, &b, 0); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p := portal.ApplicationPatch{Name: b.Name, Website: b.Website, IconURL: b.IconURL, TermsURL: b.TermsURL,
		PrivacyURL: b.PrivacyURL, WebhookURL: b.WebhookURL, ClientRequestsPerMinute: b.ClientRequestsPerMinute,
		IDTokenSigningAlg: b.IDTokenSigningAlg, BackchannelLogoutURI: b.BackchannelLogoutURI,
		RequirePushedAuthorizationRequests: b.RequirePushedAuthorizationRequests}
	if b.PostLogoutRedirectURIs != nil {
		p.PostLogoutRedirectURIs = nonNil([]string(*b.PostLogoutRedirectURIs))
	}
	if b.RedirectURIs != nil {
		p.RedirectURIs = nonNil([]string(*b.RedirectURIs))
	}
	if b.AllowedOrigins != nil {
		p.AllowedOrigins = nonNil([]string(*b.AllowedOrigins))
	}
	updated, err := a.Portal.UpdateApplication(r.Context(), r.PathValue("appId"), p)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out, err := a.viewApplication(r, updated.Application)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out.WebhookSecret = updated.WebhookSecret
	httpx.WriteJSON(w, http.StatusOK, out)
}

// DeleteDeveloperApplication answers DELETE /api/developer/applications/:appId with {"ok":true}.
func (a *API) DeleteDeveloperApplication(w http.ResponseWriter, r *http.Request) {
	if err := a.Portal.DeleteApplication(r.Context(), r.PathValue("appId")); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, okBody{OK: true})
}

// RotateClientSecret answers POST /api/developer/applications/:appId/secret/rotate with
// {"id","clientSecret"}; the secret is shown this once.
func (a *API) RotateClientSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := a.Portal.RotateClientSecret(r.Context(), r.PathValue("appId"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("appId"), "clientSecret": secret})
}

// rotatedWebhookSecret is the answer of a webhook secret reset.
type rotatedWebhookSecret struct {
	ID                       string     `json:"id"`
	WebhookSecret            string     `json:"webhookSecret"`
	PreviousSecretValidUntil *time.Time `json:"previousSecretValidUntil"`
}

// RotateWebhookSecret answers POST /api/developer/applications/:appId/webhook/secret/rotate
// with {"id","webhookSecret","previousSecretValidUntil"}; 409 when the application has no
// webhook URL. The replaced secret signs events too for a day unless ?revokePrevious=true.
func (a *API) RotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	var revoke bool
	qs, err := query(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	switch v := qs.Get("revokePrevious"); v {
	case "", "false":
	case "true":
		revoke = true
	default:
		httpx.WriteError(w, r, apperr.New(apperr.Invalid, "revokePrevious is true or false"))
		return
	}
	out, err := a.Portal.RotateWebhookSecret(r.Context(), r.PathValue("appId"), revoke)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, rotatedWebhookSecret{ID: r.PathValue("appId"), WebhookSecret: out.Secret,
		PreviousSecretValidUntil: out.PreviousValidUntil})
}

// viewApplication is app as the signed-in developer may see it (portal.AsViewer): with their
// role, and without the webhook URL when their role may not read webhooks.
func (a *API) viewApplication(r *http.Request, app *ent.Application) (developerApplication, error) {
	seen, role, err := a.Portal.AsViewer(r.Context(), app)
	if err != nil {
		return developerApplication{}, err
	}
	out := toDeveloperApplication(seen)
	out.Role = string(role)
	return out, nil
}
