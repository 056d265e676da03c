// Package profile is what a person says about themself: a display name, a picture and a
// country/region. Every change is the signed-in person's own (auth.RequireUser); apps see the
// name and the picture only with the profile scope (internal/oauth), and the region is
// reported on the person's connections (their `region`, an English country name) and so in
// the portal's Regions chart.
//
// Pictures are checked before any decoding work: the byte size first, then the dimensions from
// the header alone (image.DecodeConfig), so a small file that would decode into gigabytes of
// pixels (a decompression bomb) is refused without being decoded, then a JPEG's segments, so
// that one whose decoding would take far longer than its size says (thousands of scans) is
// refused too (checkJPEG). An accepted picture is
// decoded with Go's image packages, at most PictureDecodes at once in the process, scaled to
// fit 256×256 straight from the decoded pixels and re-encoded as a JPEG, so nothing a person
// uploads is ever served as sent. LoginSign serves it at /pictures/{id}.
package profile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for DecodeConfig and Decode
	"image/jpeg"
	_ "image/png"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

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
	// MaxPictureSide bounds each side of an uploaded image, read from the header before
	// decoding, and so its area: MaxPicturePixels, 4 Mi pixels. The stored picture is 256×256,
	// so 2048 is eight times more than it needs, enough for any crop; and what an upload costs
	// follows the area, not the file: a 16-bit PNG of one colour shrinks about a thousandfold
	// (4096×4096 into 135 KB) and decodes into 8·W·H bytes, 32 MiB at this bound (128 MiB at
	// 4096×4096). One square bound rather than sides and an area apart keeps the refusal
	// ("at most 2048×2048") exact for every shape.
	MaxPictureSide   = 2048
	MaxPicturePixels = MaxPictureSide * MaxPictureSide
	// PictureDecodes bounds the pictures being decoded and scaled at once in the process (one
	// Service), since the per-person limit counts uploads over an hour, not at the same moment.
	// Each holds what its format decodes into, at most MaxPicturePixels pixels: a PNG up to 8
	// bytes a pixel (16-bit RGBA: 32 MiB), a GIF 1, a baseline JPEG 1 (grey) to 8 (CMYK: YCbCr
	// and black planes, then the CMYK picture). A progressive JPEG also keeps every
	// component's DCT coefficients, 4 bytes a pixel for each full-resolution component: 5 for
	// grey, 7.5 for the usual 4:2:0 colour, 15 for 4:4:4 colour and 19 for 4:4:4 RGB, which
	// is converted to RGBA once decoded; 76 MiB, the worst case, so PictureDecodes at once hold
	// at most about 152 MiB. A progressive CMYK JPEG (20 and more) is refused before decoding,
	// as is a JPEG of more than MaxJPEGScans scans, whose decoding time follows its scans rather
	// than its size (see checkJPEG). Decoding is CPU work, so more at once would not finish
	// sooner on the few cores LoginSign runs on.
	PictureDecodes = 2
	// PictureDecodeWait is how long an upload waits for one of the PictureDecodes by default
	// before it is answered Unavailable (503 with Retry-After): several decodes' time, so
	// people uploading together wait rather than fail, while a flood is turned away.
	PictureDecodeWait = 2 * time.Second
	// PictureSide is the largest side of the stored picture.
	PictureSide = 256
	// MaxName bounds a display name (runes).
	MaxName = 200
	// MaxNameMarks bounds the combining marks (nonspacing and enclosing, Unicode Mn and Me) a
	// name stacks on one character, the zero-width joiners between them included. Writing
	// systems need a few (Tibetan stacks, Hebrew points and accents, a keycap's two, the
	// decomposed accents NFC cannot compose): eight is more than any of them; "Zalgo" text
	// stacks dozens, which draw far above and below the line, over the rows and buttons of
	// the pages that list the name (team members, a developer's users, the consent page).
	MaxNameMarks = 8
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
	// DecodeWait is how long an upload waits for a free decode (PictureDecodeWait by default).
	DecodeWait time.Duration

	// decodes holds a token per picture being decoded, PictureDecodes at most. New makes it:
	// a Service without it decodes nothing and answers every upload Unavailable.
	decodes chan struct{}
	// onWait, onDecode and onDecoded, set by tests only, are called when an upload starts
	// waiting for a decode, when it has one and when it gives it back.
	onWait, onDecode, onDecoded func()
}

// New returns the service.
func New(db *store.DB, k *kv.Store, baseURL string, now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{DB: db, BaseURL: strings.TrimRight(baseURL, "/"), Now: now, Limiter: ratelimit.New(k),
		Uploads:    ratelimit.Rule{Name: "picture-upload", N: 20, Window: time.Hour},
		DecodeWait: PictureDecodeWait, decodes: make(chan struct{}, PictureDecodes)}
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

// CleanName checks a display name and returns it as it is kept: trimmed, in Unicode NFC, at
// most MaxName runes, one line, and nothing invisible that changes how the rest reads. The
// name is shown to others (team member lists, a developer's users, id_tokens, passkey
// display names), so it refuses control characters, line and paragraph separators, and the
// format characters (Unicode category Cf) that reorder or hide text: bidirectional overrides,
// embeddings, isolates and marks ("\u202enimda" shows as "admin"), zero-width spaces, word
// joiners, the byte order mark and tag characters; the default-ignorable fillers (U+3164
// HANGUL FILLER and the like) and the blank symbols (U+2800 BRAILLE PATTERN BLANK, see
// blankSymbol) that make a name look empty; and a name with no letter, digit, punctuation or
// symbol left (only combining marks or variation selectors, which show nothing on their own).
// The one exception is the zero-width joiner and non-joiner (U+200D, U+200C) right after a
// letter, mark or symbol (see joinerAllowed).
// At most MaxNameMarks combining marks may stack on one character.
// NFC makes the same name the same string, whichever way the person's keyboard composed it.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name is not valid text")
	}
	name = norm.NFC.String(name)
	if utf8.RuneCountInString(name) > MaxName {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name is longer than %d characters", MaxName)
	}
	prev := rune(-1) // none: the start of the name
	visible := false
	marks := 0 // combining marks stacked on the last character
	for _, r := range name {
		invisible := unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || blankSymbol(r)
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (invisible && !joinerAllowed(prev, r)) {
			return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name must be one line without control characters")
		}
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me):
			if marks++; marks > MaxNameMarks {
				return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name stacks more than %d accents or marks on one character", MaxNameMarks)
			}
		case r != '\u200c' && r != '\u200d': // a joiner between marks does not end the stack
			marks = 0
		}
		visible = visible || !invisible && unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
		prev = r
	}
	if name != "" && !visible {
		return "", apperr.WithReason(apperr.Invalid, "invalid_name", "the name must show at least one letter, digit or symbol")
	}
	return name, nil
}

// blankSymbol reports whether r is one of the symbols that show as an empty cell, though
// neither a space nor default-ignorable: U+2800 BRAILLE PATTERN BLANK (the usual "invisible
// name" of games and chat apps) and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD. CleanName refuses
// them like the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0, which are default-ignorable).
func blankSymbol(r rune) bool { return r == '\u2800' || r == '\U0001D159' }

// joinerAllowed reports whether r, a format character, may follow prev in a name: only the
// zero-width non-joiner and joiner, and only after a letter, a combining mark or a symbol.
// They are part of correct spelling: Persian writes ZWNJ between letters (می‌خواهم), Indic
// scripts put ZWJ or ZWNJ after a virama (a mark) to choose a conjunct's form, including at
// the end of a word (Malayalam's older chillu spelling), and emoji sequences join symbols
// with ZWJ (👩‍💻, 🏳️‍🌈 after the variation selector, a mark). After a space, at the start or
// after another format character they have no such use and only hide something. A joiner
// between two Latin letters is allowed too and shows nothing, like any look-alike spelling;
// what the rule prevents is text that reorders itself or hides behind invisible characters.
func joinerAllowed(prev, r rune) bool {
	if r != '\u200c' && r != '\u200d' || prev < 0 {
		return false
	}
	return unicode.In(prev, unicode.L, unicode.M, unicode.S)
}

// UpdateProfile sets the signed-in person's name and region. Both are checked before anything
// changes; a new region is also written to every connection of the person. An account closed
// meanwhile answers NotFound.
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
		// The person first (store.LockUser), as the closing of the account locks them before it
		// deletes their connections and picture: a change racing the closing waits for it and
		// then finds the account gone. Writing the connections (or the picture) first and the
		// person last, each waited for the other until PostgreSQL aborted one (deadlock
		// detected). SetPicture and RemovePicture do the same.
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil {
			return err
		}
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
			// Only the connections whose region changes are written: a write moves the
			// connection's updatedAt, which its application reads, and a form saved with the
			// same region (the dashboard sends name and region together) would tell every
			// app, profile scope or not, the moment the person edited their name.
			cu := tx.AppConnection.Update().Where(appconnection.UserID(uid))
			if region == "" {
				cu.Where(appconnection.RegionNotNil(), appconnection.RegionNEQ("")).ClearRegion()
			} else {
				name := RegionName(region)
				cu.Where(appconnection.Or(appconnection.RegionIsNil(), appconnection.RegionNEQ(name))).SetRegion(name)
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

// Reencode checks raw (size, format, dimensions, then a JPEG's segments, in that order, before
// decoding) and returns it as a JPEG of at most PictureSide×PictureSide with its size. Errors
// are 4xx: TooLarge for a file or a picture too big or a JPEG of more than MaxJPEGScans scans
// ("picture_too_complex"), Invalid "picture_unsupported" for a progressive CMYK JPEG (see
// checkJPEG), Invalid "not_an_image" for anything Go's PNG, JPEG and GIF decoders do not
// read. A picture that passes the checks waits for one of the PictureDecodes (up to
// DecodeWait): Unavailable (503 with Retry-After) when none frees in time, ctx's error when
// ctx ends first.
func (s *Service) Reencode(ctx context.Context, raw []byte) ([]byte, int, int, error) {
	if len(raw) > MaxPictureBytes {
		return nil, 0, 0, tooLarge()
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, apperr.WithReason(apperr.Invalid, "not_an_image", "the file is not a PNG, JPEG or GIF image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxPictureSide || cfg.Height > MaxPictureSide ||
		int64(cfg.Width)*int64(cfg.Height) > MaxPicturePixels {
		return nil, 0, 0, apperr.WithReason(apperr.TooLarge, "picture_dimensions",
			"the picture is %d×%d pixels; at most %d×%d are accepted", cfg.Width, cfg.Height, MaxPictureSide, MaxPictureSide)
	}
	if format == "jpeg" {
		if err := checkJPEG(raw); err != nil {
			return nil, 0, 0, err
		}
	}
	out, err := s.decodeScaled(ctx, raw)
	if err != nil {
		return nil, 0, 0, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 85}); err != nil {
		return nil, 0, 0, fmt.Errorf("encoding picture: %w", err)
	}
	b := out.Bounds()
	return buf.Bytes(), b.Dx(), b.Dy(), nil
}

// decodeScaled decodes raw and scales it (see scale) while holding one of the PictureDecodes.
// Only the 256×256 result outlives it: the decoded picture is garbage once it returns, and the
// next upload may decode.
func (s *Service) decodeScaled(ctx context.Context, raw []byte) (*image.RGBA, error) {
	if err := s.startDecode(ctx); err != nil {
		return nil, err
	}
	defer s.endDecode()
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, apperr.WithReason(apperr.Invalid, "not_an_image", "the image could not be decoded")
	}
	return scale(img, PictureSide), nil
}

// startDecode takes one of the PictureDecodes, waiting up to DecodeWait for one to free; the
// caller gives it back with endDecode. Being turned away is the server's state, not the
// person's doing, so it is Unavailable rather than RateLimited: 503, retry in a second.
func (s *Service) startDecode(ctx context.Context) error {
	select {
	case s.decodes <- struct{}{}:
	default:
		if s.onWait != nil {
			s.onWait()
		}
		wait := time.NewTimer(s.DecodeWait)
		defer wait.Stop()
		select {
		case s.decodes <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("waiting to decode the picture: %w", ctx.Err())
		case <-wait.C:
			return &apperr.Error{Code: apperr.Unavailable, Message: apperr.UnavailableMessage, RetryAfter: 1}
		}
	}
	if s.onDecode != nil {
		s.onDecode()
	}
	return nil
}

// endDecode gives back the decode startDecode took.
func (s *Service) endDecode() {
	if s.onDecoded != nil {
		s.onDecoded()
	}
	<-s.decodes
}

// scale returns img drawn on white (JPEG has no transparency) at a size fitting max×max,
// keeping its aspect ratio: each output pixel is the average of the source pixels it covers,
// composited on white. It reads the decoded pixels where they are, through RGBA64At (every
// image type Go's decoders return has it, and it allocates nothing per pixel), and allocates
// only the output, never a full-size copy. Averaging premultiplied colour and alpha, then adding the
// white the average alpha leaves uncovered, is the same as drawing each pixel on white first.
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
	src, ok := img.(image.RGBA64Image)
	if !ok {
		src = anyImage{img}
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		y0, y1 := y*sh/dh, maxInt((y+1)*sh/dh, y*sh/dh+1)
		for x := 0; x < dw; x++ {
			x0, x1 := x*sw/dw, maxInt((x+1)*sw/dw, x*sw/dw+1)
			var r, g, b, a, n uint64
			for sy := sb.Min.Y + y0; sy < sb.Min.Y+y1; sy++ {
				for sx := sb.Min.X + x0; sx < sb.Min.X+x1; sx++ {
					c := src.RGBA64At(sx, sy)
					r, g, b, a, n = r+uint64(c.R), g+uint64(c.G), b+uint64(c.B), a+uint64(c.A), n+1
				}
			}
			white := 0xffff*n - a
			o := dst.Pix[y*dst.Stride+x*4:]
			o[0], o[1], o[2], o[3] = uint8((r+white)/n>>8), uint8((g+white)/n>>8), uint8((b+white)/n>>8), 255
		}
	}
	return dst
}

// anyImage gives an image.Image without RGBA64At one through At, for decoders registered
// elsewhere; Go's own all have it.
type anyImage struct{ image.Image }

func (m anyImage) RGBA64At(x, y int) color.RGBA64 {
	r, g, b, a := m.At(x, y).RGBA()
	return color.RGBA64{uint16(r), uint16(g), uint16(b), uint16(a)}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// SetPicture re-encodes raw (see Reencode) and makes it the signed-in person's picture: a new
// URL, the old picture deleted. A refused picture changes nothing. Past Uploads it answers
// RateLimited (429 with Retry-After) before looking at raw; an account closed meanwhile,
// NotFound. An upload answered Unavailable (no decode freed in time) gives its hit of Uploads
// back.
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
	data, w, h, err := s.Reencode(ctx, raw)
	if err != nil {
		if s.Limiter != nil && apperr.CodeOf(err) == apperr.Unavailable {
			// No decode was free: nothing of the upload was decoded, and the server's being
			// busy (which anyone's uploads can cause) must not use up the person's uploads.
			if rerr := s.Limiter.Return(context.WithoutCancel(ctx), s.Uploads, uid); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return View{}, err
	}
	sum := sha256.Sum256(data)
	var out *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil { // first, see UpdateProfile
			return err
		}
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

// RemovePicture removes the signed-in person's picture (its URL answers 404 from then on). An
// account closed meanwhile answers NotFound.
func (s *Service) RemovePicture(ctx context.Context) (View, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return View{}, err
	}
	var out *ent.User
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := store.LockUser(ctx, tx, s.DB.Dialect, uid); err != nil { // first, see UpdateProfile
			return err
		}
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
