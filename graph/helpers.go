package graph

import (
	"loginsign/graph/model"
	"loginsign/internal/profile"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// profileModel is the GraphQL form of a profile (regionChoices and suggestedRegion resolve on
// their own).
func profileModel(v profile.View) *model.Profile {
	return &model.Profile{Name: optional(v.Name), PictureURL: optional(v.PictureURL),
		Region: optional(v.Region), RegionName: optional(v.RegionName)}
}
