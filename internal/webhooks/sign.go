package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every webhook signing secret: "whsec_" + base64 of the key bytes, as
// the Standard Webhooks specification writes them.
const SecretPrefix = "whsec_"

// Signature computes the Standard Webhooks signature header value for one delivery:
// "v1," + base64(HMAC-SHA256(key, id + "." + unix seconds + "." + body)), keyed with the
// base64-decoded part of secret after "whsec_".
func Signature(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(at.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret lacks the %s prefix", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("webhook secret is not base64 after %s", SecretPrefix)
	}
	return key, nil
}
