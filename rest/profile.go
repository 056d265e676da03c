package rest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/httpx"
	"loginsign/internal/profile"
)

// profileJSON is the profile as the REST routes answer it.
type profileJSON struct {
	Name       *string `json:"name"`
	PictureURL *string `json:"pictureUrl"`
	Region     *string `json:"region"`
	RegionName *string `json:"regionName"`
}

func profileOf(v profile.View) profileJSON {
	return profileJSON{Name: nullable(v.Name), PictureURL: nullable(v.PictureURL), Region: nullable(v.Region), RegionName: nullable(v.RegionName)}
}

// UploadPicture is PUT /api/profile/picture: the signed-in person's new picture as the raw
// body (the session cookie; an app's token cannot). A body longer than
// profile.MaxPictureBytes is refused with 413 before it is read (Content-Length) or as soon as
// one byte too many arrives; everything else is profile.Service.SetPicture's rule.
func (a *API) UploadPicture(w http.ResponseWriter, r *http.Request) {
	if _, err := auth.RequireUser(r.Context()); err != nil {
		httpx.WritePersonError(w, r, err)
		return
	}
	tooLarge := apperr.WithReason(apperr.TooLarge, "picture_too_large", "the picture is larger than %d KiB", profile.MaxPictureBytes>>10)
	if r.ContentLength > profile.MaxPictureBytes {
		w.Header().Set("Connection", "close")
		httpx.WritePersonError(w, r, tooLarge)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, profile.MaxPictureBytes))
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		httpx.WritePersonError(w, r, tooLarge)
		return
	case err != nil:
		httpx.WritePersonError(w, r, apperr.New(apperr.Invalid, "could not read the request body"))
		return
	}
	v, err := a.Profiles.SetPicture(r.Context(), raw)
	if err != nil {
		httpx.WritePersonError(w, r, err)
		return
	}
	writeNoStoreJSON(w, http.StatusOK, profileOf(v))
}

// RemovePicture is DELETE /api/profile/picture (session cookie).
func (a *API) RemovePicture(w http.ResponseWriter, r *http.Request) {
	v, err := a.Profiles.RemovePicture(r.Context())
	if err != nil {
		httpx.WritePersonError(w, r, err)
		return
	}
	writeNoStoreJSON(w, http.StatusOK, profileOf(v))
}

// Picture is GET /pictures/{pictureId}: a stored picture, public (its URL is unguessable and
// changes with every upload). Caches may keep it but must revalidate it (ETag, a cheap 304)
// before every use, so a picture the person removed or replaced stops being shown at once
// rather than lingering in shared caches for a day. nosniff and a sandboxing CSP keep a
// browser from treating it as anything but an image.
func (a *API) Picture(w http.ResponseWriter, r *http.Request) {
	p, err := a.Profiles.PictureByID(r.Context(), r.PathValue("pictureId"))
	if err != nil {
		httpx.WritePersonError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", p.ETag)
	h.Set("Cache-Control", PictureCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Last-Modified", p.Created.UTC().Format(http.TimeFormat))
	if etagMatches(r.Header.Get("If-None-Match"), p.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", p.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(p.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(p.Data)
	}
}

// PictureCacheControl is the Cache-Control of a served picture: cacheable, revalidated on
// every use.
const PictureCacheControl = "public, no-cache"

// etagMatches reports whether an If-None-Match header names etag (weak comparison, RFC 9110
// §13.1.2) or is "*".
func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" || part == etag {
			return true
		}
	}
	return false
}
