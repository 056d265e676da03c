package profile_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/profile"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An upload answered 503 because every decode was taken (the server's state, which anyone's
// uploads can cause) uses up none of the person's uploads: with one upload an hour, the
// person uploads once the decodes are free.
func TestAnUploadTurnedAwayBusyGivesItsHitBack(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		users, _ := people(t, db, "pat@example.com")
		svc := profile.New(db, kvtest.Embedded(t), "https://id.example", nil)
		svc.Uploads = ratelimit.Rule{Name: "test-picture-upload-busy", N: 1, Window: time.Hour}
		svc.DecodeWait = time.Millisecond
		raw := flat16(t, 16, 16)

		started, release := make(chan struct{}), make(chan struct{})
		var holding atomic.Bool
		holding.Store(true)
		profile.SetDecodeHooks(svc, nil, func() {
			if holding.Load() {
				started <- struct{}{}
				<-release
			}
		}, nil)
		var wg sync.WaitGroup
		for range profile.PictureDecodes {
			wg.Go(func() {
				if _, _, _, err := svc.Reencode(signedIn(users[0]), raw); err != nil {
					t.Errorf("a held decode: %v", err)
				}
			})
		}
		for range profile.PictureDecodes {
			<-started
		}
		if _, err := svc.SetPicture(signedIn(users[0]), raw); !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("an upload while every decode is taken: %v, want temporarily_unavailable", err)
		}
		holding.Store(false)
		close(release)
		wg.Wait()
		if _, err := svc.SetPicture(signedIn(users[0]), raw); err != nil {
			t.Errorf("the person's one upload of the hour, after a 503: %v, want it stored", err)
		}
	})
}
