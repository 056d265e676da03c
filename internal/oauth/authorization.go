package oauth

// OneAuthorization is the one Authorization header among values (r.Header.Values), "" when
// there is none. ok is false when the request carries more than one: every route that
// authenticates a client or a token refuses that rather than pick one, since a proxy, a
// logger and LoginSign could each read a different header (the token endpoint and the app
// API answer 401 invalid_client, the Bearer routes 400 invalid_request).
func OneAuthorization(values []string) (header string, ok bool) {
	switch len(values) {
	case 0:
		return "", true
	case 1:
		return values[0], true
	}
	return "", false
}
