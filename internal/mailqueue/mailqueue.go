// Package mailqueue keeps the notices LoginSign owes people (security notices of an account,
// notices of an application) in the database until the mail server takes them. The mail
// package tries a message three times within five seconds; a mail server down for longer,
// or a restart, lost the notice of a change the person may not have made. Queue.Send writes
// the message, sealed, and sends it at once; what the mail server did not take, Queue.Run
// tries again for about a day while the failure is temporary, on this instance or another.
package mailqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"loginsign/ent"
	"loginsign/ent/predicate"
	"loginsign/ent/queuedmail"
	"loginsign/internal/mail"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// DefaultRetries are the waits after each failed try (each try is mail.Sender's own, itself
// three tries within seconds); after the last the mail is given up: some 22 hours in all.
var DefaultRetries = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour}

const (
	// lease is how long a claimed mail stays with the worker that claimed it; a worker that
	// died meanwhile leaves it to the next. Longer than sendTimeout.
	lease       = 2 * time.Minute
	sendTimeout = time.Minute
	batch       = 16
	parallel    = 4
	poll        = 5 * time.Second
)

// Queue is a mail.Sender that sends through Mail from the database (see the package comment).
type Queue struct {
	DB   *store.DB
	Mail mail.Sender
	// Seal seals the stored message; it may carry a link that acts.
	Seal *seal.Sealer
	Log  *slog.Logger
	Now  func() time.Time
	// Retries are the waits between tries; nil: DefaultRetries.
	Retries []time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

// Send stores m, then sends it at once, as the mail package would, in the caller's goroutine:
// a notice sent at once never waits for the worker. Stored, m is owed: a temporary failure
// leaves it to Run's retries, and a restart to the next instance's; m that could not be
// stored is sent once, as by the mail package alone. Send returns an error when the mail
// server refused m for good, or, for m not stored, did not take it.
func (q *Queue) Send(ctx context.Context, m mail.Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("mailqueue: %w", err)
	}
	kind := m.Kind
	if kind == "" {
		kind = "mail"
	}
	// Held by this try for a lease, as a worker's claim would hold it.
	now := q.now()
	qm, err := q.DB.QueuedMail.Create().SetKind(kind).SetMessage(q.Seal.Seal(body)).
		SetNextAttemptAt(now).SetLockedUntil(now.Add(lease)).SetCreatedAt(now).Save(ctx)
	if err != nil {
		// The change has committed: its notice goes out once, as without the queue.
		q.log().Error("mailqueue: storing a mail; sending it once", "kind", kind, "err", err)
		return q.Mail.Send(ctx, m)
	}
	return q.try(ctx, qm, m)
}

// Wake makes Run look for due mail now.
func (q *Queue) Wake() {
	select {
	case q.wakeChan() <- struct{}{}:
	default:
	}
}

// Run sends due mail until ctx ends; a mail being sent when it ends is sent to the end. It
// looks again when woken, when the next retry is due, and every few seconds (for mail queued
// by another instance).
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		wait := poll
		for ctx.Err() == nil {
			n, err := q.SendDue(ctx)
			if err != nil {
				q.log().Error("mailqueue: claiming due mail", "err", err)
				break
			}
			if n < batch {
				wait = q.untilNext(ctx)
				break
			}
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-q.wakeChan():
		}
	}
}

// untilNext is the wait until the earliest retry of a mail no worker holds, at most poll
// (a mail another worker holds is its worker's until its lease ends).
func (q *Queue) untilNext(ctx context.Context) time.Duration {
	now := q.now()
	next, err := q.DB.QueuedMail.Query().Where(free(now)).Order(queuedmail.ByNextAttemptAt()).First(ctx)
	if err != nil {
		return poll
	}
	return min(poll, max(next.NextAttemptAt.Sub(now), 10*time.Millisecond))
}

// SendDue sends up to one batch of due mail and returns how many it claimed. Each mail is
// claimed when a slot is free to send it: claimed all at once, the last of a batch would
// wait for a slow mail server's sends beyond their lease, and another instance would send
// them too.
func (q *Queue) SendDue(ctx context.Context) (int, error) {
	due, err := q.due(ctx)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	slots := make(chan struct{}, parallel)
	claimed := 0
	for _, m := range due {
		slots <- struct{}{}
		ok, err := q.claim(ctx, m)
		if err != nil || !ok {
			<-slots
			if err != nil {
				wg.Wait()
				return claimed, err
			}
			continue
		}
		claimed++
		wg.Go(func() {
			defer func() { <-slots }()
			q.send(ctx, m)
		})
	}
	wg.Wait()
	return claimed, nil
}

// free matches mail no worker holds at now.
func free(now time.Time) predicate.QueuedMail {
	return queuedmail.Or(queuedmail.LockedUntilIsNil(), queuedmail.LockedUntilLT(now))
}

// due reads up to batch due mails no worker holds.
func (q *Queue) due(ctx context.Context) ([]*ent.QueuedMail, error) {
	now := q.now()
	return q.DB.QueuedMail.Query().
		Where(queuedmail.NextAttemptAtLTE(now), free(now)).
		Order(queuedmail.ByNextAttemptAt()).Limit(batch).All(ctx)
}

// claim leases m to this worker by a conditional update, which one worker wins; it reports
// whether this one did. A mail another worker tried since due read it (its attempts moved)
// is left alone: its next try is not due yet.
func (q *Queue) claim(ctx context.Context, m *ent.QueuedMail) (bool, error) {
	now := q.now()
	n, err := q.DB.QueuedMail.Update().Where(queuedmail.ID(m.ID), queuedmail.Attempts(m.Attempts), free(now)).
		SetLockedUntil(now.Add(lease)).Save(ctx)
	return n == 1, err
}

// send tries a claimed mail once (try).
func (q *Queue) send(ctx context.Context, qm *ent.QueuedMail) {
	var m mail.Message
	body, err := q.Seal.Open(qm.Message)
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		log := q.log().With("kind", qm.Kind, "id", qm.ID)
		log.Error("mailqueue: a queued mail cannot be read; given up", "err", err)
		q.delete(ctx, qm, log)
		return
	}
	q.try(ctx, qm, m)
}

// try sends m, the message of qm, which this worker holds, once: sent, it leaves the queue;
// refused for good, or past its last try, it is given up (leaves the queue, logged without
// address or body) and try returns the error; otherwise it waits for its next retry.
func (q *Queue) try(ctx context.Context, qm *ent.QueuedMail, m mail.Message) error {
	log := q.log().With("kind", qm.Kind, "id", qm.ID)
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	err := q.Mail.Send(sendCtx, m)
	cancel()
	ctx = context.WithoutCancel(ctx)
	retries := q.Retries
	if retries == nil {
		retries = DefaultRetries
	}
	switch {
	case err == nil:
		q.delete(ctx, qm, log)
		return nil
	case !mail.IsTemporary(err) || qm.Attempts >= len(retries):
		log.Error("mailqueue: mail given up", "tries", qm.Attempts+1, "err", mail.RedactAddresses(err.Error()))
		q.delete(ctx, qm, log)
		return err
	}
	wait := retries[qm.Attempts]
	log.Warn("mailqueue: mail not sent; trying again later", "tries", qm.Attempts+1, "in", wait,
		"err", mail.RedactAddresses(err.Error()))
	if err := q.DB.QueuedMail.UpdateOneID(qm.ID).AddAttempts(1).SetNextAttemptAt(q.now().Add(wait)).
		ClearLockedUntil().Exec(ctx); err != nil {
		log.Error("mailqueue: scheduling a retry", "err", err)
	}
	q.Wake()
	return nil
}

func (q *Queue) delete(ctx context.Context, qm *ent.QueuedMail, log *slog.Logger) {
	if err := q.DB.QueuedMail.DeleteOneID(qm.ID).Exec(ctx); err != nil && !store.NotFound(err) {
		log.Error("mailqueue: removing a mail from the queue", "err", err)
	}
}

func (q *Queue) wakeChan() chan struct{} {
	q.wakeOnce.Do(func() { q.wake = make(chan struct{}, 1) })
	return q.wake
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now().UTC()
	}
	return time.Now().UTC()
}

func (q *Queue) log() *slog.Logger {
	if q.Log != nil {
		return q.Log
	}
	return slog.Default()
}
