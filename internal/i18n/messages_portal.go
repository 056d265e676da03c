package i18n

// The Developer Portal's page frame (internal/web/portalui); its scripts' messages are in
// messages_script_portal.go.

var portalEN = map[string]any{
	"portal.title.overview":        "Developer Portal",
	"portal.title.apps":            "Applications",
	"portal.title.users":           "Users",
	"portal.title.licenses":        "Licenses",
	"portal.title.synchronisation": "Sync and import",
	"portal.title.invitation":      "Team invitation",
	"portal.title.app":             "Application settings",
	"portal.nav.overview":          "Overview",
	"portal.nav.apps":              "Apps",
	"portal.nav.users":             "Users",
	"portal.nav.licenses":          "Licenses",
	"portal.nav.synchronisation":   "Sync & import",
	"portal.nav.playground":        "Playground",
	"portal.application":           "Application",
	"portal.loading":               "Loading…",
}

var portalFR = map[string]any{
	"portal.title.overview":        "Portail développeurs",
	"portal.title.apps":            "Applications",
	"portal.title.users":           "Utilisateurs",
	"portal.title.licenses":        "Licences",
	"portal.title.synchronisation": "Synchronisation et import",
	"portal.title.invitation":      "Invitation à une équipe",
	"portal.title.app":             "Réglages de l’application",
	"portal.nav.overview":          "Vue d’ensemble",
	"portal.nav.apps":              "Applications",
	"portal.nav.users":             "Utilisateurs",
	"portal.nav.licenses":          "Licences",
	"portal.nav.synchronisation":   "Synchro et import",
	"portal.nav.playground":        "Bac à sable",
	"portal.application":           "Application",
	"portal.loading":               "Chargement…",
}

var portalDE = map[string]any{
	"portal.title.overview":        "Entwicklerportal",
	"portal.title.apps":            "Anwendungen",
	"portal.title.users":           "Nutzer",
	"portal.title.licenses":        "Lizenzen",
	"portal.title.synchronisation": "Synchronisierung und Import",
	"portal.title.invitation":      "Team-Einladung",
	"portal.title.app":             "Einstellungen der Anwendung",
	"portal.nav.overview":          "Übersicht",
	"portal.nav.apps":              "Anwendungen",
	"portal.nav.users":             "Nutzer",
	"portal.nav.licenses":          "Lizenzen",
	"portal.nav.synchronisation":   "Sync & Import",
	"portal.nav.playground":        "Spielwiese",
	"portal.application":           "Anwendung",
	"portal.loading":               "Wird geladen…",
}
