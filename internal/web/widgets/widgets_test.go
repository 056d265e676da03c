package widgets_test

import (
	"fmt"
	"slices"
	"testing"

	"loginsign/ent"
	"loginsign/internal/web/widgets"
)

func TestOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string
		uris    []string
		want    []string
	}{
		{"none", nil, nil, nil},
		{"from redirect URIs, deduplicated", nil, []string{"https://a.example/cb", "https://a.example/other", "http://localhost:3000/cb"}, []string{"https://a.example", "http://localhost:3000"}},
		{"allowed origins first, trailing slash dropped", []string{"https://www.a.example/"}, []string{"https://a.example/cb"}, []string{"https://www.a.example", "https://a.example"}},
		{"native app schemes cannot frame", nil, []string{"com.example.app:/cb", "https://a.example:8443/cb"}, []string{"https://a.example:8443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := widgets.Origins(&ent.Application{AllowedOrigins: tt.allowed, RedirectUris: tt.uris})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Origins = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkOrigins: Origins runs on anonymous /embed requests, so its cost per origin should
// stay flat as the stored lists grow (allowedOrigins is capped at 50 now; a 1 MiB settings body
// held about 60,000 before). A de-duplication that scans the list for each entry grows with n.
func BenchmarkOrigins(b *testing.B) {
	for _, n := range []int{50, 60000} {
		app := &ent.Application{AllowedOrigins: make([]string, n), RedirectUris: make([]string, n)}
		for i := range n {
			app.AllowedOrigins[i] = fmt.Sprintf("https://a%d.example", i)
			app.RedirectUris[i] = fmt.Sprintf("https://r%d.example/cb", i)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if got := widgets.Origins(app); len(got) != 2*n {
					b.Fatalf("%d origins, want %d", len(got), 2*n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*n), "ns/origin")
		})
	}
}
