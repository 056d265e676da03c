package profile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/profile"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// flat16 is the cheapest file for the most decoding: a w×h 16-bit RGBA PNG of one colour,
// which compresses to a few KiB and decodes into 8·w·h bytes.
func flat16(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0x7f
	}
	img.SetNRGBA64(1, 1, color.NRGBA64{1, 2, 3, 4})
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// allocated is what fn allocates, in bytes (runtime.MemStats.TotalAlloc: every allocation,
// freed or not, so the figure does not depend on when the collector runs).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPictureUploadMemory: what a small upload may cost follows the pixels it is allowed to
// have, and the only full-size allocation is the decoded picture itself. Not parallel: the
// allocation counter is the whole process's.
func TestPictureUploadMemory(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	ctx := context.Background()

	// A 4096×4096 16-bit picture in a 135 KB file used to decode into 128 MiB and be copied.
	bomb := flat16(t, 4096, 4096)
	if len(bomb) > profile.MaxPictureBytes {
		t.Fatalf("the bomb is %d bytes, over the upload limit", len(bomb))
	}
	var err error
	if n := allocated(func() { _, _, _, err = svc.Reencode(ctx, bomb) }); !apperr.Is(err, apperr.TooLarge) || n > 1<<20 {
		t.Errorf("a %d-byte 4096×4096 16-bit PNG: %v after allocating %d KiB; want picture_dimensions before decoding (< 1 MiB)",
			len(bomb), err, n>>10)
	}

	// The largest picture accepted, in the costliest PNG format: its 16-bit pixels (8 bytes
	// each) and a little for the decoder's rows and the 256×256 result, no full-size copy.
	side := profile.MaxPictureSide
	raw := flat16(t, side, side)
	budget := uint64(8*side*side + 4<<20)
	var w, h int
	n := allocated(func() { _, w, h, err = svc.Reencode(ctx, raw) })
	if err != nil || w != profile.PictureSide || h != profile.PictureSide {
		t.Fatalf("%d×%d 16-bit PNG: %dx%d %v", side, side, w, h, err)
	}
	if n > budget {
		t.Errorf("a %d-byte %d×%d 16-bit PNG allocated %d MiB, over the budget of %d MiB (its decoded pixels and 4 MiB)",
			len(raw), side, side, n>>20, budget>>20)
	}
}

// TestPictureDecodesAreBounded: however many uploads arrive together, from one person or many,
// at most PictureDecodes decode at once; the others wait their turn and then succeed.
func TestPictureDecodesAreBounded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := profile.New(db, nil, "https://id.example", nil)
		svc.Limiter = nil // the per-person hourly limit is another rule
		// Long enough that nobody gives up while the test holds the decodes: a bound, not a
		// duration the test depends on.
		svc.DecodeWait = time.Minute

		const uploads = 4 * profile.PictureDecodes
		var (
			mu                    sync.Mutex
			decoding, most, waits int
			arrived               = make(chan struct{}, 2*uploads) // one per hook call
			release               = make(chan struct{})
		)
		profile.SetDecodeHooks(svc,
			func() {
				mu.Lock()
				waits++
				mu.Unlock()
				arrived <- struct{}{}
			},
			func() {
				mu.Lock()
				decoding++
				most = max(most, decoding)
				mu.Unlock()
				arrived <- struct{}{}
				<-release // hold the decode until every upload has arrived
			},
			func() {
				mu.Lock()
				decoding--
				mu.Unlock()
			})

		raw := flat16(t, 300, 200)
		errs := make([]error, uploads)
		var wg sync.WaitGroup
		for i := range uploads {
			u := db.User.Create().SetGlobalID(fmt.Sprintf("ZZ%04d", i+1)).SetEmail(fmt.Sprintf("p%d@example.com", i)).SaveX(ctx)
			wg.Go(func() {
				_, errs[i] = svc.SetPicture(auth.WithSession(ctx, auth.Session{UserID: u.ID}), raw)
			})
		}
		// Every upload either decodes (and is held) or waits: none is left to start decoding.
		for range uploads {
			<-arrived
		}
		mu.Lock()
		held, waiting := decoding, waits
		mu.Unlock()
		close(release)
		wg.Wait()

		if held > profile.PictureDecodes || most > profile.PictureDecodes {
			t.Errorf("%d uploads at once: %d decoding together (at most %d at any time), %d waiting; want at most %d",
				uploads, held, most, waiting, profile.PictureDecodes)
		}
		if waiting != uploads-profile.PictureDecodes {
			t.Errorf("%d of %d uploads waited for a decode, want %d", waiting, uploads, uploads-profile.PictureDecodes)
		}
		for i, err := range errs {
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
			}
		}
		if n := db.ProfilePicture.Query().CountX(ctx); n != uploads {
			t.Errorf("%d pictures stored, want %d", n, uploads)
		}
	})
}

// TestPictureDecodeBusy: an upload that finds every decode taken for longer than DecodeWait is
// answered Unavailable with a Retry-After; one whose request ends while waiting gets the
// request's end; a decode that fails gives its place back.
func TestPictureDecodeBusy(t *testing.T) {
	svc := profile.New(nil, nil, "", nil)
	svc.DecodeWait = time.Millisecond // the decodes are held until the test lets go, however long it waits
	ctx := context.Background()
	raw := flat16(t, 64, 64)

	started, release := make(chan struct{}, profile.PictureDecodes), make(chan struct{})
	var decodes atomic.Int32
	hold := func() {
		// The first PictureDecodes hold their decode; any further one (there is none while the
		// bound holds) goes on, and the checks below see it succeed.
		if decodes.Add(1) <= profile.PictureDecodes {
			started <- struct{}{}
			<-release
		}
	}
	profile.SetDecodeHooks(svc, nil, hold, nil)
	var wg sync.WaitGroup
	for range profile.PictureDecodes {
		wg.Go(func() {
			if _, _, _, err := svc.Reencode(ctx, raw); err != nil {
				t.Errorf("a held upload: %v", err)
			}
		})
	}
	for range profile.PictureDecodes {
		<-started
	}

	_, _, _, err := svc.Reencode(ctx, raw)
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Unavailable || e.RetryAfter <= 0 {
		t.Errorf("every decode taken: %v, want temporarily_unavailable with a Retry-After", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, _, err := svc.Reencode(canceled, raw); !errors.Is(err, context.Canceled) {
		t.Errorf("request ended while waiting: %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()

	// Pictures whose header passes but whose pixels do not decode, more of them than there are
	// decodes: each must give its decode back, or the next upload finds none.
	profile.SetDecodeHooks(svc, nil, nil, nil)
	truncated := raw[:len(raw)-20]
	for range profile.PictureDecodes + 1 {
		if _, _, _, err := svc.Reencode(ctx, truncated); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a truncated PNG: %v, want not_an_image", err)
		}
	}
	if _, _, _, err := svc.Reencode(ctx, raw); err != nil {
		t.Errorf("after failed decodes: %v", err)
	}
}
