package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/emersion/go-smtp"
	"golang.org/x/net/publicsuffix"
)

// Resolver is the DNS the relay authenticates replies with: SPF records and the A, MX and PTR
// lookups they lead to (RFC 7208), DKIM keys (RFC 6376) and DMARC records (RFC 7489).
// *net.Resolver implements it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// maxDKIMSignatures bounds the signatures verified per message (each costs a DNS lookup).
const maxDKIMSignatures = 5

var (
	errUnauthenticated = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 26},
		Message: "Reply refused: the message passes neither SPF nor DKIM aligned with its From domain (DMARC)"}
	errAuthTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 26},
		Message: "Temporary DNS failure while authenticating the sender, try again later"}
	errAuthor = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Reply refused: the From header must be the one address of the owner of this alias"}
)

// authenticate reports how the message passes DMARC (RFC 7489 section 4.2) for authorDomain,
// the domain of its From header: "spf" when the peer ip is authorized by SPF for the envelope
// sender mailFrom (RFC 7208 check_host, with helo as the HELO identity) and mailFrom's domain
// is aligned with authorDomain, "dkim" when a valid DKIM signature of raw has an aligned d=.
// Alignment is relaxed (same organizational domain, by the public suffix list) unless the
// domain's DMARC record asks for strict (aspf=s, adkim=s). The domain's DMARC policy (p=) plays
// no part: the relay demands a pass whatever the domain publishes.
//
// The error is errUnauthenticated when neither passes, errAuthTemporary when neither passes and
// a DNS lookup failed temporarily.
func (s *Server) authenticate(ctx context.Context, ip net.IP, helo, mailFrom, authorDomain string, raw []byte) (string, error) {
	authorDomain = normalizeDomain(authorDomain)
	record, err := s.dmarcRecord(ctx, authorDomain)
	if dmarc.IsTempFail(err) {
		return "", errAuthTemporary
	}
	var spfMode, dkimMode dmarc.AlignmentMode = dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	if record != nil {
		if record.SPFAlignment == dmarc.AlignmentStrict {
			spfMode = dmarc.AlignmentStrict
		}
		if record.DKIMAlignment == dmarc.AlignmentStrict {
			dkimMode = dmarc.AlignmentStrict
		}
	}

	temporary := false
	if _, mailFromDomain, ok := strings.Cut(mailFrom, "@"); ok && aligned(mailFromDomain, authorDomain, spfMode) {
		result, _ := spf.CheckHostWithSender(ip, helo, mailFrom, spf.WithContext(ctx), spf.WithResolver(s.cfg.Resolver))
		if result == spf.Pass {
			return "spf", nil
		}
		temporary = result == spf.TempError
	}

	verifications, _ := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return s.cfg.Resolver.LookupTXT(ctx, name) },
		MaxVerifications: maxDKIMSignatures,
	})
	for _, v := range verifications {
		if v.Err == nil && aligned(v.Domain, authorDomain, dkimMode) {
			return "dkim", nil
		}
		temporary = temporary || dkim.IsTempFail(v.Err)
	}
	if temporary {
		return "", errAuthTemporary
	}
	return "", errUnauthenticated
}

// dmarcRecord returns the DMARC record of domain, or of its organizational domain when domain
// has none (RFC 7489 section 6.6.3); nil when neither has a usable one.
func (s *Server) dmarcRecord(ctx context.Context, domain string) (*dmarc.Record, error) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return s.cfg.Resolver.LookupTXT(ctx, name) }}
	record, err := dmarc.LookupWithOptions(domain, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := organizationalDomain(domain); org != domain {
			record, err = dmarc.LookupWithOptions(org, opts)
		}
	}
	switch {
	case dmarc.IsTempFail(err):
		return nil, err
	case err != nil:
		return nil, nil // no record, or one that does not parse: no DMARC (section 6.6.3)
	}
	return record, nil
}

// aligned reports whether the authenticated domain d is aligned with the From domain author
// under mode (RFC 7489 section 3.1).
func aligned(d, author string, mode dmarc.AlignmentMode) bool {
	d, author = normalizeDomain(d), normalizeDomain(author)
	if d == "" || author == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return d == author
	}
	return organizationalDomain(d) == organizationalDomain(author)
}

// organizationalDomain is the registered domain of domain: one label below its public suffix
// (RFC 7489 section 3.2); domain itself when it has none.
func organizationalDomain(domain string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}
