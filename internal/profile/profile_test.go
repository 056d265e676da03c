package profile

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"loginsign/internal/apperr"
)

func TestParseRegion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"de": "DE", " US ": "US", "gb": "GB", "": "", "jp": "JP", "aq": "AQ"} {
		got, err := ParseRegion(in)
		if err != nil || got != want {
			t.Errorf("ParseRegion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"EU", "UN", "ZZ", "AA", "QO", "XA", "DEU", "276", "D", "de-DE", "SU", "YU", "Ü", "XK", "IC", "EZ"} {
		if got, err := ParseRegion(bad); err == nil {
			t.Errorf("ParseRegion(%q) = %q, want an error", bad, got)
		}
	}
	if RegionName("de") != "Germany" || RegionName("US") != "United States" || RegionName("") != "" {
		t.Errorf("RegionName: %q %q", RegionName("de"), RegionName("US"))
	}
	if n := len(Regions()); n < 245 || n > 249 { // ISO 3166-1 assigns 249

		t.Errorf("%d regions", n)
	}
}

func TestSuggestedRegion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"de-CH, de;q=0.9": "CH", "en-US,en;q=0.9": "US", "fr": "FR", "ja": "JP", "*": "", "": "",
		"en;q=0.8, pt-BR": "BR", "garbage;;;": "",
	} {
		if got := SuggestedRegion(in); got != want {
			t.Errorf("SuggestedRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func encode(t *testing.T, img image.Image, format string) []byte {
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReencode(t *testing.T) {
	t.Parallel()
	svc := New(nil, nil, "", nil)
	ctx := context.Background()
	src := image.NewNRGBA(image.Rect(0, 0, 300, 900))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	src.Set(0, 0, color.NRGBA{0, 0, 0, 0}) // transparency becomes white
	for _, f := range []string{"png", "jpeg", "gif"} {
		out, w, h, err := svc.Reencode(ctx, encode(t, src, f))
		if err != nil || w != 85 || h != 256 {
			t.Fatalf("%s: %dx%d %v", f, w, h, err)
		}
		if cfg, format, err := image.DecodeConfig(bytes.NewReader(out)); err != nil || format != "jpeg" || cfg.Width != 85 {
			t.Fatalf("%s re-encoded: %s %v", f, format, err)
		}
	}
	for name, c := range map[string]struct {
		raw  []byte
		code apperr.Code
	}{
		"too large":    {make([]byte, MaxPictureBytes+1), apperr.TooLarge},
		"not an image": {[]byte("hello"), apperr.Invalid},
		"too wide":     {encode(t, image.NewGray(image.Rect(0, 0, MaxPictureSide+1, 1)), "png"), apperr.TooLarge},
		"too tall":     {encode(t, image.NewGray(image.Rect(0, 0, 1, MaxPictureSide+1)), "png"), apperr.TooLarge},
		"truncated":    {encode(t, src, "png")[:200], apperr.Invalid},
	} {
		if _, _, _, err := svc.Reencode(ctx, c.raw); !apperr.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

// TestScaleAveragesOnWhite: each output pixel is the average of the source pixels it covers,
// drawn on white, whatever type the decoder returned and wherever its bounds start.
func TestScaleAveragesOnWhite(t *testing.T) {
	t.Parallel()
	half := image.NewNRGBA(image.Rect(10, 20, 14, 22)) // 4×2, not at the origin
	for x := 10; x < 14; x++ {
		half.SetNRGBA(x, 20, color.NRGBA{0, 0, 0, 255}) // black
		half.SetNRGBA(x, 21, color.NRGBA{0, 0, 0, 0})   // transparent: white
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 600, 300))
	for i := range gray16.Pix {
		gray16.Pix[i] = 0x80
	}
	for name, c := range map[string]struct {
		img  image.Image
		max  int
		w, h int
		want color.RGBA
	}{
		"black over transparent": {half, 1, 1, 1, color.RGBA{0x7f, 0x7f, 0x7f, 255}},
		"kept at its size":       {half, 256, 4, 2, color.RGBA{0, 0, 0, 255}},
		"16-bit gray, scaled":    {gray16, 256, 256, 128, color.RGBA{0x80, 0x80, 0x80, 255}},
		"paletted":               {image.NewPaletted(image.Rect(0, 0, 3, 3), color.Palette{color.RGBA{10, 20, 30, 255}}), 256, 3, 3, color.RGBA{10, 20, 30, 255}},
	} {
		out := scale(c.img, c.max)
		if b := out.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("%s: %dx%d, want %dx%d", name, b.Dx(), b.Dy(), c.w, c.h)
			continue
		}
		if got := out.RGBAAt(0, 0); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ in, want string }{
		"trimmed":                      {"  Ann  ", "Ann"},
		"NFC: composed however typed":  {"Rene\u0301e", "Ren\u00e9e"},
		"NFC: ring above":              {"A\u030angstr\u00f6m", "\u00c5ngstr\u00f6m"},
		"counted once composed":        {strings.Repeat("e\u0301", MaxName), strings.Repeat("\u00e9", MaxName)},
		"Persian ZWNJ between letters": {"می\u200cخواهم", "می\u200cخواهم"},
		"Devanagari ZWJ after virama":  {"क्\u200dष", "क्\u200dष"},
		"Malayalam ZWJ ending a word":  {"അവന്\u200d Nair", "അവന്\u200d Nair"},
		"emoji ZWJ sequence":           {"Ann 👩\u200d💻", "Ann 👩\u200d💻"},
		"ZWJ after variation selector": {"🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈"},
		"ZWJ between Latin letters":    {"Ann\u200dExample", "Ann\u200dExample"},
	} {
		if got, err := CleanName(c.in); err != nil || got != c.want {
			t.Errorf("%s: CleanName(%+q) = %+q, %v; want %+q", name, c.in, got, err, c.want)
		}
	}
	for name, bad := range map[string]string{
		"newline":                 "a\nb",
		"NUL":                     "a\x00b",
		"line separator":          "a\u2028b",
		"too long":                string(bytes.Repeat([]byte("é"), MaxName+1)),
		"not UTF-8":               "\xff",
		"right-to-left override":  "\u202enimda", // shows as "admin"
		"left-to-right embedding": "Ann\u202aExample\u202c",
		"isolates":                "Ann\u2066x\u2069",
		"right-to-left mark":      "Ann\u200f",
		"Arabic letter mark":      "Ann\u061c",
		"zero-width space":        "Ann\u200bExample",
		"word joiner":             "Ann\u2060Example",
		"byte order mark":         "\ufeffAnn",
		"soft hyphen":             "An\u00adn",
		"tag characters":          "Ann\U000E0041\U000E0042",
		"Hangul filler":           "\u3164",
		"joiner first":            "\u200dAnn",
		"joiner after a space":    "Ann \u200cExample",
		"joiner after a joiner":   "Ann\u200d\u200dExample",
		"joiner after a digit":    "Ann2\u200d",
	} {
		if got, err := CleanName(bad); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: CleanName(%q) = %q, %v; want invalid_name", name, bad, got, err)
		}
	}
}
