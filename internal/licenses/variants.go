package licenses

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/predicate"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/displaytext"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// CodeCounts counts a variant's codes by effective state.
type CodeCounts struct {
	Unused, Active, Expired int
}

// VariantInput creates a variant. Duration is MONTH, YEAR or LIFETIME (default LIFETIME).
type VariantInput struct {
	Name        string
	Description string
	Duration    string
	// DefaultDuration is the REST routes' other name for Duration (README, Variants): giving
	// both is Invalid, naming both (oneDuration).
	DefaultDuration *string
}

// VariantPatch changes the fields that are set. DefaultDuration is Duration under its other
// name, as in VariantInput.
type VariantPatch struct {
	Name            *string
	Description     *string
	Duration        *string
	DefaultDuration *string
}

// oneDuration is the duration a request gave under one of its two names (duration, or the
// REST routes' defaultDuration), nil when it gave neither. Both given is Invalid, naming both:
// before, duration silently won, and a developer who sent defaultDuration YEAR beside a
// leftover duration MONTH got a monthly variant.
func oneDuration(duration, defaultDuration *string) (*string, error) {
	if duration != nil && defaultDuration != nil {
		return nil, apperr.New(apperr.Invalid, "give duration or defaultDuration, not both")
	}
	if duration != nil {
		return duration, nil
	}
	return defaultDuration, nil
}

// ListVariants returns the variants of the signed-in developer's application appID by name,
// each with its application edge set to the row the role check read (GraphQL's
// licenseVariants { application } reads no row per variant).
func (s *Service) ListVariants(ctx context.Context, appID string) ([]*ent.LicenseVariant, error) {
	app, err := s.Authorize(ctx, appID, team.ReadLicenses)
	if err != nil {
		return nil, err
	}
	vs, err := s.DB.LicenseVariant.Query().Where(licensevariant.ApplicationID(app.ID)).
		Order(ent.Asc(licensevariant.FieldNameKey), ent.Asc(licensevariant.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		v.Edges.Application = app
	}
	return vs, nil
}

// Variant returns one variant of the developer's application.
func (s *Service) Variant(ctx context.Context, appID, variantID string) (*ent.LicenseVariant, error) {
	app, err := s.Authorize(ctx, appID, team.ReadLicenses)
	if err != nil {
		return nil, err
	}
	return variantOf(ctx, s.DB.Client, app.ID, variantID)
}

// VariantCodeCounts counts v's codes by effective state as the caller may see them: every code
// of the variant for the developer who owns its application; for anyone else (a customer who
// reached the variant through their own licenses) only the codes their connection to the
// application holds, so an application's stock stays its developer's business.
func (s *Service) VariantCodeCounts(ctx context.Context, v *ent.LicenseVariant) (CodeCounts, error) {
	counts, err := s.VariantsCodeCounts(ctx, []*ent.LicenseVariant{v})
	return counts[v.ID], err
}

// VariantsCodeCounts is VariantCodeCounts of each of vs, by variant id, in one role check, one
// holder lookup and two grouped counts per application (a list of variants, or a person's
// licenses, counted at once rather than three or four statements per variant).
func (s *Service) VariantsCodeCounts(ctx context.Context, vs []*ent.LicenseVariant) (map[string]CodeCounts, error) {
	byApp := map[string][]string{}
	var apps []string
	for _, v := range vs {
		if v == nil {
			continue
		}
		if _, ok := byApp[v.ApplicationID]; !ok {
			apps = append(apps, v.ApplicationID)
		}
		if !slices.Contains(byApp[v.ApplicationID], v.ID) {
			byApp[v.ApplicationID] = append(byApp[v.ApplicationID], v.ID)
		}
	}
	out := make(map[string]CodeCounts, len(vs))
	for _, appID := range apps {
		counts, err := s.appCodeCounts(ctx, appID, byApp[appID])
		if err != nil {
			return nil, err
		}
		for _, id := range byApp[appID] {
			out[id] = counts[id]
		}
	}
	return out, nil
}

// appCodeCounts counts variantIDs, all of appID, as VariantCodeCounts does.
func (s *Service) appCodeCounts(ctx context.Context, appID string, variantIDs []string) (map[string]CodeCounts, error) {
	_, err := s.Authorize(ctx, appID, team.ReadLicenses)
	switch {
	case err == nil:
		return s.CodeCounts(ctx, variantIDs...)
	case !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unauthorized):
		return nil, err
	}
	conn, err := s.Holder(ctx, appID)
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Unauthorized) || apperr.Is(err, apperr.Forbidden) {
		return map[string]CodeCounts{}, nil
	}
	if err != nil {
		return nil, err
	}
	return s.countCodes(ctx, []predicate.LicenseCode{licensecode.LinkedConnectionID(conn.ID)}, variantIDs...)
}

// CodeCounts counts the codes of variants by effective state, in one grouped query. It does
// not authorize: callers first check the developer's role on the variants' application
// (Service.Authorize).
func (s *Service) CodeCounts(ctx context.Context, variantIDs ...string) (map[string]CodeCounts, error) {
	return s.countCodes(ctx, nil, variantIDs...)
}

// countCodes counts the codes of variants that also match where, by effective state.
func (s *Service) countCodes(ctx context.Context, where []predicate.LicenseCode, variantIDs ...string) (map[string]CodeCounts, error) {
	now := s.now()
	out := make(map[string]CodeCounts, len(variantIDs))
	if len(variantIDs) == 0 {
		return out, nil
	}
	// Two grouped counts: all codes by state, then ACTIVE codes already past their expiry.
	var all, lapsed []struct {
		VariantID string `json:"variant_id"`
		State     string `json:"state"`
		Count     int    `json:"count"`
	}
	if err := s.DB.LicenseCode.Query().Where(licensecode.VariantIDIn(variantIDs...)).Where(where...).
		GroupBy(licensecode.FieldVariantID, licensecode.FieldState).Aggregate(ent.Count()).Scan(ctx, &all); err != nil {
		return nil, err
	}
	if err := s.DB.LicenseCode.Query().Where(licensecode.VariantIDIn(variantIDs...), licensecode.StateEQ(licensecode.StateACTIVE), licensecode.ExpiresAtLTE(now)).Where(where...).
		GroupBy(licensecode.FieldVariantID, licensecode.FieldState).Aggregate(ent.Count()).Scan(ctx, &lapsed); err != nil {
		return nil, err
	}
	for _, r := range all {
		c := out[r.VariantID]
		switch r.State {
		case Unused:
			c.Unused += r.Count
		case Active:
			c.Active += r.Count
		case Expired:
			c.Expired += r.Count
		}
		out[r.VariantID] = c
	}
	for _, r := range lapsed {
		c := out[r.VariantID]
		c.Active -= r.Count
		c.Expired += r.Count
		out[r.VariantID] = c
	}
	return out, nil
}

// checkVariantName returns a variant's name as it is kept: at most 100 characters under
// displaytext.Name (one line, trimmed, NFC; not LoginSign, no lookalike letters, links or
// phone numbers), the rule of application names. Customers see it in their licenses and
// developers in the portal, so a U+202E or a newline must not rearrange what it says, and it
// must not read as LoginSign's own words ("LoginSign Premium", "Call +1 555 010 0199").
// A stored name is checked again only when it is changed.
func checkVariantName(name string) (string, error) {
	name, err := displaytext.Name("name", name)
	if err != nil {
		return "", err
	}
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", apperr.New(apperr.Invalid, "name is required (at most 100 characters)")
	}
	return name, nil
}

// checkDescription is checkVariantName for a description: empty allowed, at most 2000
// characters.
func checkDescription(d string) (string, error) {
	d, err := displaytext.Name("description", d)
	if err != nil {
		return "", err
	}
	if utf8.RuneCountInString(d) > 2000 {
		return "", apperr.New(apperr.Invalid, "description is longer than 2000 characters")
	}
	return d, nil
}

func nameTaken(name string) error {
	return apperr.WithReason(apperr.Conflict, "variant_name_taken", "a variant named %q already exists", name)
}

// MaxVariants bounds an application's license variants: the variant list is not paged, and
// each variant's codeCounts is a query of its own.
const MaxVariants = 100

// CreateVariant adds a variant to the developer's application. Names are unique per
// application, compared case-insensitively (409 variant_name_taken); an application has at
// most MaxVariants (Invalid past them). A creation, like a deletion (DeleteVariant), counts
// against the developer's writes (team.TakeWrite): creating and deleting in a loop recorded
// an activity event each time without end.
func (s *Service) CreateVariant(ctx context.Context, appID string, in VariantInput) (*ent.LicenseVariant, error) {
	name, err := checkVariantName(in.Name)
	if err != nil {
		return nil, err
	}
	desc, err := checkDescription(in.Description)
	if err != nil {
		return nil, err
	}
	var given *string
	if in.Duration != "" {
		given = &in.Duration
	}
	if given, err = oneDuration(given, in.DefaultDuration); err != nil {
		return nil, err
	}
	var text string
	if given != nil {
		text = *given
	}
	d, err := ParseDuration(text, licensevariant.DurationLIFETIME)
	if err != nil {
		return nil, err
	}
	var v *ent.LicenseVariant
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.ManageLicenses)
		if err != nil {
			return err
		}
		if err := team.TakeWrite(ctx, s.Limiter, s.Writes); err != nil {
			return err
		}
		v, err = s.createVariant(ctx, tx, app.ID, name, desc, d)
		return err
	})
	if store.Conflict(err) {
		return nil, nameTaken(name)
	}
	if err != nil {
		return nil, err
	}
	// v was written in the committed tx: its edges (GraphQL's variant { application }) are
	// read through the client, not through tx (an internal error).
	return v.Unwrap(), nil
}

// createVariant adds the variant name (already checked) to application appID inside tx,
// unless the application has MaxVariants already (Invalid). Every creation goes through it:
// the developer's CreateVariant and the app backend's status sync. On PostgreSQL it locks the
// application row first, so creations for one application take turns and the count stays
// exact (SQLite transactions already take turns: BEGIN IMMEDIATE). A name taken meanwhile
// fails on the unique index (store.Conflict).
func (s *Service) createVariant(ctx context.Context, tx *ent.Tx, appID, name, desc string, d licensevariant.Duration) (*ent.LicenseVariant, error) {
	if s.DB.Dialect == dialect.Postgres {
		if _, err := tx.Application.Query().Where(application.ID(appID)).ForUpdate().Only(ctx); err != nil {
			return nil, store.Err(err, "application")
		}
	}
	n, err := tx.LicenseVariant.Query().Where(licensevariant.ApplicationID(appID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if n >= MaxVariants {
		return nil, apperr.New(apperr.Invalid, "an application has at most %d license variants; delete one first", MaxVariants)
	}
	return tx.LicenseVariant.Create().SetApplicationID(appID).SetName(name).SetNameKey(strings.ToLower(name)).
		SetDescription(desc).SetDuration(d).Save(ctx)
}

// UpdateVariant changes a variant of the developer's application.
func (s *Service) UpdateVariant(ctx context.Context, appID, variantID string, p VariantPatch) (*ent.LicenseVariant, error) {
	var err error
	if p.Duration, err = oneDuration(p.Duration, p.DefaultDuration); err != nil {
		return nil, err
	}
	if p.Name == nil && p.Description == nil && p.Duration == nil {
		return nil, apperr.New(apperr.Invalid, "set at least one of name, description, duration")
	}
	var name, desc string
	var d licensevariant.Duration
	// A name or description sent as it is stored passes, whatever rule it was saved under: a
	// client that sends every field to change only the duration was refused for a description
	// saved before displaytext.Name applied to it ("a stored name keeps working until it is
	// changed"). nameErr and descErr are the rule's answers, given only when the text (one
	// line, displaytext.Line) differs from the stored one.
	var nameErr, descErr error
	if p.Name != nil {
		if name, nameErr = checkVariantName(*p.Name); nameErr != nil {
			if name, err = displaytext.Line("name", *p.Name); err != nil || name == "" {
				return nil, nameErr
			}
		}
	}
	if p.Description != nil {
		if desc, descErr = checkDescription(*p.Description); descErr != nil {
			if desc, err = displaytext.Line("description", *p.Description); err != nil {
				return nil, descErr
			}
		}
	}
	if p.Duration != nil {
		if d, err = ParseDuration(*p.Duration, ""); err != nil || d == "" {
			return nil, apperr.New(apperr.Invalid, "duration must be MONTH, YEAR or LIFETIME")
		}
	}
	var v *ent.LicenseVariant
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.ManageLicenses)
		if err != nil {
			return err
		}
		if v, err = variantOf(ctx, tx.Client(), app.ID, variantID); err != nil {
			return err
		}
		if p.Name != nil && nameErr != nil && name != v.Name {
			return nameErr
		}
		if p.Description != nil && descErr != nil && desc != v.Description {
			return descErr
		}
		up := tx.LicenseVariant.UpdateOne(v)
		if p.Name != nil {
			up.SetName(name).SetNameKey(strings.ToLower(name))
		}
		if p.Description != nil {
			up.SetDescription(desc)
		}
		if p.Duration != nil {
			up.SetDuration(d)
		}
		v, err = up.Save(ctx)
		return err
	})
	if store.Conflict(err) {
		return nil, nameTaken(name)
	}
	if err != nil {
		return nil, store.Err(err, "license variant")
	}
	return v.Unwrap(), nil // written in the committed tx, as CreateVariant's
}

// DeleteVariant deletes a variant and its codes. While any of its codes is in effect it
// answers 409 variant_has_active_codes, unless force, which also ends those entitlements.
// It needs a recent sign-in (auth.RequireRecentSignIn), checked after the role: it destroys
// the variant's unused codes, which customers may have paid for and not yet redeemed, and
// with force the licenses people hold, as ending their connections does.
func (s *Service) DeleteVariant(ctx context.Context, appID, variantID string, force bool) error {
	now := s.now()
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.ManageLicenses)
		if err != nil {
			return err
		}
		if _, err := auth.RequireRecentSignIn(ctx, now); err != nil {
			return err
		}
		v, err := variantOf(ctx, tx.Client(), app.ID, variantID)
		if err != nil {
			return err
		}
		if err := team.TakeWrite(ctx, s.Limiter, s.Writes); err != nil {
			return err
		}
		// A forced delete takes licenses away from the people who redeemed them: the log says
		// so and how many, apart from an ordinary delete.
		active := 0
		if force {
			held, err := tx.LicenseCode.Query().Where(licensecode.VariantID(v.ID), activeAt(now)).WithLinkedConnection().All(ctx)
			if err != nil {
				return err
			}
			active = len(held)
			// Each person whose license this ends sees it in their own activity.
			for _, c := range held {
				conn := c.Edges.LinkedConnection
				if conn == nil {
					continue
				}
				if err := activity.Record(ctx, tx, activity.Event{Type: activity.LicenseEnded, Actor: activity.ByDeveloper,
					UserID: conn.UserID, ApplicationID: app.ID, ConnectionID: conn.ID,
					Details: map[string]string{"name": v.Name, "outcome": "variant_deleted"}, At: now}); err != nil {
					return err
				}
			}
		}
		del := tx.LicenseCode.Delete().Where(licensecode.VariantID(v.ID))
		if !force {
			// Delete what is not in effect, then refuse if anything is left: a redemption
			// that commits meanwhile leaves its code behind and so still refuses.
			del.Where(licensecode.Not(activeAt(now)))
		}
		if _, err := del.Exec(ctx); err != nil {
			return err
		}
		if !force {
			n, err := tx.LicenseCode.Query().Where(licensecode.VariantID(v.ID)).Count(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				return apperr.WithReason(apperr.Conflict, "variant_has_active_codes",
					"%d codes of this variant are active; pass force=true to delete them too", n)
			}
		}
		if err := tx.LicenseVariant.DeleteOneID(v.ID).Exec(ctx); err != nil {
			return err
		}
		details := map[string]string{"action": "variant_deleted", "name": v.Name}
		if active > 0 {
			details["action"], details["count"] = "variant_force_deleted", strconv.Itoa(active)
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.LicenseAction, Actor: activity.ByDeveloper, ApplicationID: app.ID,
			Details: details, At: now})
	})
}
