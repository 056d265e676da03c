package licenses

import (
	"errors"
	"io"

	"loginsign/internal/apperr"
	"loginsign/internal/csvtable"
)

// codeColumns are the header names of a code upload.
var codeColumns = csvtable.Columns{"code": "code", "variant": "variant", "variantid": "variant", "variant_id": "variant"}

// ReadCodesCSV reads a code upload (csvtable): a header row naming a "code" column and
// optionally a "variant" column (variant id or name), then one code per row. Each row keeps
// its line number. Errors are apperr Invalid: no header, no "code" column, malformed CSV, more
// than MaxUpload codes.
func ReadCodesCSV(r io.Reader) ([]UploadRow, error) {
	t, err := csvtable.Read(r, codeColumns, MaxUpload)
	switch {
	case errors.Is(err, csvtable.ErrTooManyRows):
		return nil, apperr.New(apperr.Invalid, "at most %d codes per upload", MaxUpload)
	case err != nil:
		return nil, err
	case t.Empty:
		return nil, apperr.New(apperr.Invalid, "the CSV needs a header row with a \"code\" column")
	case !t.Has("code"):
		return nil, apperr.New(apperr.Invalid, "the CSV header has no \"code\" column")
	}
	rows := make([]UploadRow, len(t.Rows))
	for i, row := range t.Rows {
		rows[i] = UploadRow{Line: row.Line, Code: t.Get(row, "code", nil), Variant: t.Get(row, "variant", nil)}
	}
	return rows, nil
}
