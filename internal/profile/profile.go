// Package profile is what a person says about themself: a display name, a picture and a
// country/region. Every change is the signed-in person's own (auth.RequireUser); apps see the
// name and the picture only with the profile scope (internal/oauth), and the region is
// reported on the person's connections (their `region`, an English country name) and so in
// the portal's Regions chart.
//
// Pictures are checked before any decoding work: the byte size first, then the dimensions from
// the header alone (image.DecodeConfig), so a small file that would decode into gigabytes of
// pixels (a decompression bomb) is refused without being decoded. An accepted picture is
// decoded with Go's image packages, scaled to fit 256×256 and re-encoded as a JPEG, so nothing
// a person uploads is ever served as sent. LoginSign serves it at /pictures/{id}.
package profile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // decoders for DecodeConfig and Decode
	"image/jpeg"
	_ "image/png"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/profilepicture"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// Limits of a picture upload and of the picture LoginSign keeps.
const (
	// MaxPictureBytes bounds an uploaded image file.
	MaxPictureBytes = 512 << 10
	// MaxPictureSide bounds each side of an uploaded image, and MaxPicturePixels its area,
	// both read from the header before decoding.
	MaxPictureSide   = 4096
	MaxPicturePixels = 16 << 20
	// PictureSide is the largest side of the stored picture.
	PictureSide = 256
	// MaxName bounds a display name (runes).
	MaxName = 200
	// PicturePath prefixes the URL of a stored picture: PicturePath + id.
	PicturePath = "/pictures/"
)

// Service is the profile domain.
type Service struct {
	DB *store.DB
	// BaseURL is LOGINSIGN_BASE_URL: picture URLs are absolute, on it.
	BaseURL string
	Now     func() time.Time
	// Limiter counts picture uploads per person under Uploads (default 20 per hour): decoding
	// and scaling is the costly part, so it is counted before any of it, refused uploads too.
	Limiter *ratelimit.Limiter
	Uploads ratelimit.Rule
}

// New returns the service.
func New(db *store.DB, k *kv.Store, baseURL string, now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{DB: db, BaseURL: strings.TrimRight(baseURL, "/"), Now: now, Limiter: ratelimit.New(k),
		Uploads: ratelimit.Rule{Name: "picture-upload", N: 20, Window: time.Hour}}
}

// View is a person's profile.
type View struct {
	Name       string
	PictureURL string
	Region     string // ISO 3166-1 alpha-2, "" when not chosen
	RegionName string // English name of Region
}

// Of returns userID's profile, to the signed-in person userID only: anyone else gets NotFound.
func (s *Service) Of(ctx context.Context, userID string) (View, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return View{}, err
	}
	if uid != userID {
		return View{}, apperr.New(apperr.NotFound, "user not found")
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return View{}, store.Err(err, "user")
	}
	return viewOf(u), nil
}

func viewOf(u *ent.User) View {
	return View{Name: u.Name, PictureURL: u.Image, Region: u.Region, RegionName: RegionName(u.Region)}
}

// Update is a change of name and region; a nil field stays as it is, "" clears it.
type Update struct {
	Name   *string
	Region *string
}

// CleanName checks a display name: trimmed, at most MaxName runes, no control characters.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name is not valid text")
	}
	if utf8.RuneCountInString(name) > MaxName {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name is longer than %d characters", MaxName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name must be one line without control characters")
		}
	}
	return name, nil
}

// UpdateProfile sets the signed-in person's name and region. Both are checked before anything
// changes; a new region is also written to every connection of the person.
func (s *Service) UpdateProfile(ctx context.Context, in Update) (View, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return View{}, err
	}
	var name, region string
	if in.Name != nil {
		if name, err = CleanName(*in.Name); err != nil {
			return View{}, err
		}
	}
	if in.Region != nil {
		if region, err = ParseRegion(*in.Region); err != nil {
			return View{}, err
		}
	}
	var out *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		up := tx.User.UpdateOneID(uid).SetUpdatedAt(s.Now())
		if in.Name != nil {
			if name == "" {
				up.ClearName()
			} else {
				up.SetName(name)
			}
		}
		if in.Region != nil {
			if region == "" {
				up.ClearRegion()
			} else {
				up.SetRegion(region)
			}
			cu := tx.AppConnection.Update().Where(appconnection.UserID(uid))
			if region == "" {
				cu.ClearRegion()
			} else {
				cu.SetRegion(RegionName(region))
			}
			if _, err := cu.Save(ctx); err != nil {
				return fmt.Errorf("updating the region of connections: %w", err)
			}
		}
		u, err := up.Save(ctx)
		if err != nil {
			return store.Err(err, "user")
		}
		out = u
		return nil
	})
	if err != nil {
		return View{}, err
	}
	return viewOf(out), nil
}

// DecodeUpload turns the GraphQL form of a picture (base64, or a data: URI holding base64)
// into bytes, refusing anything longer than MaxPictureBytes before decoding it.
func DecodeUpload(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "data:") {
		i := strings.Index(s, ",")
		if i < 0 || !strings.HasSuffix(s[:i], ";base64") {
			return nil, apperr.WithReason(apperr.Invalid, "not_an_image", "a data: URI must be base64 (data:image/png;base64,…)")
		}
		s = s[i+1:]
	}
	if base64.StdEncoding.DecodedLen(len(s)) > MaxPictureBytes+2 {
		return nil, tooLarge()
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, apperr.WithReason(apperr.Invalid, "not_an_image", "the image must be base64")
	}
	return b, nil
}

func tooLarge() error {
	return apperr.WithReason(apperr.TooLarge, "picture_too_large", "the picture is larger than %d KiB", MaxPictureBytes>>10)
}

// Reencode checks raw (size, format, dimensions, in that order, before decoding) and returns
// it as a JPEG of at most PictureSide×PictureSide with its size. Errors are 4xx: TooLarge for
// a file or a picture too big, Invalid "not_an_image" for anything Go's PNG, JPEG and GIF
// decoders do not read.
func Reencode(raw []byte) ([]byte, int, int, error) {
	if len(raw) > MaxPictureBytes {
		return nil, 0, 0, tooLarge()
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, apperr.WithReason(apperr.Invalid, "not_an_image", "the file is not a PNG, JPEG or GIF image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxPictureSide || cfg.Height > MaxPictureSide ||
		int64(cfg.Width)*int64(cfg.Height) > MaxPicturePixels {
		return nil, 0, 0, apperr.WithReason(apperr.TooLarge, "picture_dimensions",
			"the picture is %d×%d pixels; at most %d×%d are accepted", cfg.Width, cfg.Height, MaxPictureSide, MaxPictureSide)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, apperr.WithReason(apperr.Invalid, "not_an_image", "the image could not be decoded")
	}
	out := scale(img, PictureSide)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return nil, 0, 0, fmt.Errorf("encoding picture: %w", err)
	}
	b := out.Bounds()
	return buf.Bytes(), b.Dx(), b.Dy(), nil
}

// scale draws img onto white (JPEG has no transparency) at a size fitting max×max, keeping
// its aspect ratio, by averaging the source pixels each destination pixel covers.
func scale(img image.Image, max int) *image.RGBA {
	sb := img.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	dw, dh := sw, sh
	if sw > max || sh > max {
		if sw >= sh {
			dw, dh = max, sh*max/sw
		} else {
			dw, dh = sw*max/sh, max
		}
	}
	dw, dh = maxInt(dw, 1), maxInt(dh, 1)
	src := image.NewRGBA(image.Rect(0, 0, sw, sh))
	draw.Draw(src, src.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(src, src.Bounds(), img, sb.Min, draw.Over)
	if dw == sw && dh == sh {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		y0, y1 := y*sh/dh, maxInt((y+1)*sh/dh, y*sh/dh+1)
		for x := 0; x < dw; x++ {
			x0, x1 := x*sw/dw, maxInt((x+1)*sw/dw, x*sw/dw+1)
			var r, g, b, n uint64
			for sy := y0; sy < y1; sy++ {
				row := src.Pix[sy*src.Stride:]
				for sx := x0; sx < x1; sx++ {
					p := row[sx*4:]
					r, g, b, n = r+uint64(p[0]), g+uint64(p[1]), b+uint64(p[2]), n+1
				}
			}
			o := dst.Pix[y*dst.Stride+x*4:]
			o[0], o[1], o[2], o[3] = uint8(r/n), uint8(g/n), uint8(b/n), 255
		}
	}
	return dst
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// SetPicture re-encodes raw (see Reencode) and makes it the signed-in person's picture: a new
// URL, the old picture deleted. A refused picture changes nothing. Past Uploads it answers
// RateLimited (429 with Retry-After) before looking at raw.
func (s *Service) SetPicture(ctx context.Context, raw []byte) (View, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return View{}, err
	}
	if s.Limiter != nil {
		if err := s.Limiter.Take(ctx, s.Uploads, uid); err != nil {
			return View{}, err
		}
	}
	data, w, h, err := Reencode(raw)
	if err != nil {
		return View{}, err
	}
	sum := sha256.Sum256(data)
	var out *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.ProfilePicture.Delete().Where(profilepicture.UserID(uid)).Exec(ctx); err != nil {
			return fmt.Errorf("deleting the old picture: %w", err)
		}
		p, err := tx.ProfilePicture.Create().SetUserID(uid).SetContentType("image/jpeg").SetData(data).
			SetSha256(hex.EncodeToString(sum[:])).SetWidth(w).SetHeight(h).SetCreatedAt(s.Now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("storing the picture: %w", err)
		}
		u, err := tx.User.UpdateOneID(uid).SetImage(s.BaseURL + PicturePath + p.ID).SetUpdatedAt(s.Now()).Save(ctx)
		if err != nil {
			return store.Err(err, "user")
		}
		out = u
		return nil
	})
	if err != nil {
		return View{}, err
	}
	return viewOf(out), nil
}

// RemovePicture removes the signed-in person's picture (its URL answers 404 from then on).
func (s *Service) RemovePicture(ctx context.Context) (View, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return View{}, err
	}
	var out *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if err := DeleteUser(ctx, tx, uid); err != nil {
			return err
		}
		u, err := tx.User.UpdateOneID(uid).ClearImage().SetUpdatedAt(s.Now()).Save(ctx)
		if err != nil {
			return store.Err(err, "user")
		}
		out = u
		return nil
	})
	if err != nil {
		return View{}, err
	}
	return viewOf(out), nil
}

// DeleteUser removes userID's picture (account deletion), inside the caller's transaction.
func DeleteUser(ctx context.Context, tx *ent.Tx, userID string) error {
	if _, err := tx.ProfilePicture.Delete().Where(profilepicture.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting the picture: %w", err)
	}
	return nil
}

// Picture is a stored picture as served.
type Picture struct {
	ContentType string
	Data        []byte
	ETag        string // quoted
	Created     time.Time
}

// PictureByID returns the picture served at PicturePath+id; NotFound when there is none.
func (s *Service) PictureByID(ctx context.Context, id string) (*Picture, error) {
	if len(id) > 64 {
		return nil, apperr.New(apperr.NotFound, "picture not found")
	}
	p, err := s.DB.ProfilePicture.Query().Where(profilepicture.ID(id)).Only(ctx)
	if err != nil {
		return nil, store.Err(err, "picture")
	}
	return &Picture{ContentType: p.ContentType, Data: p.Data, ETag: `"` + p.Sha256 + `"`, Created: p.CreatedAt}, nil
}

// RegionOfUser is the English region name to report on a connection of u ("" when none).
func RegionOfUser(u *ent.User) string { return RegionName(u.Region) }
