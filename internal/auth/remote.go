package auth

import "context"

type clientIPKey struct{}

// WithClientIP returns ctx carrying the address of the party that sent the request: the
// peer, or the address a trusted proxy forwarded (httpx.Proxies decides which).
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the address of ctx's request, or "" outside a request (CLI, workers).
// Domain rate limits key on it.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
