package i18n

// The mails other than the sign-in mail (whose keys are in messages.go). A %s that names an
// address or an app is shown in bold in the HTML part (mail wraps it), so the messages hold no
// markup themselves.

var enMail = map[string]any{
	"mail.copy":        "Or copy this link into your browser:",
	"mail.unknown_app": "An application",
	"mail.when_utc":    "%s (UTC)",

	"mail.verify.subject": "Confirm your email address for LoginSign",
	"mail.verify.title":   "Confirm your email address",
	"mail.verify.added":   "Someone (hopefully you) added %s as an alternative address of a LoginSign account.",
	"mail.verify.open":    "Open this link to confirm it:",
	"mail.verify.button":  "Confirm address",
	"mail.verify.until":   "Until it is confirmed, the address cannot be used to recover the account. If this was not you, ignore this mail and the address will not be added.",

	"mail.export.subject": "A copy of your LoginSign data was downloaded",
	"mail.export.title":   "A copy of your data was downloaded",
	"mail.export.body":    "A copy of everything LoginSign holds about your account (%[1]s) was downloaded on %[2]s.",
	"mail.export.not_you": "If this was not you, sign out of every other session from your dashboard and check your addresses and connected apps.",

	"mail.change_confirm.subject": "Confirm your new LoginSign address",
	"mail.change_confirm.asked":   "%[1]s asked LoginSign to make %[2]s the primary address of a LoginSign account. Nothing changes unless you confirm.",
	"mail.change_confirm.open":    "Open this link in a browser where you are signed in to that LoginSign account:",
	"mail.change_confirm.button":  "Review the change",
	"mail.change_confirm.expires": "The link works once and expires in %s. If you did not expect this, ignore this mail: the address will not change.",

	"mail.change_notice.subject": "A change of your LoginSign address was requested",
	"mail.change_notice.asked":   "%[1]s asked LoginSign to change the primary address of your account from %[2]s to %[3]s. Nothing changes unless that change is confirmed from the new mailbox in a browser signed in to your account.",
	"mail.change_notice.cancel":  "If this wasn't you, cancel the request:",
	"mail.change_notice.button":  "This wasn't me: cancel",

	"mail.notice.subject":                         "LoginSign security notice: %s",
	"mail.notice.happened":                        "%[1]s on your LoginSign account (%[2]s) on %[3]s.",
	"mail.notice.advice":                          "If this was you, there is nothing to do. If it was not, open your account, remove what you do not recognise and sign out every other session:",
	"mail.notice.button":                          "Review your account",
	"mail.notice.passkey_added.headline":          "A passkey was added",
	"mail.notice.passkey_added.what":              "A passkey was added",
	"mail.notice.passkey_removed.headline":        "A passkey was removed",
	"mail.notice.passkey_removed.what":            "A passkey was removed",
	"mail.notice.totp_added.headline":             "Two-step verification was turned on",
	"mail.notice.totp_added.what":                 "An authenticator app was set up for two-step verification",
	"mail.notice.totp_removed.headline":           "Two-step verification was turned off",
	"mail.notice.totp_removed.what":               "Two-step verification with an authenticator app was turned off",
	"mail.notice.recovery_code_used.headline":     "A recovery code was used",
	"mail.notice.recovery_code_used.what":         "One of your recovery codes was used for two-step verification (it cannot be used again)",
	"mail.notice.recovery_codes_renewed.headline": "New recovery codes were made",
	"mail.notice.recovery_codes_renewed.what":     "Your recovery codes were replaced by ten new ones (the old ones no longer work)",
}

var frMail = map[string]any{
	"mail.copy":        "Ou copiez ce lien dans votre navigateur :",
	"mail.unknown_app": "Une application",
	"mail.when_utc":    "%s (UTC)",

	"mail.verify.subject": "Confirmez votre adresse e-mail pour LoginSign",
	"mail.verify.title":   "Confirmez votre adresse e-mail",
	"mail.verify.added":   "Quelqu’un (vous, espérons-le) a ajouté %s comme adresse secondaire d’un compte LoginSign.",
	"mail.verify.open":    "Ouvrez ce lien pour la confirmer :",
	"mail.verify.button":  "Confirmer l’adresse",
	"mail.verify.until":   "Tant qu’elle n’est pas confirmée, l’adresse ne peut pas servir à récupérer le compte. Si ce n’était pas vous, ignorez ce message et l’adresse ne sera pas ajoutée.",

	"mail.export.subject": "Une copie de vos données LoginSign a été téléchargée",
	"mail.export.title":   "Une copie de vos données a été téléchargée",
	"mail.export.body":    "Une copie de tout ce que LoginSign détient sur votre compte (%[1]s) a été téléchargée le %[2]s.",
	"mail.export.not_you": "Si ce n’était pas vous, déconnectez toutes les autres sessions depuis votre tableau de bord et vérifiez vos adresses et les applications connectées.",

	"mail.change_confirm.subject": "Confirmez votre nouvelle adresse LoginSign",
	"mail.change_confirm.asked":   "%[1]s a demandé à LoginSign de faire de %[2]s l’adresse principale d’un compte LoginSign. Rien ne change sans votre confirmation.",
	"mail.change_confirm.open":    "Ouvrez ce lien dans un navigateur où vous êtes connecté à ce compte LoginSign :",
	"mail.change_confirm.button":  "Examiner le changement",
	"mail.change_confirm.expires": "Le lien est valable une fois et expire dans %s. Si vous ne vous y attendiez pas, ignorez ce message : l’adresse ne changera pas.",

	"mail.change_notice.subject": "Un changement de votre adresse LoginSign a été demandé",
	"mail.change_notice.asked":   "%[1]s a demandé à LoginSign de remplacer l’adresse principale de votre compte, %[2]s, par %[3]s. Rien ne change tant que ce changement n’est pas confirmé depuis la nouvelle boîte aux lettres, dans un navigateur connecté à votre compte.",
	"mail.change_notice.cancel":  "Si ce n’était pas vous, annulez la demande :",
	"mail.change_notice.button":  "Ce n’était pas moi : annuler",

	"mail.notice.subject":                         "Avis de sécurité LoginSign : %s",
	"mail.notice.happened":                        "%[1]s sur votre compte LoginSign (%[2]s) le %[3]s.",
	"mail.notice.advice":                          "Si c’était vous, il n’y a rien à faire. Sinon, ouvrez votre compte, supprimez ce que vous ne reconnaissez pas et déconnectez toutes les autres sessions :",
	"mail.notice.button":                          "Vérifier votre compte",
	"mail.notice.passkey_added.headline":          "Une clé d’accès a été ajoutée",
	"mail.notice.passkey_added.what":              "Une clé d’accès a été ajoutée",
	"mail.notice.passkey_removed.headline":        "Une clé d’accès a été supprimée",
	"mail.notice.passkey_removed.what":            "Une clé d’accès a été supprimée",
	"mail.notice.totp_added.headline":             "La vérification en deux étapes a été activée",
	"mail.notice.totp_added.what":                 "Une application d’authentification a été configurée pour la vérification en deux étapes",
	"mail.notice.totp_removed.headline":           "La vérification en deux étapes a été désactivée",
	"mail.notice.totp_removed.what":               "La vérification en deux étapes par application d’authentification a été désactivée",
	"mail.notice.recovery_code_used.headline":     "Un code de récupération a été utilisé",
	"mail.notice.recovery_code_used.what":         "L’un de vos codes de récupération a été utilisé pour la vérification en deux étapes (il ne peut plus servir)",
	"mail.notice.recovery_codes_renewed.headline": "De nouveaux codes de récupération ont été créés",
	"mail.notice.recovery_codes_renewed.what":     "Vos codes de récupération ont été remplacés par dix nouveaux (les anciens ne fonctionnent plus)",
}

var deMail = map[string]any{
	"mail.copy":        "Oder kopieren Sie diesen Link in Ihren Browser:",
	"mail.unknown_app": "Eine Anwendung",
	"mail.when_utc":    "%s (UTC)",

	"mail.verify.subject": "Bestätigen Sie Ihre E-Mail-Adresse für LoginSign",
	"mail.verify.title":   "Bestätigen Sie Ihre E-Mail-Adresse",
	"mail.verify.added":   "Jemand (hoffentlich Sie) hat %s als weitere Adresse eines LoginSign-Kontos hinzugefügt.",
	"mail.verify.open":    "Öffnen Sie diesen Link, um sie zu bestätigen:",
	"mail.verify.button":  "Adresse bestätigen",
	"mail.verify.until":   "Solange sie nicht bestätigt ist, kann die Adresse nicht zur Wiederherstellung des Kontos dienen. Wenn Sie das nicht waren, ignorieren Sie diese E-Mail, und die Adresse wird nicht hinzugefügt.",

	"mail.export.subject": "Eine Kopie Ihrer LoginSign-Daten wurde heruntergeladen",
	"mail.export.title":   "Eine Kopie Ihrer Daten wurde heruntergeladen",
	"mail.export.body":    "Eine Kopie von allem, was LoginSign über Ihr Konto (%[1]s) speichert, wurde am %[2]s heruntergeladen.",
	"mail.export.not_you": "Wenn Sie das nicht waren, melden Sie in Ihrem Dashboard alle anderen Sitzungen ab und prüfen Sie Ihre Adressen und verbundenen Apps.",

	"mail.change_confirm.subject": "Bestätigen Sie Ihre neue LoginSign-Adresse",
	"mail.change_confirm.asked":   "%[1]s hat LoginSign gebeten, %[2]s zur Hauptadresse eines LoginSign-Kontos zu machen. Ohne Ihre Bestätigung ändert sich nichts.",
	"mail.change_confirm.open":    "Öffnen Sie diesen Link in einem Browser, in dem Sie bei diesem LoginSign-Konto angemeldet sind:",
	"mail.change_confirm.button":  "Änderung prüfen",
	"mail.change_confirm.expires": "Der Link gilt einmal und läuft in %s ab. Wenn Sie das nicht erwartet haben, ignorieren Sie diese E-Mail: Die Adresse ändert sich nicht.",

	"mail.change_notice.subject": "Eine Änderung Ihrer LoginSign-Adresse wurde angefordert",
	"mail.change_notice.asked":   "%[1]s hat LoginSign gebeten, die Hauptadresse Ihres Kontos von %[2]s in %[3]s zu ändern. Es ändert sich nichts, solange die Änderung nicht aus dem neuen Postfach in einem Browser bestätigt wird, der bei Ihrem Konto angemeldet ist.",
	"mail.change_notice.cancel":  "Wenn Sie das nicht waren, brechen Sie die Anfrage ab:",
	"mail.change_notice.button":  "Das war ich nicht: abbrechen",

	"mail.notice.subject":                         "LoginSign-Sicherheitshinweis: %s",
	"mail.notice.happened":                        "Bei Ihrem LoginSign-Konto (%[2]s) am %[3]s: %[1]s.",
	"mail.notice.advice":                          "Wenn Sie das waren, ist nichts zu tun. Wenn nicht, öffnen Sie Ihr Konto, entfernen Sie, was Sie nicht kennen, und melden Sie alle anderen Sitzungen ab:",
	"mail.notice.button":                          "Konto prüfen",
	"mail.notice.passkey_added.headline":          "Ein Passkey wurde hinzugefügt",
	"mail.notice.passkey_added.what":              "Ein Passkey wurde hinzugefügt",
	"mail.notice.passkey_removed.headline":        "Ein Passkey wurde entfernt",
	"mail.notice.passkey_removed.what":            "Ein Passkey wurde entfernt",
	"mail.notice.totp_added.headline":             "Die Bestätigung in zwei Schritten wurde eingeschaltet",
	"mail.notice.totp_added.what":                 "Eine Authentifizierungs-App wurde für die Bestätigung in zwei Schritten eingerichtet",
	"mail.notice.totp_removed.headline":           "Die Bestätigung in zwei Schritten wurde ausgeschaltet",
	"mail.notice.totp_removed.what":               "Die Bestätigung in zwei Schritten mit einer Authentifizierungs-App wurde ausgeschaltet",
	"mail.notice.recovery_code_used.headline":     "Ein Wiederherstellungscode wurde verwendet",
	"mail.notice.recovery_code_used.what":         "Einer Ihrer Wiederherstellungscodes wurde für die Bestätigung in zwei Schritten verwendet (er kann nicht erneut verwendet werden)",
	"mail.notice.recovery_codes_renewed.headline": "Neue Wiederherstellungscodes wurden erstellt",
	"mail.notice.recovery_codes_renewed.what":     "Ihre Wiederherstellungscodes wurden durch zehn neue ersetzt (die alten funktionieren nicht mehr)",
}
