package webhooks

import (
	"context"
	"strconv"
	"time"

	"loginsign/ent"
)

// RecordAttempts records, as one batch (as the attempts of deliveries that finish together
// are), an attempt at each claimed event of evs that got the answer statuses[i] (0: none)
// after took[i].
func (w *Worker) RecordAttempts(ctx context.Context, evs []*ent.WebhookEvent, statuses []int, took []time.Duration) error {
	rs := make([]attemptResult, len(evs))
	for i, ev := range evs {
		o := outcome{status: statuses[i], duration: took[i]}
		if statuses[i] < 200 || statuses[i] > 299 {
			o.err = "HTTP " + strconv.Itoa(statuses[i])
		}
		rs[i] = attemptResult{ev, o}
	}
	return w.recordAll(ctx, rs)
}
