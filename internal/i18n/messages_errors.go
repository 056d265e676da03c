package i18n

import "golang.org/x/text/feature/plural"

// errorMessages translates the messages of the domain errors people see (apperr.New and
// apperr.WithReason in the packages behind the pages, the dashboard and the person's REST
// routes; TestPersonFacingErrorsAreTranslated lists them): the key is the English fmt format
// as written at the call, the value its French and German. A translation uses the same verbs.
// Messages only developers see (the developer and app-backend APIs) stay English.
var errorMessages = map[string][2]any{
	// Any route (apperr.As): text PostgreSQL refused.
	"text may not hold NUL characters or bytes that are not UTF-8": {"le texte ne peut contenir ni caractère NUL ni octets hors UTF-8", "Text darf weder NUL-Zeichen noch Bytes enthalten, die kein UTF-8 sind"},
	// Sign-in (pages).
	"that code is not right; %d attempts left":                                                             {plural.Selectf(1, "%d", "one", "ce code n’est pas le bon ; il reste %d essai", "other", "ce code n’est pas le bon ; il reste %d essais"), plural.Selectf(1, "%d", "one", "dieser Code stimmt nicht; noch %d Versuch", "other", "dieser Code stimmt nicht; noch %d Versuche")},
	"that is not the number the other device shows; %d attempts left":                                      {plural.Selectf(1, "%d", "one", "ce n’est pas le nombre affiché par l’autre appareil ; il reste %d essai", "other", "ce n’est pas le nombre affiché par l’autre appareil ; il reste %d essais"), plural.Selectf(1, "%d", "one", "das ist nicht die Zahl, die das andere Gerät zeigt; noch %d Versuch", "other", "das ist nicht die Zahl, die das andere Gerät zeigt; noch %d Versuche")},
	"a link was sent moments ago; you can send another in %d seconds":                                      {"un lien vient d’être envoyé ; vous pourrez en envoyer un autre dans %d secondes", "gerade wurde ein Link gesendet; Sie können in %d Sekunden einen weiteren senden"},
	"no other browser is waiting for this link; sign in here":                                              {"aucun autre navigateur n’attend ce lien ; connectez-vous ici", "kein anderer Browser wartet auf diesen Link; melden Sie sich hier an"},
	"this browser has no cookie; allow cookies for LoginSign":                                              {"ce navigateur n’a pas de cookie ; autorisez les cookies pour LoginSign", "dieser Browser hat kein Cookie; erlauben Sie Cookies für LoginSign"},
	"this code has expired or its link was used; ask for a new one":                                        {"ce code a expiré ou son lien a été utilisé ; demandez-en un nouveau", "dieser Code ist abgelaufen oder sein Link wurde verwendet; fordern Sie einen neuen an"},
	"this code was already used; you are signed in":                                                        {"ce code a déjà été utilisé ; vous êtes connecté", "dieser Code wurde bereits verwendet; Sie sind angemeldet"},
	"this link is too old to send a new one; type your email address":                                      {"ce lien est trop ancien pour en envoyer un nouveau ; saisissez votre adresse e-mail", "dieser Link ist zu alt, um einen neuen zu senden; geben Sie Ihre E-Mail-Adresse ein"},
	"this link was asked for in another browser; type your email address to get a new one":                 {"ce lien a été demandé dans un autre navigateur ; saisissez votre adresse e-mail pour en recevoir un nouveau", "dieser Link wurde in einem anderen Browser angefordert; geben Sie Ihre E-Mail-Adresse ein, um einen neuen zu erhalten"},
	"this sign-in has already finished":                                                                    {"cette connexion est déjà terminée", "diese Anmeldung ist bereits abgeschlossen"},
	"this sign-in was not approved":                                                                        {"cette connexion n’a pas été approuvée", "diese Anmeldung wurde nicht bestätigt"},
	"the code has 6 digits":                                                                                {"le code comporte 6 chiffres", "der Code hat 6 Ziffern"},
	"too many wrong codes; use the link in the mail or send a new one":                                     {"trop de codes erronés ; utilisez le lien de l’e-mail ou envoyez-en un nouveau", "zu viele falsche Codes; verwenden Sie den Link in der E-Mail oder senden Sie einen neuen"},
	"too many wrong numbers; sign in on this device instead, or start again on the other device":           {"trop de nombres erronés ; connectez-vous plutôt sur cet appareil, ou recommencez sur l’autre appareil", "zu viele falsche Zahlen; melden Sie sich stattdessen auf diesem Gerät an oder beginnen Sie auf dem anderen Gerät von vorn"},
	"you are already signed in":                                                                            {"vous êtes déjà connecté", "Sie sind bereits angemeldet"},
	"this application no longer exists":                                                                    {"cette application n’existe plus", "diese Anwendung gibt es nicht mehr"},
	"this sign-in has expired; start again from the app":                                                   {"cette connexion a expiré ; recommencez depuis l’application", "diese Anmeldung ist abgelaufen; beginnen Sie erneut in der App"},
	"this sign-in link is no longer valid: the account's addresses or sessions changed; ask for a new one": {"ce lien de connexion n’est plus valable : les adresses ou les sessions du compte ont changé ; demandez-en un nouveau", "dieser Anmeldelink ist nicht mehr gültig: Die Adressen oder Sitzungen des Kontos haben sich geändert; fordern Sie einen neuen an"},
	"this sign-in link was already used or has expired; ask for a new one":                                 {"ce lien de connexion a déjà été utilisé ou a expiré ; demandez-en un nouveau", "dieser Anmeldelink wurde bereits verwendet oder ist abgelaufen; fordern Sie einen neuen an"},
	"this sign-in was started in another browser; start again from the app":                                {"cette connexion a été commencée dans un autre navigateur ; recommencez depuis l’application", "diese Anmeldung wurde in einem anderen Browser begonnen; beginnen Sie erneut in der App"},
	"too many attempts; try again in a few minutes":                                                        {"trop de tentatives ; réessayez dans quelques minutes", "zu viele Versuche; versuchen Sie es in ein paar Minuten erneut"},
	"passkeys are not available":                                                                           {"les clés d’accès ne sont pas disponibles", "Passkeys sind nicht verfügbar"},
	"this sign-in has expired; ask for a new link":                                                         {"cette connexion a expiré ; demandez un nouveau lien", "diese Anmeldung ist abgelaufen; fordern Sie einen neuen Link an"},
	"this sign-in was started in another browser":                                                          {"cette connexion a été commencée dans un autre navigateur", "diese Anmeldung wurde in einem anderen Browser begonnen"},
	"two-step verification is not available":                                                               {"la vérification en deux étapes n’est pas disponible", "die Bestätigung in zwei Schritten ist nicht verfügbar"},
	"action must be allow, allow_link or deny":                                                             {"l’action doit être allow, allow_link ou deny", "die Aktion muss allow, allow_link oder deny sein"},
	"the form is larger than %d bytes":                                                                     {"le formulaire dépasse %d octets", "das Formular ist größer als %d Byte"},
	"malformed form":                                                                                       {"formulaire mal formé", "fehlerhaftes Formular"},
	"too many requests; retry later":                                                                       {"trop de requêtes ; réessayez plus tard", "zu viele Anfragen; versuchen Sie es später erneut"},

	// Addresses and account (dashboard, the pages behind mailed links).
	"%q is not a valid email address":      {"%q n’est pas une adresse e-mail valide", "%q ist keine gültige E-Mail-Adresse"},
	"%s is already linked to your account": {"%s est déjà liée à votre compte", "%s ist bereits mit Ihrem Konto verknüpft"},
	"%s is a LoginSign relay address: it forwards to an account and cannot be one of its addresses": {"%s est une adresse relais LoginSign : elle renvoie vers un compte et ne peut pas être l’une de ses adresses", "%s ist eine LoginSign-Weiterleitungsadresse: Sie leitet an ein Konto weiter und kann keine seiner Adressen sein"},
	"%s is already your primary address":                     {"%s est déjà votre adresse principale", "%s ist bereits Ihre Hauptadresse"},
	"at most %d alternative addresses":                       {"au plus %d adresses secondaires", "höchstens %d weitere Adressen"},
	"confirm %s before making it your primary address":       {"confirmez %s avant d’en faire votre adresse principale", "bestätigen Sie %s, bevor Sie sie zu Ihrer Hauptadresse machen"},
	"connection not found":                                   {"connexion d’application introuvable", "Verbindung nicht gefunden"},
	"delete your applications in the Developer Portal first": {"supprimez d’abord vos applications dans le portail développeur", "löschen Sie zuerst Ihre Anwendungen im Entwicklerportal"},
	"email is required":                                      {"l’adresse e-mail est obligatoire", "die E-Mail-Adresse ist erforderlich"},
	"an account with this email already exists":              {"un compte avec cette adresse e-mail existe déjà", "ein Konto mit dieser E-Mail-Adresse existiert bereits"},
	"name is longer than 200 characters":                     {"le nom dépasse 200 caractères", "der Name ist länger als 200 Zeichen"},
	"no session":                                             {"aucune session", "keine Sitzung"},
	"session expired":                                        {"la session a expiré", "die Sitzung ist abgelaufen"},
	"session not found":                                      {"session introuvable", "Sitzung nicht gefunden"},
	"sign in first":                                          {"connectez-vous d’abord", "melden Sie sich zuerst an"},
	"for your safety, sign in again to do this: your last sign-in was more than %d minutes ago": {"par sécurité, reconnectez-vous pour faire cela : votre dernière connexion date de plus de %d minutes", "zu Ihrer Sicherheit melden Sie sich dafür erneut an: Ihre letzte Anmeldung liegt mehr als %d Minuten zurück"},
	"pending link not found": {"demande de liaison introuvable", "ausstehende Verknüpfung nicht gefunden"},
	"sign in to the LoginSign account that added this address, then confirm again":                                   {"connectez-vous au compte LoginSign qui a ajouté cette adresse, puis confirmez à nouveau", "melden Sie sich bei dem LoginSign-Konto an, das diese Adresse hinzugefügt hat, und bestätigen Sie dann erneut"},
	"sign in to the LoginSign account this change is for, then confirm again":                                        {"connectez-vous au compte LoginSign concerné par ce changement, puis confirmez à nouveau", "melden Sie sich bei dem LoginSign-Konto an, das diese Änderung betrifft, und bestätigen Sie dann erneut"},
	"the verification link is invalid, used or expired":                                                              {"le lien de vérification n’est pas valable, a déjà servi ou a expiré", "der Bestätigungslink ist ungültig, wurde verwendet oder ist abgelaufen"},
	"this address belongs to another LoginSign account":                                                              {"cette adresse appartient à un autre compte LoginSign", "diese Adresse gehört zu einem anderen LoginSign-Konto"},
	"this address was added by another LoginSign account than the one you are signed in to; nothing was changed":     {"cette adresse a été ajoutée par un autre compte LoginSign que celui auquel vous êtes connecté ; rien n’a été modifié", "diese Adresse wurde von einem anderen LoginSign-Konto hinzugefügt als dem, bei dem Sie angemeldet sind; es wurde nichts geändert"},
	"this change was requested for another LoginSign account than the one you are signed in to; nothing was changed": {"ce changement a été demandé pour un autre compte LoginSign que celui auquel vous êtes connecté ; rien n’a été modifié", "diese Änderung wurde für ein anderes LoginSign-Konto angefordert als das, bei dem Sie angemeldet sind; es wurde nichts geändert"},
	"this link was already used, was cancelled, or has expired":                                                      {"ce lien a déjà été utilisé, a été annulé ou a expiré", "dieser Link wurde bereits verwendet, wurde abgebrochen oder ist abgelaufen"},
	"your primary address changed since this request was made; nothing was changed":                                  {"votre adresse principale a changé depuis cette demande ; rien n’a été modifié", "Ihre Hauptadresse hat sich seit dieser Anfrage geändert; es wurde nichts geändert"},
	"type your Global User ID to confirm":                                                                            {"saisissez votre identifiant global d’utilisateur pour confirmer", "geben Sie zur Bestätigung Ihre globale Benutzer-ID ein"},
	"user not found":                                                                                                 {"utilisateur introuvable", "Benutzer nicht gefunden"},
	"too many changes of your primary address; try again in %d s":                                                    {"trop de changements de votre adresse principale ; réessayez dans %d s", "zu viele Änderungen Ihrer Hauptadresse; versuchen Sie es in %d s erneut"},
	"too many verification mails; try again in %d s":                                                                 {"trop d’e-mails de vérification ; réessayez dans %d s", "zu viele Bestätigungs-E-Mails; versuchen Sie es in %d s erneut"},

	// Passkeys and two-step verification.
	"a passkey name has at most %d characters":                                 {"le nom d’une clé d’accès comporte au plus %d caractères", "ein Passkey-Name hat höchstens %d Zeichen"},
	"adding the passkey took too long; start again":                            {"l’ajout de la clé d’accès a pris trop de temps ; recommencez", "das Hinzufügen des Passkeys hat zu lange gedauert; beginnen Sie erneut"},
	"passkey not found":                                                        {"clé d’accès introuvable", "Passkey nicht gefunden"},
	"the passkey could not be verified: %s":                                    {"la clé d’accès n’a pas pu être vérifiée : %s", "der Passkey konnte nicht geprüft werden: %s"},
	"the passkey did not verify you (PIN or biometrics); use one that does":    {"la clé d’accès ne vous a pas vérifié (code PIN ou biométrie) ; utilisez-en une qui le fait", "der Passkey hat Sie nicht geprüft (PIN oder Biometrie); verwenden Sie einen, der das tut"},
	"the passkey response is malformed":                                        {"la réponse de la clé d’accès est mal formée", "die Antwort des Passkeys ist fehlerhaft"},
	"the passkey response is too large":                                        {"la réponse de la clé d’accès est trop volumineuse", "die Antwort des Passkeys ist zu groß"},
	"this passkey could not confirm it is you":                                 {"cette clé d’accès n’a pas pu confirmer que c’est vous", "dieser Passkey konnte nicht bestätigen, dass Sie es sind"},
	"confirming with your passkey took too long; try again":                    {"la confirmation avec votre clé d’accès a pris trop de temps ; réessayez", "die Bestätigung mit Ihrem Passkey hat zu lange gedauert; versuchen Sie es erneut"},
	"you have no passkey: confirm with a code instead":                         {"vous n’avez pas de clé d’accès : confirmez plutôt avec un code", "Sie haben keinen Passkey: bestätigen Sie stattdessen mit einem Code"},
	"this passkey could not sign you in":                                       {"cette clé d’accès n’a pas pu vous connecter", "mit diesem Passkey konnten Sie nicht angemeldet werden"},
	"this passkey is already registered":                                       {"cette clé d’accès est déjà enregistrée", "dieser Passkey ist bereits registriert"},
	"another passkey is being added to your account; try again in a moment":    {"une autre clé d’accès est en cours d’ajout à votre compte ; réessayez dans un instant", "gerade wird Ihrem Konto ein anderer Passkey hinzugefügt; versuchen Sie es gleich noch einmal"},
	"this passkey sign-in expired or was used; try again":                      {"cette connexion par clé d’accès a expiré ou a déjà servi ; réessayez", "diese Passkey-Anmeldung ist abgelaufen oder wurde verwendet; versuchen Sie es erneut"},
	"too many passkeys; remove one first":                                      {"trop de clés d’accès ; supprimez-en une d’abord", "zu viele Passkeys; entfernen Sie zuerst einen"},
	"you have %d passkeys, the most an account may have; remove one first":     {"vous avez %d clés d’accès, le maximum pour un compte ; supprimez-en une d’abord", "Sie haben %d Passkeys, die Höchstzahl für ein Konto; entfernen Sie zuerst einen"},
	"the code is wrong or expired; enter the current code from your app":       {"le code est erroné ou a expiré ; saisissez le code actuel de votre application", "der Code ist falsch oder abgelaufen; geben Sie den aktuellen Code aus Ihrer App ein"},
	"enter a current code from your authenticator app, or a recovery code":     {"saisissez un code actuel de votre application d’authentification, ou un code de récupération", "geben Sie einen aktuellen Code aus Ihrer Authenticator-App oder einen Wiederherstellungscode ein"},
	"the code is wrong or was already used":                                    {"le code est erroné ou a déjà été utilisé", "der Code ist falsch oder wurde bereits verwendet"},
	"the set-up has expired; start again":                                      {"la configuration a expiré ; recommencez", "die Einrichtung ist abgelaufen; beginnen Sie erneut"},
	"two-step verification is already on":                                      {"la vérification en deux étapes est déjà activée", "die Bestätigung in zwei Schritten ist bereits eingeschaltet"},
	"two-step verification is off":                                             {"la vérification en deux étapes est désactivée", "die Bestätigung in zwei Schritten ist ausgeschaltet"},
	"two-step verification is already on; turn it off first to change the app": {"la vérification en deux étapes est déjà activée ; désactivez-la d’abord pour changer d’application", "die Bestätigung in zwei Schritten ist bereits eingeschaltet; schalten Sie sie zuerst aus, um die App zu wechseln"},

	// Profile.
	"a data: URI must be base64 (data:image/png;base64,…)":   {"une URI data: doit être en base64 (data:image/png;base64,…)", "eine data:-URI muss Base64 sein (data:image/png;base64,…)"},
	"the language must be one of %s, or empty for automatic": {"la langue doit être l’une de %s, ou vide pour le choix automatique", "die Sprache muss eine von %s sein oder leer für die automatische Wahl"},
	"picture not found": {"photo introuvable", "Bild nicht gefunden"},
	"region must be an ISO 3166-1 alpha-2 country code such as DE or US": {"la région doit être un code pays ISO 3166-1 alpha-2, comme DE ou US", "die Region muss ein Ländercode nach ISO 3166-1 alpha-2 sein, etwa DE oder US"},
	"the file is not a PNG, JPEG or GIF image":                           {"le fichier n’est pas une image PNG, JPEG ou GIF", "die Datei ist kein PNG-, JPEG- oder GIF-Bild"},
	"the image could not be decoded":                                     {"l’image n’a pas pu être décodée", "das Bild konnte nicht dekodiert werden"},
	"the image must be base64":                                           {"l’image doit être en base64", "das Bild muss Base64 sein"},
	"the name is longer than %d characters":                              {"le nom dépasse %d caractères", "der Name ist länger als %d Zeichen"},
	"the name is not valid text":                                         {"le nom n’est pas un texte valide", "der Name ist kein gültiger Text"},
	"the name stacks more than %d accents or marks on one character":     {"le nom place plus de %d accents ou signes sur un même caractère", "der Name setzt mehr als %d Akzente oder Zeichen auf ein Zeichen"},
	"the name must be one line without control characters":               {"le nom doit tenir sur une ligne, sans caractères de contrôle", "der Name muss eine Zeile ohne Steuerzeichen sein"},
	"the picture is %d×%d pixels; at most %d×%d are accepted":            {"la photo fait %d×%d pixels ; au plus %d×%d sont acceptés", "das Bild hat %d×%d Pixel; höchstens %d×%d werden angenommen"},
	"the picture is larger than %d KiB":                                  {"la photo dépasse %d Kio", "das Bild ist größer als %d KiB"},
	"could not read the request body":                                    {"le corps de la requête n’a pas pu être lu", "der Inhalt der Anfrage konnte nicht gelesen werden"},

	// Licenses the person redeems, activity, data export.
	"a license code is 4 to 64 letters, digits, - and _":                                       {"un code de licence compte 4 à 64 lettres, chiffres, - et _", "ein Lizenzcode besteht aus 4 bis 64 Buchstaben, Ziffern, - und _"},
	"too many wrong license codes were tried for this application; try again in %d s":          {"trop de codes de licence erronés ont été essayés pour cette application ; réessayez dans %d s", "für diese Anwendung wurden zu viele falsche Lizenzcodes versucht; versuchen Sie es in %d s erneut"},
	"no such license code for this application":                                                {"ce code de licence n’existe pas pour cette application", "diesen Lizenzcode gibt es für diese Anwendung nicht"},
	"this license code has already been redeemed":                                              {"ce code de licence a déjà été utilisé", "dieser Lizenzcode wurde bereits eingelöst"},
	"this license code has expired":                                                            {"ce code de licence a expiré", "dieser Lizenzcode ist abgelaufen"},
	"sign-in to this app is blocked for this account, so its license codes cannot be redeemed": {"la connexion à cette application est bloquée pour ce compte : ses codes de licence ne peuvent pas être utilisés", "die Anmeldung bei dieser App ist für dieses Konto gesperrt, daher können ihre Lizenzcodes nicht eingelöst werden"},
	"you are not connected to this application":                                                {"vous n’êtes pas connecté à cette application", "Sie sind nicht mit dieser Anwendung verbunden"},
	"first must be between 1 and %d":                                                           {"first doit être compris entre 1 et %d", "first muss zwischen 1 und %d liegen"},
	"the cursor is not one this list gave":                                                     {"ce curseur n’a pas été donné par cette liste", "dieser Cursor stammt nicht aus dieser Liste"},
	"types may name each of the %d event types once":                                           {"types peut nommer chacun des %d types d’événement une fois", "types darf jeden der %d Ereignistypen einmal nennen"},
	"unknown event type %q":                                                                    {"type d’événement inconnu %q", "unbekannter Ereignistyp %q"},
	"the data export starts from your LoginSign dashboard, not from another site":              {"l’export des données se lance depuis votre tableau de bord LoginSign, pas depuis un autre site", "der Datenexport beginnt in Ihrem LoginSign-Dashboard, nicht auf einer anderen Website"},
	"the export holds every page: drop limit and cursor":                                       {"l’export contient toutes les pages : retirez limit et cursor", "der Export enthält alle Seiten: lassen Sie limit und cursor weg"},
	"malformed query string":                                                                   {"chaîne de requête mal formée", "fehlerhafte Abfragezeichenfolge"},

	// The second step of a sign-in in browsers new to the account, past
	// mfa.Service.NewBrowserFailures.
	"too many wrong codes were typed for this account in browsers it never signed in with; sign in from a browser you used before, or try again later": {"trop de codes erronés ont été saisis pour ce compte dans des navigateurs qui ne s’y sont jamais connectés ; connectez-vous depuis un navigateur que vous avez déjà utilisé, ou réessayez plus tard", "für dieses Konto wurden in Browsern, die nie bei ihm angemeldet waren, zu viele falsche Codes eingegeben; melden Sie sich in einem Browser an, den Sie schon verwendet haben, oder versuchen Sie es später erneut"},

	// The second step of a sign-in in one browser that signed in to the account before, past
	// mfa.Service.KnownBrowserFailures.
	"too many wrong codes were typed in this browser; try again in %d s": {"trop de codes erronés ont été saisis dans ce navigateur ; réessayez dans %d s", "in diesem Browser wurden zu viele falsche Codes eingegeben; versuchen Sie es in %d s erneut"},

	// The "this wasn't me" link of a new authenticator app (mfa.Service.UndoTOTP).
	"this link has expired or was already used":                                                          {"ce lien a expiré ou a déjà été utilisé", "dieser Link ist abgelaufen oder wurde bereits verwendet"},
	"two-step verification was already turned off or set up again; this link no longer changes anything": {"la vérification en deux étapes a déjà été désactivée ou configurée à nouveau ; ce lien ne change plus rien", "die Bestätigung in zwei Schritten wurde bereits ausgeschaltet oder neu eingerichtet; dieser Link ändert nichts mehr"},
	"open this link in a browser you signed in to LoginSign with before":                                 {"ouvrez ce lien dans un navigateur où vous vous êtes déjà connecté à LoginSign", "öffnen Sie diesen Link in einem Browser, in dem Sie sich schon bei LoginSign angemeldet haben"},

	// Redirect URIs of an application (the portal's pages, REST and GraphQL): a host or
	// scheme another developer's application registers, LoginSign's own site.
	"%q: another developer's application already registers %s, and the consent page names it as where the answer goes; only a member of that application's team may register it": {"%q : l’application d’un autre développeur enregistre déjà %s, que la page de consentement indique comme destination de la réponse ; seul un membre de l’équipe de cette application peut l’enregistrer", "%q: Die Anwendung eines anderen Entwicklers registriert bereits %s, und die Zustimmungsseite nennt es als Ziel der Antwort; nur ein Mitglied des Teams dieser Anwendung darf es registrieren"},
	"%q is on LoginSign's own site; a redirect URI must lead back to your application":                                                                                           {"%q est sur le site de LoginSign lui-même ; une URI de redirection doit ramener à votre application", "%q liegt auf der Website von LoginSign selbst; eine Weiterleitungs-URI muss zu Ihrer Anwendung zurückführen"},

	// Pictures refused before decoding for what their decoding would cost, and names that show
	// nothing (internal/profile).
	"the picture is stored in more than %d passes; save it again as a standard JPEG or PNG": {"la photo est enregistrée en plus de %d passes ; enregistrez-la à nouveau en JPEG standard ou en PNG", "das Bild ist in mehr als %d Durchgängen gespeichert; speichern Sie es erneut als normales JPEG oder PNG"},
	"progressive CMYK JPEG pictures are not accepted; save the picture as RGB":              {"les photos JPEG progressives en CMJN ne sont pas acceptées ; enregistrez la photo en RVB", "progressive JPEG-Bilder in CMYK werden nicht angenommen; speichern Sie das Bild als RGB"},
	"the name must show at least one letter, digit or symbol":                               {"le nom doit afficher au moins une lettre, un chiffre ou un symbole", "der Name muss mindestens einen Buchstaben, eine Ziffer oder ein Symbol zeigen"},

	// A redemption into a connection that holds licenses.MaxPerConnection already.
	"this account already holds %d licenses of this application, the most it may hold": {"ce compte détient déjà %d licences de cette application, le maximum autorisé", "dieses Konto hat bereits %d Lizenzen dieser Anwendung, die höchstens erlaubte Zahl"},

	// The person's second step of a change that could take the account (mfa.ConfirmChange).
	"enter the confirmation code we mail to your address (ask for one first)":                          {"saisissez le code de confirmation que nous envoyons à votre adresse (demandez-en un d’abord)", "geben Sie den Bestätigungscode ein, den wir an Ihre Adresse senden (fordern Sie zuerst einen an)"},
	"two-step verification is on: confirm with a code from your authenticator app, or a recovery code": {"la vérification en deux étapes est activée : confirmez avec un code de votre application d’authentification, ou un code de récupération", "die Bestätigung in zwei Schritten ist aktiv: Bestätigen Sie mit einem Code aus Ihrer Authenticator-App oder einem Wiederherstellungscode"},
	"too many confirmation codes mailed; try again in %d s":                                            {"trop de codes de confirmation envoyés ; réessayez dans %d s", "zu viele Bestätigungscodes gesendet; versuchen Sie es in %d s erneut"},

	// An authenticator app set up after the session's sign-in (mfa.ConfirmChange).
	"your authenticator app was set up after this sign-in: sign in again, with the app, to do this": {"votre application d’authentification a été configurée après cette connexion : reconnectez-vous, avec l’application, pour faire cela", "Ihre Authenticator-App wurde nach dieser Anmeldung eingerichtet: Melden Sie sich erneut an, mit der App, um dies zu tun"},
}

// errorEnglish are English messages that differ from their key: plurals.
var errorEnglish = map[string]any{
	"that code is not right; %d attempts left":                        plural.Selectf(1, "%d", "one", "that code is not right; %d attempt left", "other", "that code is not right; %d attempts left"),
	"that is not the number the other device shows; %d attempts left": plural.Selectf(1, "%d", "one", "that is not the number the other device shows; %d attempt left", "other", "that is not the number the other device shows; %d attempts left"),
}
