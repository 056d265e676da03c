package graph

import (
	"loginsign/graph/model"
	"loginsign/internal/portal"
)

func dayCounts(days []portal.DayCount) []*model.DayCount {
	out := make([]*model.DayCount, len(days))
	for i, d := range days {
		out[i] = &model.DayCount{Day: d.Day, Count: d.Count}
	}
	return out
}

func userFilter(f *model.UserFilter) *portal.UserFilter {
	if f == nil {
		return nil
	}
	return &portal.UserFilter{Active: f.Active, Blocked: f.Blocked, Muted: f.Muted, Region: f.Region,
		JoinedAfter: f.JoinedAfter, JoinedBefore: f.JoinedBefore, LastSessionAfter: f.LastSessionAfter,
		LastSessionBefore: f.LastSessionBefore, Search: deref(f.Search)}
}

func importCounts(c map[string]int) *model.ImportCounts {
	return &model.ImportCounts{
		Imported: c[portal.ImportImported], AlreadyConnected: c[portal.ImportAlreadyConnected],
		// not_found and name_mismatch are only in runs stored before imports became proposals.
		NotFound: c["not_found"], NameMismatch: c["name_mismatch"], InvalidRow: c[portal.ImportInvalidRow],
	}
}
