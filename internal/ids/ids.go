// Package ids makes the opaque identifiers and secrets that leave the process.
//
// Identifiers are a short type prefix and random base32 characters: URL-safe, non-sequential
// and carrying no count of anything. Secrets are 32 bytes from crypto/rand, base64url, with a
// type prefix; they are stored only as hashes (see Hash).
package ids

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefixes of the identifier kinds. The prefix tells the GraphQL node resolver which table an
// id belongs to.
const (
	User           = "usr_"
	UserEmail      = "eml_"
	Application    = "app_"
	Connection     = "con_"
	Consent        = "cst_"
	RefreshToken   = "rtk_"
	LicenseVariant = "var_"
	LicenseCode    = "lic_"
	ImportSource   = "imp_"
	ImportRow      = "imr_"
	WebhookEvent   = "msg_"
	WebhookAttempt = "att_"
	AuditEvent     = "aud_"
	SigningKey     = "key_"
	RelayContact   = "rct_"
	EmailChange    = "ecr_"
	PendingLink    = "pln_"
	TOTPFactor     = "otp_"
	RecoveryCode   = "rcv_"
	Passkey        = "pky_"
	ProfilePicture = "pic_"
	ActivityEvent  = "act_"
	AppMember      = "mbr_"
	AppInvitation  = "inv_"
	QueuedMail     = "qml_"
)

const alphabet32 = "abcdefghijklmnopqrstuvwxyz234567"

var lowerBase32 = base32.NewEncoding(alphabet32).WithPadding(base32.NoPadding)

// Valid reports whether id could be one New(prefix) made: prefix, then lower-case base32.
// An id from a request that is not is never looked up: it names nothing, and a NUL or invalid
// UTF-8 in it would reach SQL, where PostgreSQL answers with an error, not a miss.
func Valid(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	return ok && rest != "" && strings.Trim(rest, alphabet32) == ""
}

// New returns prefix followed by 24 random base32 characters (120 bits).
func New(prefix string) string {
	var b [15]byte
	rand.Read(b[:])
	return prefix + lowerBase32.EncodeToString(b[:])
}

// Secret returns prefix followed by 32 random bytes in unpadded base64url.
func Secret(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// RandomLower returns n random characters from [a-z0-9].
func RandomLower(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	return randomFrom(alphabet, n)
}

func randomFrom(alphabet string, n int) string {
	// Rejection sampling keeps every character equally likely.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// RandomFrom returns n characters drawn uniformly from alphabet (at most 256 characters).
func RandomFrom(alphabet string, n int) string { return randomFrom(alphabet, n) }

// Hash is the stored form of a high-entropy secret: hex SHA-256. Secrets of 256 bits need no
// slow hash; a fast one keeps the token endpoint fast.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal compares two strings in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// MAC is hex HMAC-SHA256 of msg under key.
func MAC(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Kind returns the prefix of id ("usr_", "app_", …), or "" when it has none.
func Kind(id string) string {
	i := strings.IndexByte(id, '_')
	if i < 0 {
		return ""
	}
	return id[:i+1]
}
