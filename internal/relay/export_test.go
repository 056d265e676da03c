package relay

// SentKeys are the keys under which deliver remembers, for the sender's retry, which
// recipients rcpts of the message raw from the envelope sender from it served (sentKeys).
func SentKeys(from string, rcpts []string, raw []byte) []string {
	routes := make([]route, len(rcpts))
	for i, r := range rcpts {
		routes[i].rcpt = r
	}
	return sentKeys(from, routes, raw)
}
