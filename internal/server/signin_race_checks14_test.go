package server

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// One link, many redeemers at once: of the link's own button pressed in several browsers,
// the code typed in the asking browser and the number approved elsewhere, all sent together,
// exactly one signs anybody in.
func TestOneLinkSignsInOnceWhateverRacesForIt(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	const who = "race@example.com"
	noFollow := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	asker := e.browser()
	asker.CheckRedirect = noFollow
	asker.post(e.base+"/login", url.Values{"email": {who}})
	link, code := e.signInMail(who)
	m := matchRe.FindStringSubmatch(asker.get(e.base + "/login/sent").Body)
	if m == nil {
		t.Fatal("no number on the waiting page")
	}
	lu, _ := url.Parse(link)
	tok := lu.Query().Get("token")

	type try struct {
		client *http.Client
		path   string
		form   url.Values
	}
	var tries []try
	for range 8 {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: noFollow}
		tries = append(tries, try{c, "/login/magic", url.Values{"token": {tok}}})
		jar2, _ := cookiejar.New(nil)
		tries = append(tries, try{&http.Client{Jar: jar2, CheckRedirect: noFollow}, "/login/magic/approve", url.Values{"token": {tok}, "match": {m[1]}}})
	}
	tries = append(tries, try{asker.Client, "/login/code", url.Values{"code": {code}}})

	var wg sync.WaitGroup
	wins := make(chan string, len(tries))
	for _, tr := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := tr.client.PostForm(e.base+tr.path, tr.form)
			if err != nil {
				wins <- "error " + err.Error()
				return
			}
			resp.Body.Close()
			signedIn := false
			for _, c := range resp.Cookies() {
				if strings.HasSuffix(c.Name, "session") && c.Value != "" && c.MaxAge >= 0 {
					signedIn = true
				}
			}
			switch {
			case resp.StatusCode >= 500:
				wins <- tr.path + " answered " + resp.Status
			case signedIn:
				wins <- tr.path + " signed in"
			case tr.path == "/login/magic/approve" && resp.StatusCode == http.StatusOK:
				wins <- tr.path + " approved"
			}
		}()
	}
	wg.Wait()
	close(wins)
	var got []string
	for w := range wins {
		got = append(got, w)
	}
	if len(got) != 1 || strings.Contains(got[0], "answered") || strings.HasPrefix(got[0], "error") {
		t.Fatalf("racing for one link: %q, want exactly one sign-in or approval", got)
	}
}
