package webhooks

import (
	"context"
	"fmt"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Service is the developer's view of their application's webhooks: the delivery log,
// manual redelivery and the test button. Every operation checks the signed-in developer's
// role through team.Authorize (ReadWebhooks, ManageWebhooks): off the team is NotFound.
type Service struct {
	DB     *store.DB
	Worker *Worker
	// Limiter counts Test and Redeliver calls per signed-in developer under
	// ManualSendsPerDeveloper (default DefaultManualSendsPerDeveloper) and per application
	// under ManualSends (default DefaultManualSends); nil turns the limits off.
	Limiter                 *ratelimit.Limiter
	ManualSends             ratelimit.Rule
	ManualSendsPerDeveloper ratelimit.Rule
	Now                     func() time.Time
	// DeliveryAddresses counts against developer uid's budget of new delivery targets
	// (portal.Service.TakeDeliveryAddress) each receiver address a test event or redelivery
	// of theirs is about to connect to (withAddressBudget); nil counts nothing.
	DeliveryAddresses func(ctx context.Context, uid, address string) error
	// ProvenAddresses gives back to developer uid's budget of new delivery targets
	// (portal.Service.GiveBackDeliveryAddress) the count of an address that a test event or
	// redelivery of theirs reached over TLS verified for the URL's host; nil gives back
	// nothing.
	ProvenAddresses func(ctx context.Context, uid, address string) error
	// Retention is how long a finished event (delivered, failed or disabled) stays in the
	// delivery log with its attempts (Purge); zero means DefaultRetention.
	Retention time.Duration
}

// DefaultRetention is how long the delivery log keeps a finished event: every test event,
// redelivery and person's change added rows for as long as the application existed.
const DefaultRetention = 30 * 24 * time.Hour

// Purge deletes the finished events created before the retention period with their attempts,
// store.PurgeBatch events per statement, and returns how many events it deleted. Pending
// events stay, however old: they are still to be delivered.
func (s *Service) Purge(ctx context.Context) (int, error) {
	retention := s.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	cutoff := s.Now().UTC().Add(-retention)
	return store.Purge(ctx, "old webhook events", func(ctx context.Context, limit int) ([]string, error) {
		return s.DB.WebhookEvent.Query().Where(webhookevent.CreatedAtLT(cutoff), webhookevent.StatusNEQ(webhookevent.StatusPending)).
			Limit(limit).IDs(ctx)
	}, func(ctx context.Context, ids []string) (int, error) {
		// An event redelivered meanwhile is pending again, and keeps its attempts.
		finished := []predicate.WebhookEvent{webhookevent.IDIn(ids...), webhookevent.StatusNEQ(webhookevent.StatusPending)}
		var n int
		err := store.WithTx(ctx, s.DB.Client, func(tx *ent.Tx) error {
			if _, err := tx.WebhookAttempt.Delete().Where(webhookattempt.HasEventWith(finished...)).Exec(ctx); err != nil {
				return err
			}
			var err error
			n, err = tx.WebhookEvent.Delete().Where(finished...).Exec(ctx)
			return err
		})
		return n, err
	})
}

// PurgePreviousSecrets forgets the signing secrets that a webhook secret reset replaced once
// their overlap has ended (webhook_previous_secret_until passed): from then on they sign
// nothing (the worker's post), and kept, a secret that leaked stayed in the database and its
// backups for as long as the application existed. It returns how many applications it
// cleared; the housekeeping runs it every hour.
// One statement: only the resets of the last day match.
func (s *Service) PurgePreviousSecrets(ctx context.Context) (int, error) {
	n, err := s.DB.Application.Update().Where(application.WebhookPreviousSecretUntilLTE(s.Now().UTC())).
		ClearWebhookPreviousSecret().ClearWebhookPreviousSecretUntil().Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("clearing expired previous webhook secrets: %w", err)
	}
	return n, nil
}

// DefaultManualSends limits test events and redeliveries together, per application: each
// queues an attempt at once, and unlimited they would let one application fill the outbox
// with events for an endpoint that never answers.
var DefaultManualSends = ratelimit.Rule{Name: "webhook-manual-sends", N: 30, Window: time.Minute}

// DefaultManualSendsPerDeveloper limits test events and redeliveries together, per signed-in
// developer across all the applications they manage: each stores rows the delivery log keeps
// for 30 days (DefaultRetention), and a developer may own 100 applications, so the budget per
// application alone let one free account queue 4.3 million events a day and keep 130 million.
// 300 an hour is ten minutes at one application's pace, or a click every 12 seconds for an
// hour: a developer debugging an endpoint, even two or three at once, does not meet it, while
// one account makes at most 7,200 sends a day, 216,000 in the log's 30 days (a test event
// stores an event and its attempt, a redelivery an attempt).
var DefaultManualSendsPerDeveloper = ratelimit.Rule{Name: "webhook-manual-sends-developer", N: 300, Window: time.Hour}

// manualSend authorizes a test event or redelivery on appID and counts it against the
// caller's ManualSendsPerDeveloper budget, then the application's ManualSends budget
// (RateLimited past either, before anything is queued). The role is checked first, so a
// caller without it spends nothing of the application's budget, and the developer's budget
// before the application's, so a developer past their own spends nothing of the budget of an
// application they share with a team. The transaction that queues checks the role again
// (authorizeTx).
func (s *Service) manualSend(ctx context.Context, appID string) error {
	if _, err := team.Authorize(ctx, s.DB.Client, appID, team.ManageWebhooks); err != nil {
		return err
	}
	if s.Limiter != nil {
		if err := s.Limiter.TakeForUser(ctx, s.ManualSendsPerDeveloper.Or(DefaultManualSendsPerDeveloper)); err != nil {
			return err
		}
		return s.Limiter.Take(ctx, s.ManualSends.Or(DefaultManualSends), appID)
	}
	return nil
}

// manualContext returns ctx in which the attempt of a test event or redelivery counts the
// receiver addresses it connects to against the signed-in developer's DeliveryAddresses
// budget.
func (s *Service) manualContext(ctx context.Context) context.Context {
	if s.DeliveryAddresses == nil {
		return ctx
	}
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return ctx // manualSend refused it already
	}
	var giveBack func(ctx context.Context, address string) error
	if s.ProvenAddresses != nil {
		giveBack = func(ctx context.Context, address string) error { return s.ProvenAddresses(ctx, uid, address) }
	}
	return withAddressBudget(ctx, func(ctx context.Context, address string) error {
		return s.DeliveryAddresses(ctx, uid, address)
	}, giveBack)
}

// hold keeps event id, a test event just queued inside tx, from the workers for a
// lease, so that the caller's own attempt (Worker.deliverHeld), counted against the
// developer's DeliveryAddresses budget, claims it before any worker does and sends it out of
// reach of the budget. Should that claim fail, a worker sends it once the lease has passed.
// Without a Worker it is left due now, for the workers.
func (s *Service) hold(ctx context.Context, tx *ent.Tx, id string, now time.Time) error {
	if s.Worker == nil {
		return nil
	}
	return tx.WebhookEvent.UpdateOneID(id).SetNextAttemptAt(now.Add(s.Worker.cfg.Lease)).Exec(ctx)
}

// authorizeTx checks again, inside the transaction that queues a test event or redelivery,
// that the caller may manage appID's webhooks (team.AuthorizeTx), and returns the application
// as that transaction reads it. A member removed or demoted after manualSend is refused, and on
// PostgreSQL the application row stays locked until tx ends, so a removal or change of role
// (which lock it too) waits for the send instead of committing in the middle of it.
func (s *Service) authorizeTx(ctx context.Context, tx *ent.Tx, appID string) (*ent.Application, error) {
	app, _, err := team.AuthorizeTx(ctx, tx, s.DB.Dialect, appID, team.ManageWebhooks)
	return app, err
}

// Page sizes of the delivery log.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// MaxAttemptsListed is how many attempts of one event the delivery log lists with it (REST
// Events with WithAttempts, and the event Redeliver and Test answer): the newest, in order.
// Every redelivery adds an attempt and the log keeps an event for DefaultRetention, so one
// event can gather some 216,000 of them within ManualSendsPerDeveloper; unbounded, a page of
// one event loaded and wrote them all. The event's Attempts counts every attempt, so a reader
// sees when older ones were left out (Attempts greater than the attempts listed).
const MaxAttemptsListed = MaxPageSize

// EventQuery selects a page of the delivery log, newest first.
type EventQuery struct {
	First *int
	After *entgql.Cursor[string]
	// AfterText is After as the text of store.CursorText (REST); used when After is nil.
	AfterText string
	// Status keeps only events in this state.
	Status *webhookevent.Status
	// WithAttempts loads the newest MaxAttemptsListed attempts of every event (REST; GraphQL
	// pages them as a connection).
	WithAttempts bool
}

// Events returns a page of appID's delivery log, newest first.
func (s *Service) Events(ctx context.Context, appID string, q EventQuery) (*ent.WebhookEventConnection, error) {
	if q.After == nil {
		after, err := store.ParseCursor(q.AfterText, "cursor is not one this API returned")
		if err != nil {
			return nil, err
		}
		q.After = after
	}
	if _, err := team.Authorize(ctx, s.DB.Client, appID, team.ReadWebhooks); err != nil {
		return nil, err
	}
	first := DefaultPageSize
	if q.First != nil {
		if *q.First < 0 || *q.First > MaxPageSize {
			return nil, apperr.New(apperr.Invalid, "first must be between 0 and %d", MaxPageSize)
		}
		first = *q.First
	}
	if err := store.CheckCursors(false, []store.CursorValue{store.TimeValue}, q.After); err != nil {
		return nil, err
	}
	if q.Status != nil {
		if err := webhookevent.StatusValidator(*q.Status); err != nil {
			return nil, apperr.New(apperr.Invalid, "status must be pending, delivered, failed or disabled")
		}
	}
	query := s.DB.WebhookEvent.Query().Where(webhookevent.ApplicationID(appID))
	if q.Status != nil {
		query.Where(webhookevent.StatusEQ(*q.Status))
	}
	conn, err := query.Paginate(ctx, q.After, &first, nil, nil, ent.WithWebhookEventOrder(&ent.WebhookEventOrder{
		Direction: entgql.OrderDirectionDesc, Field: ent.WebhookEventOrderFieldCreatedAt,
	}))
	if err != nil {
		return nil, fmt.Errorf("listing webhook events: %w", err)
	}
	if q.WithAttempts {
		events := make([]*ent.WebhookEvent, len(conn.Edges))
		for i, e := range conn.Edges {
			events[i] = e.Node
		}
		if err := s.loadNewestAttempts(ctx, events); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// loadNewestAttempts sets the Deliveries edge of each event to its newest MaxAttemptsListed
// attempts, in order, read in one query. An event's attempts are numbered 1 to its Attempts
// (the worker records attempt Attempts+1 only while the count is still Attempts), so the
// newest are a range of the (event_id, attempt) index: an attempt recorded after the event
// was read is not listed, and no event gets more than MaxAttemptsListed.
func (s *Service) loadNewestAttempts(ctx context.Context, events []*ent.WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	byID := make(map[string]*ent.WebhookEvent, len(events))
	ranges := make([]predicate.WebhookAttempt, len(events))
	for i, ev := range events {
		byID[ev.ID] = ev
		ev.Edges.Deliveries = []*ent.WebhookAttempt{}
		ranges[i] = webhookattempt.And(webhookattempt.EventID(ev.ID),
			webhookattempt.AttemptGT(ev.Attempts-MaxAttemptsListed), webhookattempt.AttemptLTE(ev.Attempts))
	}
	attempts, err := s.DB.WebhookAttempt.Query().Where(webhookattempt.Or(ranges...)).
		Order(ent.Asc(webhookattempt.FieldEventID), ent.Asc(webhookattempt.FieldAttempt)).All(ctx)
	if err != nil {
		return fmt.Errorf("listing webhook attempts: %w", err)
	}
	for _, a := range attempts {
		if ev := byID[a.EventID]; ev != nil {
			ev.Edges.Deliveries = append(ev.Edges.Deliveries, a)
		}
	}
	return nil
}

// event returns eventID of appID with its newest MaxAttemptsListed attempts in order
// (loadNewestAttempts); NotFound when appID has no such event. It does not authorize: callers
// check the developer's role on appID first.
func (s *Service) event(ctx context.Context, appID, eventID string) (*ent.WebhookEvent, error) {
	ev, err := s.DB.WebhookEvent.Query().Where(webhookevent.ID(eventID), webhookevent.ApplicationID(appID)).Only(ctx)
	if err != nil {
		return nil, store.Err(err, "webhook event")
	}
	if err := s.loadNewestAttempts(ctx, []*ent.WebhookEvent{ev}); err != nil {
		return nil, err
	}
	return ev, nil
}

// Redeliver makes an attempt at eventID now, whatever its state: a delivered event is sent
// again (receivers deduplicate by webhook-id), a failed or disabled one gets one more
// attempt. For an event that was not pending that attempt is the only one: not delivered, the
// event is failed, not retried (the developer sees the answer and sends again if they want);
// a pending event keeps its retry schedule. It answers Conflict ("webhook_disabled") while
// the endpoint is disabled after a 410 Gone, ("delivery_in_progress") while a worker or
// another redelivery is delivering the event, and ("connection_ended") for an event that
// carries the person's data (email_changed) once their connection to the application has
// ended (connectionLives). A back-channel logout event needs the application's back-channel
// logout URI instead. Test events and redeliveries share a budget per developer
// (ManualSendsPerDeveloper) and one per application (ManualSends): past either RateLimited.
func (s *Service) Redeliver(ctx context.Context, appID, eventID string) (*ent.WebhookEvent, error) {
	if err := s.manualSend(ctx, appID); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	wasPending := false
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID)
		if err != nil {
			return err
		}
		ev, err := tx.WebhookEvent.Query().Where(webhookevent.ID(eventID), webhookevent.ApplicationID(app.ID)).Only(ctx)
		if err != nil {
			return store.Err(err, "webhook event")
		}
		wasPending = ev.Status == webhookevent.StatusPending
		switch {
		case ev.Type == TypeBackchannelLogout:
			// A back-channel logout goes to its own URI, whatever the webhook's state.
			if app.BackchannelLogoutURI == "" {
				return apperr.WithReason(apperr.Conflict, "backchannel_logout_not_configured",
					"the application has no back-channel logout URI")
			}
		case app.WebhookURL == "":
			return apperr.WithReason(apperr.Conflict, "webhook_not_configured", "the application has no webhook URL")
		case app.WebhookDisabledAt != nil:
			return apperr.WithReason(apperr.Conflict, "webhook_disabled",
				"the endpoint answered 410 Gone and is disabled; send a test event to enable it again")
		}
		if ev.LockedUntil != nil && ev.LockedUntil.After(now) {
			return apperr.WithReason(apperr.Conflict, "delivery_in_progress", "the event is being delivered right now")
		}
		if err := connectionLives(ctx, tx, ev); err != nil {
			return err
		}
		upd := tx.WebhookEvent.Update().
			Where(webhookevent.ID(ev.ID), webhookevent.Attempts(ev.Attempts),
				webhookevent.Or(webhookevent.LockedUntilIsNil(), webhookevent.LockedUntilLT(now))).
			SetStatus(webhookevent.StatusPending).SetNextAttemptAt(now).ClearDeliveredAt()
		if s.Worker != nil {
			// Leased to this call, which sends it below: another redelivery meanwhile is
			// answered delivery_in_progress, so none sees it pending and makes the attempt
			// in its place, keeping the schedule (withOneAttempt).
			upd.SetLockedUntil(now.Add(s.Worker.cfg.Lease))
		} else {
			upd.ClearLockedUntil()
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.WithReason(apperr.Conflict, "delivery_in_progress", "the event is being delivered right now")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Worker != nil {
		// Sent now, as a test event is: a worker's attempt would not count the addresses it
		// connects to against the developer's budget (manualContext). An event that was
		// pending keeps its schedule; any other gets this one attempt (withOneAttempt).
		mctx := s.manualContext(ctx)
		if !wasPending {
			mctx = withOneAttempt(mctx)
		}
		if err := s.Worker.deliverLeased(mctx, eventID); err != nil {
			s.Worker.cfg.Log.Error("webhooks: delivering a redelivery now; the worker will", "event", eventID, "err", err)
		}
	}
	return s.event(ctx, appID, eventID)
}

// connectionLives answers Conflict ("connection_ended") when ev carries the person's data
// (personalTypes) and the connection it is about has ended (connectionEnded): after the
// person removed the app or closed their account, a redelivery would hand their address
// again, to whatever URL the application has now, which WithdrawConnection keeps from
// undelivered events. tx holds the application (authorizeTx), as every ending of a connection
// does before it withdraws the connection's events: an ending either committed before, and
// the connection has ended here, or waits, and then withdraws the event this redelivery made
// pending.
func connectionLives(ctx context.Context, tx *ent.Tx, ev *ent.WebhookEvent) error {
	ended, err := connectionEnded(ctx, tx.Client(), ev)
	if err != nil {
		return err
	}
	if ended {
		return apperr.WithReason(apperr.Conflict, "connection_ended", ConnectionEndedText)
	}
	return nil
}

// Test queues a ping event for appID and delivers it at once, and returns the event with the
// attempt's result. It also enables an endpoint disabled by a 410 Gone again: the test is the
// developer saying the endpoint is back. Past the developer's ManualSendsPerDeveloper or the
// application's ManualSends budget it is RateLimited and queues nothing.
//
// Once queued the ping is on its way: when the attempt now cannot be claimed or recorded (the
// database lost meanwhile), the event is returned as it stands, pending, and the worker makes
// the attempt later. An error then would tell the developer the test failed while its ping
// still went out.
func (s *Service) Test(ctx context.Context, appID string) (*ent.WebhookEvent, error) {
	if err := s.manualSend(ctx, appID); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	var ev *ent.WebhookEvent
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID)
		if err != nil {
			return err
		}
		if app.WebhookURL == "" {
			return apperr.WithReason(apperr.Conflict, "webhook_not_configured", "the application has no webhook URL")
		}
		if app.WebhookDisabledAt != nil {
			if err := tx.Application.UpdateOne(app).ClearWebhookDisabledAt().Exec(ctx); err != nil {
				return err
			}
		}
		ev, err = Enqueue(ctx, tx, app, TypePing, Ping{Type: TypePing, ApplicationID: app.ID, SentAt: Timestamp(now)}, now)
		if err != nil {
			return err
		}
		return s.hold(ctx, tx, ev.ID, now)
	})
	if err != nil {
		return nil, err
	}
	if s.Worker != nil {
		if _, err := s.Worker.deliverHeld(withOneAttempt(s.manualContext(ctx)), ev.ID); err != nil {
			s.Worker.cfg.Log.Error("webhooks: delivering a test event now; the worker will", "event", ev.ID, "err", err)
		}
	}
	return s.event(ctx, appID, ev.ID)
}
