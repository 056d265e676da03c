package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFiles is a certificate and key read from PEM files and read again when either file
// changes (a renewal replaces them): the relay's STARTTLS certificate, so that a renewed one
// is served without a restart. A replacement that does not load is logged and the certificate
// in use stays.
type certFiles struct {
	cert, key string
	log       *slog.Logger

	mu     sync.Mutex
	loaded *tls.Certificate
	stamp  string // the files' sizes and modification times when loaded
}

// get is tls.Config.GetCertificate: the certificate of the files as they are now.
func (c *certFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	stamp, err := c.stampNow()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && stamp != c.stamp {
		pair, lerr := tls.LoadX509KeyPair(c.cert, c.key)
		if lerr == nil {
			c.loaded, c.stamp = &pair, stamp
		} else if c.loaded != nil {
			c.log.Warn("relay: the replaced TLS certificate does not load; serving the previous one", "err", lerr)
			c.stamp = stamp // logged once per replacement
		}
		err = lerr
	}
	if c.loaded == nil {
		return nil, fmt.Errorf("relay TLS certificate: %w", err)
	}
	return c.loaded, nil
}

func (c *certFiles) stampNow() (string, error) {
	var stamp string
	for _, name := range []string{c.cert, c.key} {
		fi, err := os.Stat(name)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d/%s;", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
	}
	return stamp, nil
}
