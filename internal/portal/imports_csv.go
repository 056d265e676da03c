package portal

import (
	"errors"
	"io"
	"maps"
	"slices"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// importColumns are the header names of an import CSV.
var importColumns = csvtable.Columns{
	"user_id": "user_id", "userid": "user_id", "external_user_id": "user_id", "externaluserid": "user_id", "id": "user_id",
	"email": "email", "e_mail": "email", "name": "name",
	"registration_date": "registration_date", "registrationdate": "registration_date",
	"last_login_date": "last_login_date", "lastlogindate": "last_login_date",
}

// ImportHeaderNames are the names an import CSV's first row may give its columns (lower case,
// "_" for "-" and " ", as csvtable compares them), sorted. A first row naming any of them is
// the header row; the portal's page counts a chosen file's rows by the same rule.
func ImportHeaderNames() []string {
	return slices.Sorted(maps.Keys(importColumns))
}

// importOrder is the column order of an import CSV without a header row.
var importOrder = map[string]int{"user_id": 0, "email": 1, "name": 2, "registration_date": 3, "last_login_date": 4}

// ParseImportCSV reads an import CSV (csvtable): columns user_id and email (required), name,
// registration_date, last_login_date. The delimiter (comma or semicolon) and the header row are
// detected; without a header the columns are in that order. More than MaxImportRows data rows
// answer TooLarge; malformed CSV answers Invalid with the line.
func ParseImportCSV(r io.Reader) ([]ImportUser, error) {
	t, err := csvtable.Read(r, importColumns, MaxImportRows)
	switch {
	case errors.Is(err, csvtable.ErrTooManyRows):
		return nil, apperr.New(apperr.TooLarge, "at most %d rows per import", MaxImportRows)
	case err != nil:
		return nil, err
	case t.Empty:
		return nil, apperr.New(apperr.Invalid, "the CSV is empty")
	case t.Header != nil && (!t.Has("user_id") || !t.Has("email")):
		return nil, apperr.New(apperr.Invalid, "bad CSV: the header row needs user_id and email columns")
	case len(t.Rows) == 0:
		return nil, apperr.New(apperr.Invalid, "the CSV holds no rows")
	}
	out := make([]ImportUser, len(t.Rows))
	for i, row := range t.Rows {
		get := func(k string) string { return t.Get(row, k, importOrder) }
		out[i] = ImportUser{ExternalUserID: get("user_id"), Email: get("email"), Name: get("name"),
			RegistrationDate: get("registration_date"), LastLoginDate: get("last_login_date")}
	}
	return out, nil
}
