package i18n

// The widgets' embedded pages (internal/web/widgets: /embed/login, /embed/banner).

var widgetsEN = map[string]any{
	"widget.error":          "Widget error",
	"widget.no_client":      "client_id is missing.",
	"widget.unknown_client": "No application has this client_id.",
	"widget.pushed_only":    "This application starts sign-ins from its own server (pushed authorization requests); sign in from its site.",
	"widget.internal":       "Something went wrong. Try again later.",
	"widget.bad_position":   "position must be one of top-right, top-left, bottom-right, bottom-left.",
	"widget.bad_redirect":   "redirect_uri is not registered for this application.",
	"widget.banner_title":   "Continue with LoginSign",
	"widget.sign_in_to":     "Sign in to %s",
	"widget.continue_as":    "Continue as %s",
	"widget.dismiss":        "Dismiss",
	"widget.private":        "with LoginSign: the app sees a private address, not your email.",
	"widget.email":          "Email address",
	"widget.continue_email": "Continue with email",

	// The authorization request /embed/login builds, refused as /oauth/authorize would
	// refuse it; %s is the OAuth error description (English, for the developer).
	"widget.bad_request": "This sign-in request is not valid: %s",
}

var widgetsFR = map[string]any{
	"widget.error":          "Erreur du widget",
	"widget.no_client":      "client_id est manquant.",
	"widget.unknown_client": "Aucune application n'a ce client_id.",
	"widget.pushed_only":    "Cette application démarre les connexions depuis son propre serveur (requêtes d'autorisation poussées) ; connectez-vous depuis son site.",
	"widget.internal":       "Une erreur s'est produite. Réessayez plus tard.",
	"widget.bad_position":   "position doit valoir top-right, top-left, bottom-right ou bottom-left.",
	"widget.bad_redirect":   "redirect_uri n'est pas enregistrée pour cette application.",
	"widget.banner_title":   "Continuer avec LoginSign",
	"widget.sign_in_to":     "Se connecter à %s",
	"widget.continue_as":    "Continuer en tant que %s",
	"widget.dismiss":        "Fermer",
	"widget.private":        "avec LoginSign : l'application voit une adresse privée, pas votre e-mail.",
	"widget.email":          "Adresse e-mail",
	"widget.continue_email": "Continuer avec l'e-mail",

	"widget.bad_request": "Cette demande de connexion n'est pas valide : %s",
}

var widgetsDE = map[string]any{
	"widget.error":          "Widget-Fehler",
	"widget.no_client":      "client_id fehlt.",
	"widget.unknown_client": "Keine Anwendung hat diese client_id.",
	"widget.pushed_only":    "Diese Anwendung beginnt Anmeldungen auf ihrem eigenen Server (Pushed Authorization Requests); melden Sie sich auf ihrer Website an.",
	"widget.internal":       "Etwas ist schiefgelaufen. Versuchen Sie es später erneut.",
	"widget.bad_position":   "position muss top-right, top-left, bottom-right oder bottom-left sein.",
	"widget.bad_redirect":   "redirect_uri ist für diese Anwendung nicht registriert.",
	"widget.banner_title":   "Weiter mit LoginSign",
	"widget.sign_in_to":     "Bei %s anmelden",
	"widget.continue_as":    "Weiter als %s",
	"widget.dismiss":        "Schließen",
	"widget.private":        "mit LoginSign: Die App sieht eine private Adresse, nicht Ihre E-Mail.",
	"widget.email":          "E-Mail-Adresse",
	"widget.continue_email": "Weiter mit E-Mail",

	"widget.bad_request": "Diese Anmeldeanfrage ist ungültig: %s",
}
