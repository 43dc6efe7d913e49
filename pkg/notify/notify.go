package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Claims records which event was delivered to which destination, so that a redelivered event
// (EventBridge delivers at least once) makes no second message.
type Claims interface {
	// Claim takes the delivery of event to dest until now+lease; false if it was delivered, or
	// another delivery holds an unexpired claim.
	Claim(ctx context.Context, eventID, dest string, now time.Time, lease time.Duration) (bool, error)
	// Delivered marks the delivery done, for good.
	Delivered(ctx context.Context, eventID, dest string, now time.Time) error
	// Release gives a claim up, so that a later delivery may try again.
	Release(ctx context.Context, eventID, dest string) error
}

// DeadLetters keeps what could not be delivered (an SQS queue).
type DeadLetters interface {
	Send(ctx context.Context, body string) error
}

// Notifier delivers events to the destinations its configuration routes them to.
type Notifier struct {
	// Config returns the configuration with destinations' URLs and secrets resolved.
	Config func(ctx context.Context) (Config, error)
	Claims Claims
	Dead   DeadLetters
	Client *http.Client
	Now    func() time.Time
	Sleep  backoff.SleepFunc
	// Attempts bounds the posts of one message (default 4); Backoff spaces them when the
	// destination gives no Retry-After, and MaxRetryAfter caps what it asks for.
	Attempts      int
	Backoff       backoff.Policy
	MaxRetryAfter time.Duration
	Lease         time.Duration
	Log           *slog.Logger
}

// Outcome says what became of one event, per destination: "delivered", "duplicate" (delivered
// before) or "dead-lettered: why".
type Outcome struct {
	EventID      string            `json:"event_id"`
	Destinations map[string]string `json:"destinations"`
}

// Deliver posts ev to each destination it is routed to, once. A destination that refuses it
// after the retries has the event and the reason put on the dead-letter queue; only a failure to
// do that is an error (the invocation's retries and its own failure destination then take it).
func (n *Notifier) Deliver(ctx context.Context, ev shiplog.Event) (Outcome, error) {
	out := Outcome{EventID: ev.ID, Destinations: map[string]string{}}
	if ev.ID == "" || ev.Type == "" || ev.ProjectID == "" {
		return out, shiplog.Errorf(shiplog.Invalid, "event: needs event_id, type and project_id")
	}
	cfg, err := n.Config(ctx)
	if err != nil {
		return out, fmt.Errorf("notification configuration: %w", err)
	}
	msg := NewMessage(ev, cfg.DashboardURL)
	var errs []error
	for _, name := range cfg.For(ev) {
		res, err := n.deliverTo(ctx, ev, msg, name, cfg.Destinations[name])
		out.Destinations[name] = res
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (n *Notifier) deliverTo(ctx context.Context, ev shiplog.Event, msg Message, name string, d Destination) (string, error) {
	now := n.now()
	ok, err := n.Claims.Claim(ctx, ev.ID, name, now, n.lease())
	if err != nil {
		return "", fmt.Errorf("claim %s for %s: %w", ev.ID, name, err)
	}
	if !ok {
		return "duplicate", nil
	}
	body, err := Payload(d.Type, ev, msg)
	if err == nil {
		err = n.post(ctx, d, ev.ID, body)
	}
	if err == nil {
		if err := n.Claims.Delivered(ctx, ev.ID, name, n.now()); err != nil {
			// Posted: a redelivery within the lease is still refused; after it, may repeat.
			n.log().WarnContext(ctx, "delivered, but not recorded as delivered", "event_id", ev.ID, "destination", name, "err", err)
		}
		return "delivered", nil
	}
	n.log().ErrorContext(ctx, "notification not delivered", "event_id", ev.ID, "destination", name, "err", err)
	letter, _ := json.Marshal(map[string]any{"event": ev, "destination": name, "error": err.Error()})
	if derr := n.Dead.Send(ctx, string(letter)); derr != nil {
		_ = n.Claims.Release(ctx, ev.ID, name)
		return "", fmt.Errorf("%s: %v; and the dead-letter queue refused it: %w", name, err, derr)
	}
	return "dead-lettered: " + err.Error(), nil
}

// post sends body, again on 429, 5xx and network errors, after what Retry-After asks (capped)
// or a growing backoff.
func (n *Notifier) post(ctx context.Context, d Destination, eventID string, body []byte) error {
	attempts := n.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	policy := n.Backoff
	if policy.First <= 0 {
		policy = backoff.Policy{First: time.Second, Max: 10 * time.Second}
	}
	waits := policy.Waits(n.Sleep)
	var last error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "shiplog-notify")
		if d.Type == Webhook {
			ts := n.now().Unix()
			req.Header.Set(HeaderEventID, eventID)
			req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
			req.Header.Set(HeaderSignature, Sign(d.Secret, ts, body))
		}
		res, err := n.client().Do(req)
		var retryAfter time.Duration
		if err != nil {
			last = fmt.Errorf("post: %w", err)
		} else {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			switch {
			case res.StatusCode >= 200 && res.StatusCode < 300:
				return nil
			case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
				last = fmt.Errorf("answered %s", res.Status)
				retryAfter = parseRetryAfter(res.Header.Get("Retry-After"), n.now())
			default:
				return fmt.Errorf("answered %s (not retried)", res.Status)
			}
		}
		if attempt >= attempts {
			return fmt.Errorf("%w, after %d attempts", last, attempt)
		}
		if retryAfter > 0 {
			if max := n.maxRetryAfter(); retryAfter > max {
				retryAfter = max
			}
			if err := n.sleep(ctx, retryAfter); err != nil {
				return err
			}
		} else if err := waits.Wait(ctx); err != nil {
			return err
		}
	}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 if absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Notifier) sleep(ctx context.Context, d time.Duration) error {
	if n.Sleep != nil {
		return n.Sleep(ctx, d)
	}
	return backoff.Sleep(ctx, d)
}

func (n *Notifier) client() *http.Client {
	if n.Client != nil {
		return n.Client
	}
	return http.DefaultClient
}

func (n *Notifier) lease() time.Duration {
	if n.Lease > 0 {
		return n.Lease
	}
	return 5 * time.Minute
}

func (n *Notifier) maxRetryAfter() time.Duration {
	if n.MaxRetryAfter > 0 {
		return n.MaxRetryAfter
	}
	return 30 * time.Second
}

func (n *Notifier) log() *slog.Logger {
	if n.Log != nil {
		return n.Log
	}
	return slog.New(slog.DiscardHandler)
}
