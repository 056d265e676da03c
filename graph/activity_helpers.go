package graph

import (
	"slices"
	"strings"

	"loginsign/graph/model"
	"loginsign/internal/activity"
)

func activityFilter(types []model.ActivityEventType, appID *string) activity.Filter {
	f := activity.Filter{}
	for _, t := range types {
		f.Types = append(f.Types, activity.Type(strings.ToLower(string(t))))
	}
	if appID != nil {
		f.ApplicationID = *appID
	}
	return f
}

func activityPage(first *int, after *string) (activity.Page, error) {
	p := activity.Page{}
	if first != nil {
		p.First = *first
		if p.First == 0 {
			p.First = -1 // out of range, answered as such
		}
	}
	if after != nil {
		if *after == "" {
			// Refused as every list's empty cursor is (Page.After "" is no cursor at all).
			return p, activity.BadCursor()
		}
		p.After = *after
	}
	return p, nil
}

func activityPageOf(l *activity.List) *model.ActivityEventPage {
	out := &model.ActivityEventPage{NextCursor: optional(l.NextCursor), Events: make([]*model.ActivityLogEntry, 0, len(l.Events))}
	for _, e := range l.Events {
		keys := make([]string, 0, len(e.Details))
		for k := range e.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		details := make([]*model.ActivityDetail, 0, len(keys))
		for _, k := range keys {
			details = append(details, &model.ActivityDetail{Key: k, Value: e.Details[k]})
		}
		out.Events = append(out.Events, &model.ActivityLogEntry{ID: e.ID, Type: model.ActivityEventType(strings.ToUpper(string(e.Type))),
			Actor: model.ActivityActor(strings.ToUpper(string(e.Actor))), ApplicationID: optional(e.ApplicationID),
			ApplicationName: optional(e.ApplicationName), ConnectionID: optional(e.ConnectionID), Details: details, At: e.At})
	}
	return out
}
