package profile

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
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
	src := image.NewNRGBA(image.Rect(0, 0, 300, 900))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	src.Set(0, 0, color.NRGBA{0, 0, 0, 0}) // transparency becomes white
	for _, f := range []string{"png", "jpeg", "gif"} {
		out, w, h, err := Reencode(encode(t, src, f))
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
		"truncated":    {encode(t, src, "png")[:200], apperr.Invalid},
	} {
		if _, _, _, err := Reencode(c.raw); !apperr.Is(err, c.code) {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	if n, err := CleanName("  Ann  "); err != nil || n != "Ann" {
		t.Fatalf("%q %v", n, err)
	}
	for _, bad := range []string{"a\nb", "a\x00b", "a\u2028b", string(bytes.Repeat([]byte("é"), MaxName+1)), "\xff"} {
		if _, err := CleanName(bad); err == nil {
			t.Errorf("CleanName(%q) accepted", bad)
		}
	}
}
