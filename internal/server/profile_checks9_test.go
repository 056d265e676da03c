package server

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// manyScanJPEG is a valid progressive JPEG of side×side grey pixels made of scans scans, each
// one AC scan of the whole picture that says nothing but "end of block" (about 20 bytes). A
// decoder walks every block of the picture once per scan, so the work follows scans×blocks,
// not the file's size: a 512 KiB file of 2048×2048 holds some 25,000 scans. Real encoders write about ten.
func manyScanJPEG(side, scans int) []byte {
	if side%1024 != 0 {
		panic("manyScanJPEG: side must be a multiple of 1024")
	}
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})           // SOI
	b.Write([]byte{0xff, 0xdb, 0, 67, 0}) // DQT, table 0
	b.Write(bytes.Repeat([]byte{1}, 64))  // all ones
	b.Write([]byte{0xff, 0xc2, 0, 11, 8,  // SOF2 (progressive), 8 bits
		byte(side >> 8), byte(side), byte(side >> 8), byte(side), // height, width
		1, 1, 0x11, 0}) // one component, 1×1 sampling, table 0
	// DHT: AC table 0 with one 1-bit code, "0", for an end-of-block run of 2^14 plus 14 bits:
	// with the 14 bits zero, one code ends 16,384 blocks (side 1024 is one code a scan).
	b.Write([]byte{0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0})
	blocks := (side / 8) * (side / 8)
	// Each code is "0" then 14 zero bits: all zero bytes, no byte stuffing, and two more that
	// the decoder reads ahead.
	data := make([]byte, (15*(blocks/16384)+7)/8+2)
	for range scans {
		b.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 1, 63, 0, 0}) // SOS: component 1, AC 1..63
		b.Write(data)
	}
	b.Write([]byte{0xff, 0xd9}) // EOI
	return b.Bytes()
}

// A decompression bomb measured in time rather than memory: a progressive JPEG whose header
// says 1024×1024 (well inside the 2048×2048 bound) and that holds a thousand scans in 15 KB.
// Go's image/jpeg walks every block of the picture for every scan and has no bound on the
// scans, so the upload passes every check made before decoding (size, format, dimensions) and
// then holds one of the process's two decodes for all that CPU: a 524,058-byte file of
// 2048×2048 with 24,950 scans took 77 s to decode on the review machine (~3 ms a scan). The
// decode cannot be abandoned: no context is consulted while decoding. Two such uploads (any two
// free accounts, 20 an hour each) hold both decodes, so every other person's upload waits
// PictureDecodeWait and is answered 503, and two cores are pinned. The scan count is in the
// file before any decoding work: a picture with more scans than any encoder writes must be
// refused with a 4xx like the other bombs, and nothing stored.
func TestAJPEGWithThousandsOfScansIsRefusedBeforeItIsDecoded(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.signInTo(defaultTestEmail)
		bomb := manyScanJPEG(1024, 1000)
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != 1024 {
			t.Fatalf("the crafted JPEG is not one: %v %+v", err, cfg)
		}
		start := time.Now()
		st, body := b.putPicture(bomb, "image/jpeg", false)
		took := time.Since(start)
		if st < 400 || st >= 500 || st == http.StatusTooManyRequests || body["error"] == nil {
			t.Fatalf("a %d-byte JPEG of 1000 scans = %d %v after %v; want a 4xx refusal before decoding (the whole file was decoded)",
				len(bomb), st, body, took.Round(time.Millisecond))
		}
		if n := e.srv.db.ProfilePicture.Query().CountX(context.Background()); n != 0 {
			t.Fatalf("the refused picture was stored (%d)", n)
		}
	})
}

// What a person uploads is never served as sent: metadata (EXIF with a position, a JPEG
// comment), a GIF's comment holding HTML, and every frame of an animated GIF but the first
// stay out of the served picture, which is always an image/jpeg with nosniff and a sandboxing
// CSP whatever the upload claimed to be.
func TestAServedPictureKeepsNothingOfTheUploadButItsFirstFramesPixels(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.signInTo(defaultTestEmail)
		const secret = "GPS 48.8584N 2.2945E secret-exif-marker"
		const html = "<script>alert(document.cookie)</script>"

		// A JPEG with an APP1 Exif segment and a COM segment after SOI.
		var j bytes.Buffer
		if err := jpeg.Encode(&j, testImage(64, 64, color.RGBA{200, 30, 30, 255}), nil); err != nil {
			t.Fatal(err)
		}
		app1 := append([]byte("Exif\x00\x00"), secret...)
		com := []byte(html)
		withMeta := append([]byte{0xff, 0xd8, 0xff, 0xe1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}, app1...)
		withMeta = append(withMeta, 0xff, 0xfe, byte((len(com)+2)>>8), byte(len(com)+2))
		withMeta = append(withMeta, com...)
		withMeta = append(withMeta, j.Bytes()[2:]...)

		// An animated GIF: a green frame, then a blue one, with a comment extension of HTML.
		g := &gif.GIF{Image: []*image.Paletted{palettedOf(32, 32, color.RGBA{0, 255, 0, 255}), palettedOf(32, 32, color.RGBA{0, 0, 255, 255})},
			Delay: []int{10, 10}}
		var gb bytes.Buffer
		if err := gif.EncodeAll(&gb, g); err != nil {
			t.Fatal(err)
		}
		raw := gb.Bytes()
		// The comment extension goes before the trailer: 0x21 0xfe, one sub-block, terminator.
		ext := append([]byte{0x21, 0xfe, byte(len(html))}, html...)
		ext = append(ext, 0)
		animated := append(append(append([]byte{}, raw[:len(raw)-1]...), ext...), raw[len(raw)-1])

		for _, c := range []struct {
			name, contentType string
			body              []byte
			want              color.RGBA
		}{
			{"JPEG with EXIF and a comment", "image/jpeg", withMeta, color.RGBA{200, 30, 30, 255}},
			{"animated GIF with an HTML comment", "text/html", animated, color.RGBA{0, 255, 0, 255}},
		} {
			st, body := b.putPicture(c.body, c.contentType, false)
			u, _ := body["pictureUrl"].(string)
			if st != http.StatusOK || u == "" {
				t.Fatalf("%s: upload = %d %v", c.name, st, body)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			served, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header
			if h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
				t.Fatalf("%s: served with %v", c.name, h)
			}
			for _, leak := range []string{"Exif", "secret-exif-marker", "<script", "NETSCAPE"} {
				if bytes.Contains(served, []byte(leak)) {
					t.Fatalf("%s: the served picture holds %q", c.name, leak)
				}
			}
			img, err := jpeg.Decode(bytes.NewReader(served))
			if err != nil {
				t.Fatalf("%s: served picture: %v", c.name, err)
			}
			r, gg, bb, _ := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/2).RGBA()
			got := color.RGBA{uint8(r >> 8), uint8(gg >> 8), uint8(bb >> 8), 255}
			if !near(got, c.want) {
				t.Fatalf("%s: the served picture's colour is %v, want about %v (the first frame)", c.name, got, c.want)
			}
		}
	})
}

func testImage(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func palettedOf(w, h int, c color.Color) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// near reports whether two colours are the same but for JPEG's rounding.
func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) < 24 && d(a.G, b.G) < 24 && d(a.B, b.B) < 24
}
