package model

// AppAnalytics is the analytics of one application; each field runs its own query.
type AppAnalytics struct {
	ApplicationID string
}
