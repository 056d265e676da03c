package rest

import (
	"time"

	"loginsign/ent"
	"loginsign/internal/httpx"
	"loginsign/internal/licenses"
)

// The JSON of the license routes (spec §5.6, §5.7, §6): explicit request and response types,
// never ent structs.

// variantBody creates or changes a variant; defaultDuration is accepted for duration (both:
// Invalid, licenses.VariantInput).
type variantBody struct {
	Name            *string `json:"name"`
	Description     *string `json:"description"`
	Duration        *string `json:"duration"`
	DefaultDuration *string `json:"defaultDuration"`
}

// codeCounts is a variant's codes by effective state.
type codeCounts struct {
	Unused  int `json:"UNUSED"`
	Active  int `json:"ACTIVE"`
	Expired int `json:"EXPIRED"`
}

// variantJSON is a license variant of the portal routes (spec §5.6).
type variantJSON struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	Duration    string     `json:"duration"`
	CreatedAt   string     `json:"createdAt"`
	CodeCounts  codeCounts `json:"codeCounts"`
}

func toVariantJSON(v *ent.LicenseVariant, c licenses.CodeCounts) variantJSON {
	out := variantJSON{ID: v.ID, Name: v.Name, Duration: string(v.Duration), CreatedAt: httpx.Time(v.CreatedAt),
		CodeCounts: codeCounts{Unused: c.Unused, Active: c.Active, Expired: c.Expired}}
	if v.Description != "" {
		d := v.Description
		out.Description = &d
	}
	return out
}

type okJSON struct {
	OK bool `json:"ok"`
}

// ownerJSON is who holds a code, as a developer sees them.
type ownerJSON struct {
	ConnectionID string  `json:"connectionId"`
	GlobalID     string  `json:"globalId"`
	Name         *string `json:"name"`
	Email        string  `json:"email"`
}

// codeJSON is a license code of the portal routes (spec §5.7).
type codeJSON struct {
	ID          string     `json:"id"`
	Code        string     `json:"code"`
	VariantID   string     `json:"variantId"`
	VariantName string     `json:"variantName"`
	State       string     `json:"state"`
	Source      string     `json:"source"`
	CreatedAt   string     `json:"createdAt"`
	ActivatedAt *string    `json:"activatedAt"`
	ExpiresAt   *string    `json:"expiresAt"`
	Owner       *ownerJSON `json:"owner"`
}

// licenseJSON is an entitlement as its holder sees it.
type licenseJSON struct {
	ID          string     `json:"id"`
	Code        string     `json:"code"`
	Variant     variantRef `json:"variant"`
	State       string     `json:"state"`
	Source      string     `json:"source"`
	ActivatedAt *string    `json:"activatedAt"`
	ExpiresAt   *string    `json:"expiresAt"`
	// LinkedConnectionID is the connection holding the code (spec §6.1).
	LinkedConnectionID *string `json:"linkedConnectionId"`
}

func toLicenseJSON(c *ent.LicenseCode, now time.Time) licenseJSON {
	out := licenseJSON{ID: c.ID, Code: c.Code, State: string(licenses.EffectiveState(c, now)), Source: string(c.Source),
		ActivatedAt: httpx.TimePtr(c.ActivatedAt), ExpiresAt: httpx.TimePtr(c.ExpiresAt), LinkedConnectionID: c.LinkedConnectionID}
	if v := c.Edges.Variant; v != nil {
		out.Variant = variantRef{ID: v.ID, Name: v.Name, Duration: string(v.Duration)}
	}
	return out
}
