package profile

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"loginsign/internal/apperr"
)

// ParseRegion checks a region code: "" (none) or an ISO 3166-1 alpha-2 code of a country or
// territory, any case; it returns the code in capitals. Groupings (EU, UN), private-use and
// deprecated codes are refused.
func ParseRegion(code string) (string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return "", nil
	}
	if _, ok := regionNames()[code]; !ok {
		return "", apperr.WithReason(apperr.Invalid, "invalid_region",
			"region must be an ISO 3166-1 alpha-2 country code such as DE or US")
	}
	return code, nil
}

// RegionName is the English name of an ISO 3166-1 alpha-2 code ("Germany" for DE), "" for ""
// or an unknown code. Connections report it as their region.
func RegionName(code string) string {
	return regionNames()[strings.ToUpper(code)]
}

// Region is one choice of region.
type Region struct{ Code, Name string }

// Regions are every region a person may choose, ordered by English name.
func Regions() []Region { return regionList() }

// notISO are codes CLDR knows as regions that ISO 3166-1 does not assign: groupings (UN, EU,
// EZ), exceptionally reserved codes (AC, CP, CQ, DG, EA, IC, TA) and XK (Kosovo, user-assigned).
var notISO = map[string]bool{"UN": true, "EU": true, "EZ": true, "AC": true, "CP": true, "CQ": true,
	"DG": true, "EA": true, "IC": true, "TA": true, "XK": true}

var regionNames = sync.OnceValue(func() map[string]string {
	names := display.English.Regions()
	out := map[string]string{}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || notISO[code] || !r.IsCountry() || r.IsPrivateUse() || r.String() != code || r.Canonicalize() != r {
				continue
			}
			if n := names.Name(r); n != "" && n != code {
				out[code] = n
			}
		}
	}
	return out
})

var regionList = sync.OnceValue(func() []Region {
	var out []Region
	for c, n := range regionNames() {
		out = append(out, Region{Code: c, Name: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
})

// SuggestedRegion is the region an Accept-Language header names, for prefilling the choice:
// the first language with an explicit region (de-DE → DE), else the region its first language
// most likely implies (fr → FR, ja → JP); "" when neither.
func SuggestedRegion(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return ""
	}
	for _, t := range tags {
		if r, c := t.Region(); c == language.Exact {
			if code, _ := ParseRegion(r.String()); code != "" {
				return code
			}
		}
	}
	if r, c := tags[0].Region(); c != language.No {
		if code, _ := ParseRegion(r.String()); code != "" {
			return code
		}
	}
	return ""
}

// SuggestedRegionOf is SuggestedRegion of r's Accept-Language header.
func SuggestedRegionOf(r *http.Request) string {
	return SuggestedRegion(r.Header.Get("Accept-Language"))
}
