package profile_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/profile"
)

// progressiveJPEG is a valid progressive JPEG of side×side pixels (side a multiple of 1024) of
// the given components, each at full resolution (4:4:4), named by ids ("\x01\x02\x03" is
// YCbCr, "RGB" is RGB), holding scans AC scans, of each component in turn, that each say only
// "end of block" for every block. Before each scan's SOS marker it puts before: bytes Go's decoder
// skips between segments (extraneous data, FF fill bytes).
func progressiveJPEG(side int, ids string, scans int, before []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})           // SOI
	b.Write([]byte{0xff, 0xdb, 0, 67, 0}) // DQT, table 0
	b.Write(bytes.Repeat([]byte{1}, 64))
	b.Write([]byte{0xff, 0xc2, 0, byte(8 + 3*len(ids)), 8, byte(side >> 8), byte(side), byte(side >> 8), byte(side), byte(len(ids))})
	for _, id := range []byte(ids) {
		b.Write([]byte{id, 0x11, 0})
	}
	// DHT: AC table 0, one 1-bit code "0" for an end-of-block run of 2^14 (and 14 zero bits).
	b.Write([]byte{0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0})
	blocks := (side / 8) * (side / 8)
	data := make([]byte, (15*(blocks/16384)+7)/8+2)
	for k := range scans {
		b.Write(before)
		b.Write([]byte{0xff, 0xda, 0, 8, 1, ids[k%len(ids)], 0x00, 1, 63, 0, 0}) // SOS: one component, AC 1..63
		b.Write(data)
	}
	b.Write([]byte{0xff, 0xd9}) // EOI
	return b.Bytes()
}

// JPEGs as encoders write them pass the check made before decoding: baseline (Go's encoder, one
// scan; with restart markers; CMYK) and progressive (libjpeg's default script of 10 scans for
// colour and 6 for grey, 4:2:0, and a separate DC scan per component). Go's encoder writes
// baseline only; the progressive files are Go's own image/jpeg test data (BSD licence).
func TestJPEGsAsEncodersWriteThemAreAccepted(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	var enc bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	if err := jpeg.Encode(&enc, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"Go's encoder (baseline)": enc.Bytes()}
	for _, name := range []string{
		"video-001.jpeg", "video-001.restart2.jpeg", "video-001.cmyk.jpeg",
		"video-001.progressive.jpeg", "video-001.q50.420.progressive.jpeg",
		"video-001.separate.dc.progression.progressive.jpeg", "video-005.gray.q50.progressive.jpeg",
	} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = raw
	}
	for name, raw := range files {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, w, h, err := svc.Reencode(context.Background(), raw)
		if err != nil {
			t.Errorf("%s (%d×%d): %v; want it accepted", name, cfg.Width, cfg.Height, err)
			continue
		}
		if w != min(cfg.Width, profile.PictureSide) || len(out) == 0 {
			t.Errorf("%s (%d×%d) became %d×%d", name, cfg.Width, cfg.Height, w, h)
		}
	}
}

// A JPEG of more scans than MaxJPEGScans is refused before any decoding, however its scans
// are placed: right after each other, or after bytes Go's decoder skips between segments
// (extraneous data, "FF 00", a restart marker, FF fill bytes), which it then reads as the
// next scan all the same. A file of MaxJPEGScans scans is decoded. No decode is taken for a
// refused file, so it holds none of the PictureDecodes.
func TestAJPEGOfMoreScansThanAnyEncoderWritesIsRefusedBeforeDecoding(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	decodes := 0
	profile.SetDecodeHooks(svc, nil, func() { decodes++ }, nil)
	for _, c := range []struct {
		name   string
		before []byte
	}{
		{"back to back", nil},
		{"after skipped bytes", []byte{0x00, 0x12, 0xff, 0x00, 0xff, 0xd3, 0x7f, 0xff, 0xff, 0xff}},
	} {
		ok := progressiveJPEG(1024, "\x01", profile.MaxJPEGScans, c.before)
		if _, _, _, err := svc.Reencode(context.Background(), ok); err != nil {
			t.Errorf("%s: a JPEG of %d scans: %v; want it accepted", c.name, profile.MaxJPEGScans, err)
		}
		bomb := progressiveJPEG(1024, "\x01", profile.MaxJPEGScans+1, c.before)
		if _, err := jpeg.Decode(bytes.NewReader(bomb)); err != nil {
			t.Fatalf("%s: Go's decoder does not read the crafted JPEG, so it proves nothing: %v", c.name, err)
		}
		decodes = 0
		_, _, _, err := svc.Reencode(context.Background(), bomb)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.TooLarge || ae.Reason != "picture_too_complex" {
			t.Errorf("%s: a JPEG of %d scans: %v; want TooLarge picture_too_complex", c.name, profile.MaxJPEGScans+1, err)
		}
		if decodes != 0 {
			t.Errorf("%s: the refused JPEG took a decode", c.name)
		}
	}
	// The review's 512 KiB bomb: 2048×2048, 24,950 scans, a minute of CPU once decoded.
	big := progressiveJPEG(2048, "\x01", 24950, nil)
	if len(big) > profile.MaxPictureBytes {
		t.Fatalf("the bomb is %d bytes, over the upload limit", len(big))
	}
	decodes = 0
	if _, _, _, err := svc.Reencode(context.Background(), big); apperr.CodeOf(err) != apperr.TooLarge || decodes != 0 {
		t.Errorf("a %d-byte JPEG of 24,950 scans: %v (decodes %d); want TooLarge before decoding", len(big), err, decodes)
	}
}

// A progressive JPEG of four components (CMYK or YCCK) is refused before decoding, whatever
// its Adobe marker says; a baseline CMYK JPEG (TestJPEGsAsEncodersWriteThemAreAccepted) is not.
func TestAProgressiveFourComponentJPEGIsRefused(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	_, _, _, err := svc.Reencode(context.Background(), cmykProgressiveJPEG(1024))
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Reason != "picture_unsupported" {
		t.Fatalf("a progressive CMYK JPEG: %v; want Invalid picture_unsupported", err)
	}
}

// The costliest upload left, the bound PictureDecodes states: a progressive JPEG of three
// full-resolution components keeps 12 bytes of coefficients a pixel, decodes into a 4:4:4
// YCbCr picture (3 more) and, when it is RGB, is converted into an RGBA one (4 more): 19 bytes
// a pixel, 76 MiB at 2048×2048.
func TestAProgressiveThreeComponentJPEGCostsAtMost19BytesAPixel(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	side := profile.MaxPictureSide
	for _, ids := range []string{"\x01\x02\x03", "RGB"} {
		raw := progressiveJPEG(side, ids, len(ids), nil) // a scan of each: every component's coefficients
		var err error
		n := allocated(func() { _, _, _, err = svc.Reencode(context.Background(), raw) })
		if err != nil {
			t.Fatalf("components %q: %v", ids, err)
		}
		if budget := uint64(19*side*side + 4<<20); n > budget {
			t.Errorf("components %q: a %d×%d progressive JPEG allocated %d MiB, over %d MiB", ids, side, side, n>>20, budget>>20)
		}
	}
}
