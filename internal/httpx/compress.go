package httpx

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// compressedPrefixes are the paths whose responses are gzip-compressed (when the client
// accepts it): GraphQL, the REST API, the discovery documents and the API description (the
// static assets, widgets and playground are stored gzipped and served as such). None of them is an HTML page that echoes a request's
// input next to a secret of the person's: BREACH needs both in one compressed response, plus
// an attacker who can make the victim's browser send credentialed requests and watch the
// sizes. The session cookie is SameSite=Lax, so cross-site requests carry no session, and
// GraphQL and the REST API answer cookie-authenticated writes only from this origin; as a
// further margin every compressed response gets random padding (gzhttp's RandomJitter), so
// its length does not follow its content byte for byte.
//
// Not compressed: the HTML pages (the sign-in and consent pages carry one-time tokens in
// their forms next to reflected query parameters), /oauth/* and GET /api/user (tokens and
// profiles, small bodies: the wrapper cost 6 % of /api/user's CPU for nothing) and
// anything streamed (text/event-stream), which a compressor would hold back.
var compressedPrefixes = []string{"/graphql", "/api/", "/.well-known/", "/openapi.json", "/docs"}

// Compress gzip-compresses the responses of compressedPrefixes larger than 1 kB.
func Compress(next http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.MinSize(1024),
		gzhttp.ExceptContentTypes([]string{"text/event-stream", "image/png", "image/jpeg", "application/octet-stream"}),
		gzhttp.RandomJitter(32, 0, false),
	)
	if err != nil {
		panic(err) // the options above are constant
	}
	gz := wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/user" {
			next.ServeHTTP(w, r)
			return
		}
		for _, p := range compressedPrefixes {
			if strings.HasPrefix(r.URL.Path, p) {
				gz.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
