package profile_test

import (
	"bytes"
	"context"
	"testing"

	"loginsign/internal/profile"
)

// cmykProgressiveJPEG is a progressive JPEG of side×side CMYK pixels (four components, each at
// full resolution, with the Adobe APP14 marker Go's decoder asks for) holding one AC scan per
// component that says only "end of block": a couple of hundred bytes. side is a multiple of
// 1024.
func cmykProgressiveJPEG(side int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})                                                         // SOI
	b.Write([]byte{0xff, 0xee, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 0x64, 0, 0, 0, 0, 0}) // APP14 Adobe, no transform
	b.Write([]byte{0xff, 0xdb, 0, 67, 0})                                               // DQT, table 0
	b.Write(bytes.Repeat([]byte{1}, 64))
	b.Write([]byte{0xff, 0xc2, 0, 8 + 3*4, 8, byte(side >> 8), byte(side), byte(side >> 8), byte(side), 4, // SOF2, 4 components
		1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0})
	// DHT: AC table 0, one 1-bit code "0" for an end-of-block run of 2^14 (and 14 zero bits).
	b.Write([]byte{0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xe0})
	blocks := (side / 8) * (side / 8)
	data := make([]byte, (15*(blocks/16384)+7)/8+2) // zero bits, and two bytes read ahead
	for c := byte(1); c <= 4; c++ {
		b.Write([]byte{0xff, 0xda, 0, 8, 1, c, 0x00, 1, 63, 0, 0}) // SOS: component c, AC 1..63
		b.Write(data)
	}
	b.Write([]byte{0xff, 0xd9}) // EOI
	return b.Bytes()
}

// The memory bound of an upload (TestPictureUploadMemory, PictureDecodes' "each may hold up to
// 8 bytes per pixel") assumes the costliest format is a 16-bit PNG. A progressive CMYK JPEG
// costs more: Go's decoder keeps every component's DCT coefficients (64 int32 per 8×8 block,
// 4 bytes a pixel a component: 16 bytes a pixel) and then decodes into a CMYK picture (4 more).
// A file of 217 bytes, 2048×2048 in its header, passes every check before decoding and
// allocates about 96 MiB, three times the budget; with PictureDecodes at once, twice that. The
// check before decoding reads the header that says so (SOF2, four components): such a picture
// must be refused, or the bound and the decode budget must count it.
func TestAProgressiveCMYKJPEGStaysWithinTheUploadMemoryBudget(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	side := profile.MaxPictureSide
	raw := cmykProgressiveJPEG(side)
	budget := uint64(8*side*side + 4<<20) // TestPictureUploadMemory's budget
	var err error
	var w, h int
	n := allocated(func() { _, w, h, err = svc.Reencode(context.Background(), raw) })
	if n > budget {
		t.Errorf("a %d-byte %d×%d progressive CMYK JPEG allocated %d MiB (answer %dx%d, %v), over the budget of %d MiB",
			len(raw), side, side, n>>20, w, h, err, budget>>20)
	}
}
