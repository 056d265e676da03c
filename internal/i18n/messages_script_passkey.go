package i18n

// The messages passkey.js shows on the login page (LS.t; the login template embeds them).

var scriptPasskeyEN = map[string]any{
	"passkey.unavailable": "Passkey sign-in is not available right now.",
	"passkey.none_chosen": "No passkey was chosen.",
	"passkey.failed":      "Passkey sign-in failed.",
}

var scriptPasskeyFR = map[string]any{
	"passkey.unavailable": "La connexion par clé d’accès n’est pas disponible pour le moment.",
	"passkey.none_chosen": "Aucune clé d’accès n’a été choisie.",
	"passkey.failed":      "La connexion par clé d’accès a échoué.",
}

var scriptPasskeyDE = map[string]any{
	"passkey.unavailable": "Die Anmeldung mit Passkey ist gerade nicht verfügbar.",
	"passkey.none_chosen": "Es wurde kein Passkey ausgewählt.",
	"passkey.failed":      "Die Anmeldung mit Passkey ist fehlgeschlagen.",
}
