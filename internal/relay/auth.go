package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/emersion/go-smtp"
	"golang.org/x/net/publicsuffix"

	"loginsign/internal/mail"
)

// Resolver is the DNS the relay authenticates mail with: SPF records and the A, MX and PTR
// lookups they lead to (RFC 7208), DKIM keys (RFC 6376) and DMARC records (RFC 7489).
// *net.Resolver implements it.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// maxReplySignatureAge is the oldest a DKIM signature (its t=, RFC 6376 section 3.5) may be
// to authenticate a reply: a sender's mail system retries a deferred message for five days
// (sentTTL), and two more days leave room for clocks that are off.
const maxReplySignatureAge = 7 * 24 * time.Hour

// maxDKIMSignatures bounds the signatures verified per message (each costs a DNS lookup).
const maxDKIMSignatures = 5

var (
	errAuthTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 26},
		Message: "Temporary DNS failure while authenticating the sender, try again later"}
	errAuthors = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Message refused: the From header must name one sender"}
)

// errSpoofed refuses a forward whose From domain asks receivers to reject or quarantine mail
// that fails DMARC, and the mail fails.
func errSpoofed(domain string) error {
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 26},
		Message: "Unauthenticated mail from " + domain + " is refused by that domain's DMARC policy"}
}

// sender is who a forwarded message says it is from, and whether the relay could verify it.
type sender struct {
	// author is the one address of the From header; nil when the message has no From, or
	// one that does not parse.
	author *gomail.Address
	// verified is true when the message passes DMARC-aligned SPF or DKIM for author's domain.
	verified bool
	// results is the Authentication-Results field of the forward (RFC 8601), without the
	// field name.
	results string
}

// checkSender authenticates the From of a message to be forwarded (checkDMARC). A forward
// leaves from the relay domain, so the person's mail provider can no longer see whether the
// mail was really sent by the domain in its From: the relay enforces that domain's DMARC
// policy in the provider's place. Mail that fails is refused when the domain asks for reject
// or quarantine (the relay has no spam folder to put it in), and deferred when that cannot be
// known because DNS failed temporarily; otherwise it is forwarded, marked unverified in its
// From name (displayName). A From field naming several addresses, or several From fields,
// is refused (RFC 7489 section 6.6.1): the relay could not tell which one to show.
func (s *Server) checkSender(ss *session, routes []route, header textproto.Header, raw []byte) (sender, error) {
	host := s.cfg.Hostname
	h := gomail.Header{Header: message.Header{Header: header}}
	if n := header.FieldsByKey("From").Len(); n == 0 {
		return sender{results: host + "; dmarc=none (no From)"}, nil
	} else if n > 1 {
		return sender{}, errAuthors
	}
	from, err := h.AddressList("From")
	switch {
	case err != nil || len(from) == 0:
		return sender{results: host + "; dmarc=none (From does not parse)"}, nil
	case len(from) > 1:
		return sender{}, errAuthors
	}
	author := from[0]
	domain := normalizeDomain(domainOf(strings.ToLower(author.Address)))

	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	res := s.checkDMARC(ctx, net.ParseIP(ss.remote), ss.helo, ss.from, domain, raw, nil)
	strict := res.policy == dmarc.PolicyReject || res.policy == dmarc.PolicyQuarantine
	out := sender{author: author, verified: res.by != ""}
	switch {
	case res.by != "" && res.policy != "":
		out.results = fmt.Sprintf("%s; dmarc=pass (%s, p=%s) header.from=%s", host, res.by, res.policy, domain)
	case res.by != "":
		out.results = fmt.Sprintf("%s; dmarc=none (aligned %s pass, no policy) header.from=%s", host, res.by, domain)
	case res.temporary && (!res.record || strict):
		s.cfg.Logger.Info("relay: forward deferred", "connections", connectionIDs(routes), "from", mail.RedactAddresses(ss.from),
			"author", mail.RedactAddresses(author.Address), "remote", ss.remote, "reason", "DNS failed temporarily")
		return sender{}, errAuthTemporary
	case strict:
		s.cfg.Logger.Info("relay: forward refused", "connections", connectionIDs(routes), "from", mail.RedactAddresses(ss.from),
			"author", mail.RedactAddresses(author.Address), "remote", ss.remote, "reason", "fails DMARC", "policy", string(res.policy))
		return sender{}, errSpoofed(domain)
	case res.temporary:
		out.results = fmt.Sprintf("%s; dmarc=temperror header.from=%s", host, domain)
	case res.policy != "":
		out.results = fmt.Sprintf("%s; dmarc=fail (p=%s) header.from=%s", host, res.policy, domain)
	default:
		out.results = fmt.Sprintf("%s; dmarc=none header.from=%s", host, domain)
	}
	return out, nil
}

// dmarcResult is how a message fares under DMARC (RFC 7489 section 4.2) for the domain of its
// From header.
type dmarcResult struct {
	// by is "spf" when the peer is authorized by SPF for the envelope sender and the envelope
	// domain is aligned with the From domain, "dkim" when a valid DKIM signature has an
	// aligned d=, "" when neither passes.
	by string
	// policy is what the From domain asks receivers to do with mail that fails (section 6.3:
	// sp= for a subdomain whose record was found at its organizational domain, p= otherwise),
	// lowered one step when pct= is below 100 (section 6.6.4: the mail not sampled gets the
	// next policy down); "" when the domain publishes no usable record.
	policy dmarc.Policy
	// record is true when the domain's DMARC record, or its absence, is known; false when its
	// lookup failed temporarily.
	record bool
	// temporary is true when a DNS lookup failed temporarily, so a failure may not be final.
	temporary bool
}

// checkDMARC evaluates raw, received from ip (which said helo) with envelope sender mailFrom,
// under DMARC for authorDomain. Alignment is relaxed (same organizational domain, by the public
// suffix list) unless the domain's DMARC record asks for strict (aspf=s, adkim=s). A valid,
// aligned DKIM signature counts only when accept reports true for it; a nil accept takes
// every one.
func (s *Server) checkDMARC(ctx context.Context, ip net.IP, helo, mailFrom, authorDomain string, raw []byte,
	accept func(dkim.Verification) bool) dmarcResult {
	authorDomain = normalizeDomain(authorDomain)
	record, atOrg, err := s.dmarcRecord(ctx, authorDomain)
	if dmarc.IsTempFail(err) {
		return dmarcResult{temporary: true}
	}
	res := dmarcResult{record: true}
	var spfMode, dkimMode dmarc.AlignmentMode = dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	if record != nil {
		if record.SPFAlignment == dmarc.AlignmentStrict {
			spfMode = dmarc.AlignmentStrict
		}
		if record.DKIMAlignment == dmarc.AlignmentStrict {
			dkimMode = dmarc.AlignmentStrict
		}
		res.policy = appliedPolicy(record, atOrg)
	}

	// The SPF library checks the domain after the first "@" of the envelope sender, alignment
	// the one after the last (domainOf): only an envelope sender with one "@" has them agree.
	if strings.Count(mailFrom, "@") == 1 && aligned(domainOf(mailFrom), authorDomain, spfMode) {
		result, _ := spf.CheckHostWithSender(ip, helo, mailFrom, spf.WithContext(ctx), spf.WithResolver(s.cfg.Resolver))
		if result == spf.Pass {
			res.by = "spf"
			return res
		}
		res.temporary = result == spf.TempError
	}

	verifications, _ := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return s.cfg.Resolver.LookupTXT(ctx, name) },
		MaxVerifications: maxDKIMSignatures,
	})
	for _, v := range verifications {
		if v.Err == nil && aligned(v.Domain, authorDomain, dkimMode) && (accept == nil || accept(*v)) {
			res.by = "dkim"
			return res
		}
		res.temporary = res.temporary || dkim.IsTempFail(v.Err)
	}
	return res
}

// appliedPolicy is the policy record asks for failing mail of a domain (see dmarcResult.policy);
// atOrg says the record was found at the organizational domain, not the From domain itself.
func appliedPolicy(record *dmarc.Record, atOrg bool) dmarc.Policy {
	p := record.Policy
	if atOrg && record.SubdomainPolicy != "" {
		p = record.SubdomainPolicy
	}
	if record.Percent != nil && *record.Percent < 100 {
		switch p {
		case dmarc.PolicyReject:
			p = dmarc.PolicyQuarantine
		case dmarc.PolicyQuarantine:
			p = dmarc.PolicyNone
		}
	}
	return p
}

// authenticate reports how a reply passes DMARC for authorDomain, the domain of its From
// header (checkDMARC): "spf" or "dkim". The domain's DMARC policy (p=) plays no part: the
// relay demands a pass whatever the domain publishes. A DKIM signature counts only when it
// binds the message to its reverse aliases (signedForReverseAliases, on header and rcpts) and
// is at most maxReplySignatureAge old.
//
// The error is errReplyRefused when neither passes, errAuthTemporary when neither passes and
// a DNS lookup failed temporarily.
func (s *Server) authenticate(ctx context.Context, ip net.IP, helo, mailFrom, authorDomain string, raw []byte,
	header textproto.Header, rcpts []string) (string, error) {
	now := s.cfg.Now()
	res := s.checkDMARC(ctx, ip, helo, mailFrom, authorDomain, raw, func(v dkim.Verification) bool {
		// A signature older than maxReplySignatureAge (by its t=) is a copy sent again, not a
		// reply on its way: the person's mail system gives up retrying well before.
		if !v.Time.IsZero() && now.Sub(v.Time) > maxReplySignatureAge {
			return false
		}
		return signedForReverseAliases(header, v, rcpts)
	})
	switch {
	case res.by != "":
		return res.by, nil
	case res.temporary:
		return "", errAuthTemporary
	}
	return "", errReplyRefused
}

// signedForReverseAliases reports whether the DKIM signature v binds a reply to the reverse
// aliases it is sent to (rcpts, the RCPT TO addresses, lower-cased): the To and Cc fields that
// v covers (h=) name every one of them. A signature stays valid for the bytes it signed
// wherever they are sent again, and mail signed by the person's provider reaches others than
// the relay: an app's support inbox holds the mail its customers sent from their real
// addresses. Without this binding, that app could send such a message again to a reverse
// alias it learned, and tell from 250 or 550 whether its From is the real address behind the
// alias, and have the person's old words leave from the alias. A reply the person really
// sent names the reverse alias in To or Cc, which RFC 6376 section 5.4.1 says a signer should
// cover (Gmail and Fastmail do); a reply that only DKIM could authenticate and that reaches a
// reverse alias by Bcc, or whose signer covers neither field, is refused like any
// unauthenticated one (SPF still authenticates it when it passes). A field that occurs more
// than once (RFC 5322 section 3.6 allows one) counts for nothing: h= covers only the last
// occurrences, and one added above them by whoever sends the bytes again must not count.
func signedForReverseAliases(header textproto.Header, v dkim.Verification, rcpts []string) bool {
	h := gomail.Header{Header: message.Header{Header: header}}
	var named []string
	for _, k := range []string{"To", "Cc"} {
		signed := slices.ContainsFunc(v.HeaderKeys, func(key string) bool { return strings.EqualFold(strings.TrimSpace(key), k) })
		if !signed || header.FieldsByKey(k).Len() != 1 {
			continue
		}
		list, err := h.AddressList(k)
		if err != nil {
			continue
		}
		for _, a := range list {
			named = append(named, strings.ToLower(a.Address))
		}
	}
	for _, rcpt := range rcpts {
		if !slices.Contains(named, strings.ToLower(rcpt)) {
			return false
		}
	}
	return len(rcpts) > 0
}

// dmarcRecord returns the DMARC record of domain, or of its organizational domain when domain
// has none (RFC 7489 section 6.6.3; atOrg is then true); nil when neither has a usable one.
func (s *Server) dmarcRecord(ctx context.Context, domain string) (record *dmarc.Record, atOrg bool, err error) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) { return s.cfg.Resolver.LookupTXT(ctx, name) }}
	record, err = dmarc.LookupWithOptions(domain, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := organizationalDomain(domain); org != domain {
			record, err = dmarc.LookupWithOptions(org, opts)
			atOrg = true
		}
	}
	switch {
	case dmarc.IsTempFail(err):
		return nil, false, err
	case err != nil:
		return nil, false, nil // no record, or one that does not parse: no DMARC (section 6.6.3)
	}
	return record, atOrg, nil
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

// domainOf is the domain of address: what follows its last "@"; "" without one. net/mail
// unquotes a quoted local part, so `"security@x"@bank.test` reads security@x@bank.test, whose
// domain is bank.test: what follows the first "@", x@bank.test, is a name without a DMARC
// record, and bank.test's spoofed mail would escape bank.test's policy.
func domainOf(address string) string {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return ""
	}
	return address[i+1:]
}

func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}
