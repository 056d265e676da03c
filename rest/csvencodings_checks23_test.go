package rest_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"testing"
)

// TestExcelsCSVFilesImportAsSaved (review helper cost23, checks23): a user list saved by Excel
// on Windows, as "CSV" (Windows-1252: é is the byte E9) or as "Unicode Text" (tab-separated
// UTF-16LE with a byte order mark), was refused with 400 "the CSV is not valid UTF-8"; both
// now import as their text, sent as text/csv or as the portal's multipart file, and a user id
// with an accent reads back as written.
func TestExcelsCSVFilesImportAsSaved(t *testing.T) {
	t.Parallel()
	windows1252 := []byte("user_id;email;name\r\nren\xe9-1;rene@example.com;Ren\xe9\r\n")
	unicodeText := []byte{0xff, 0xfe}
	for _, r := range "user_id\temail\tname\r\nrené-1\trene@example.com\tRené\r\n" {
		unicodeText = append(unicodeText, byte(r), byte(r>>8))
	}
	forRESTBackends(t, func(t *testing.T, e *restEnv) {
		app, _, dev := e.client(t)
		imp := "/api/developer/applications/" + app.ID + "/import-existing-users/csv"
		multipartOf := func(file []byte) (string, string) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			fw, _ := mw.CreateFormFile("file", "users.csv")
			fw.Write(file)
			mw.Close()
			return mw.FormDataContentType(), b.String()
		}
		for _, tc := range []struct {
			name string
			file []byte
		}{{"Windows-1252", windows1252}, {"UTF-16LE Unicode Text", unicodeText}} {
			for _, asMultipart := range []bool{false, true} {
				ct, body := "text/csv", string(tc.file)
				if asMultipart {
					ct, body = multipartOf(tc.file)
				}
				a := e.do(t, http.MethodPost, imp, ct, body, nil, dev)
				if a.status != 200 {
					t.Errorf("%s (multipart %v): %d %v, want 200", tc.name, asMultipart, a.status, a.body)
					continue
				}
				rows, _ := a.body["results"].([]any)
				if len(rows) != 1 || rows[0].(map[string]any)["externalUserId"] != "rené-1" || rows[0].(map[string]any)["email"] != "rene@example.com" {
					t.Errorf("%s (multipart %v): results %v, want one row of rené-1, rene@example.com", tc.name, asMultipart, a.body["results"])
				}
			}
		}
	})
}
