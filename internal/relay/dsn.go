package relay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"loginsign/internal/mail"
)

// maxReturnedHeaderBytes bounds the original header a delivery status notification returns;
// a larger one is left out (RFC 3464 section 2: the third part is optional).
const maxReturnedHeaderBytes = 64 << 10

// notifySender tells the envelope sender of a message the relay accepted (250) that it could
// not deliver it to failed, the routes whose next hop refused it for good, in one delivery
// status notification (RFC 3464) sent from the null reverse path: having accepted the message,
// the relay may not lose it silently (RFC 5321 section 6.1), and a 554 would have told the
// sender that the recipients served failed too.
//
// It goes only to a sender the relay can trust to be the one who sent: an envelope sender
// whose domain authorizes the peer by SPF (RFC 7208), and that is no address of the relay's
// domain. Any other would make the relay a source of backscatter, notifications sent to
// whoever a spammer named. A bounce (the null reverse path) gets none. Nothing in it comes from
// the next hop: its reply can name the person's real address (“<person@example.com>: User
// unknown”), so the notification names each route by the address the sender wrote to, the
// alias or the reverse alias, with the generic status 5.0.0. A failure to send it is logged:
// the message stays accepted.
func (s *Server) notifySender(ss *session, header textproto.Header, failed []route) {
	if len(failed) == 0 || ss.from == "" {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, authTimeout)
	defer cancel()
	if normalizeDomain(domainOf(ss.from)) == strings.ToLower(s.cfg.Domain) {
		s.cfg.Logger.Info("relay: no delivery status notification", "reason", "sender on the relay domain", "remote", ss.remote)
		return
	}
	if result, _ := spf.CheckHostWithSender(net.ParseIP(ss.remote), ss.helo, ss.from,
		spf.WithContext(ctx), spf.WithResolver(s.cfg.Resolver)); result != spf.Pass {
		s.cfg.Logger.Info("relay: no delivery status notification", "reason", "sender not authorized by SPF",
			"spf", string(result), "from", mail.RedactAddresses(ss.from), "remote", ss.remote)
		return
	}
	raw, err := s.deliveryStatus(ss, header, failed)
	if err != nil {
		s.cfg.Logger.Error("relay: building a delivery status notification", "error", err.Error())
		return
	}
	sendCtx, cancelSend := context.WithTimeout(s.ctx, sendTimeout)
	defer cancelSend()
	if err := s.out.Send(sendCtx, mail.Message{To: ss.from, NullSender: true, Raw: raw, Kind: "relay_status"}); err != nil {
		s.cfg.Logger.Error("relay: sending a delivery status notification", "error", mail.RedactAddresses(err.Error()))
		return
	}
	s.cfg.Logger.Info("relay: delivery status notification sent", "recipients", len(failed), "remote", ss.remote)
}

// deliveryStatus builds the notification of notifySender: a multipart/report of a text for
// people, the message/delivery-status part, and the original header when it is small enough.
func (s *Server) deliveryStatus(ss *session, header textproto.Header, failed []route) ([]byte, error) {
	now := s.cfg.Now()
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: "Mail Delivery System", Address: noReplyLocal + "@" + s.cfg.Domain}})
	h.SetAddressList("To", []*gomail.Address{{Address: ss.from}})
	h.SetSubject("Undelivered mail returned to sender")
	h.SetDate(now)
	if err := h.GenerateMessageIDWithHostname(s.cfg.Domain); err != nil {
		return nil, err
	}
	h.Set("Auto-Submitted", "auto-replied")
	h.Set("MIME-Version", "1.0")
	h.SetContentType("multipart/report", map[string]string{"report-type": "delivery-status"})

	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, err
	}
	var recipients, fields strings.Builder
	fmt.Fprintf(&fields, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", s.cfg.Hostname, now.Format(time.RFC1123Z))
	for _, r := range failed {
		fmt.Fprintf(&recipients, "  <%s>\r\n", r.rcpt)
		fmt.Fprintf(&fields, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.0.0\r\n", r.rcpt)
	}
	parts := []reportPart{
		{"text/plain", map[string]string{"charset": "us-ascii"}, "This is the mail relay at " + s.cfg.Hostname + ".\r\n\r\n" +
			"Your message was delivered to its other recipients, but it could not be delivered to\r\n" +
			"the following addresses, and will not be:\r\n\r\n" + recipients.String() + "\r\n" +
			"These addresses are masked: the relay forwards to an inbox it does not name, and does\r\n" +
			"not pass on why that inbox refused the message.\r\n"},
		{"message/delivery-status", nil, fields.String()},
	}
	var original bytes.Buffer
	if err := textproto.WriteHeader(&original, header); err == nil && original.Len() <= maxReturnedHeaderBytes {
		parts = append(parts, reportPart{"text/rfc822-headers", nil, original.String()})
	}
	for _, p := range parts {
		var ph message.Header
		ph.SetContentType(p.contentType, p.params)
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reportPart is one part of a delivery status notification.
type reportPart struct {
	contentType string
	params      map[string]string
	body        string
}
