package relay_test

import (
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestForwardKeepsOnlyWebListCommands: besides List-Unsubscribe, a list's header names its
// help, subscribe, owner and archive commands (RFC 2369), which mail clients offer as menu
// entries (Evolution's Actions > Mailing List, Claws Mail's Mailing-List menu, mutt's list
// actions). A mailto: one is a mail the client writes from the person's real address, to an
// address the sender chose: a forward keeps only their http(s) URIs, and removes the field
// when none is left.
func TestForwardKeepsOnlyWebListCommands(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		msg := []byte("From: News <news@list.test>\r\n" +
			"To: " + alias + "\r\n" +
			"List-Id: News <news.list.test>\r\n" +
			"List-Help: <mailto:help-u1@list.test?subject=help>\r\n" +
			"List-Subscribe: <mailto:join-u1@list.test>,\r\n <https://list.test/join>\r\n" +
			"List-Owner: <mailto:owner-u1@list.test> (Contact Person for Help)\r\n" +
			"List-Archive: <https://list.test/archive>\r\n" +
			"Subject: News\r\n\r\nnews\r\n")
		if err := send(f.addr, "bounce@list.test", []string{alias}, msg); err != nil {
			t.Fatalf("send: %v", err)
		}
		h := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		for key, want := range map[string]string{
			"List-Id":        "News <news.list.test>",
			"List-Help":      "",
			"List-Subscribe": "<https://list.test/join>",
			"List-Owner":     "",
			"List-Archive":   "<https://list.test/archive>",
		} {
			if got := h.Get(key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if h.Has("List-Help") || h.Has("List-Owner") {
			t.Errorf("mailto-only list commands kept: List-Help %q, List-Owner %q", h.Get("List-Help"), h.Get("List-Owner"))
		}
	})
}
