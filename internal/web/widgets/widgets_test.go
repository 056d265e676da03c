package widgets_test

import (
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
