package ledger

import (
	"context"
	"fmt"
	"time"
)

// notifiedPrefix keys the delivery claims of the notify function: pk notified#{event}, sk the
// destination's name. They are forgotten (expires_at, the state table's TTL) after
// NotifiedKeptFor, well past EventBridge's redelivery of an event (at most 24 hours).
const notifiedPrefix = "notified#"

// NotifiedKeptFor is how long a delivery claim is kept.
const NotifiedKeptFor = 7 * 24 * time.Hour

const (
	claimHeld      = "claimed"
	claimDelivered = "delivered"
	attrUntilClaim = "until"
)

// notifiedRecord is a delivery claim: held until Until, or delivered.
type notifiedRecord struct {
	Status    string `json:"status"`
	Until     int64  `json:"until"`
	ExpiresAt int64  `json:"expires_at"`
}

func notifiedKey(eventID, dest string) Key {
	return Key{Table: State, PK: notifiedPrefix + eventID, SK: dest}
}

// Claim takes the delivery of an event to a destination until now+lease, in one conditional
// write: refused (false) if it was delivered, or another delivery holds a claim that has not
// expired. It is notify.Claims' Claim, on every driver.
func (l *Ledger) Claim(ctx context.Context, eventID, dest string, now time.Time, lease time.Duration) (bool, error) {
	if eventID == "" || dest == "" {
		return false, fmt.Errorf("claim: needs an event id and a destination")
	}
	rec := notifiedRecord{Status: claimHeld, Until: now.Add(lease).Unix(), ExpiresAt: now.Add(NotifiedKeptFor).Unix()}
	op := put(notifiedKey(eventID, dest), rec, Or(NotExists(), And(Eq(attrStatus, claimHeld), Lt(attrUntilClaim, now.Unix()))))
	err := l.d.Write(ctx, []Op{op})
	if _, ok := condFailed(err); ok {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim delivery of %s to %s: %w", eventID, dest, err)
	}
	return true, nil
}

// Delivered records the delivery of an event to a destination as done.
func (l *Ledger) Delivered(ctx context.Context, eventID, dest string, now time.Time) error {
	rec := notifiedRecord{Status: claimDelivered, ExpiresAt: now.Add(NotifiedKeptFor).Unix()}
	if err := l.d.Write(ctx, []Op{put(notifiedKey(eventID, dest), rec)}); err != nil {
		return fmt.Errorf("record delivery of %s to %s: %w", eventID, dest, err)
	}
	return nil
}

// Release gives up a claim that was not delivered, so that a later delivery may try again.
func (l *Ledger) Release(ctx context.Context, eventID, dest string) error {
	op := Op{Key: notifiedKey(eventID, dest), Delete: true, If: condPtr(Eq(attrStatus, claimHeld))}
	err := l.d.Write(ctx, []Op{op})
	if _, ok := condFailed(err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release delivery claim of %s to %s: %w", eventID, dest, err)
	}
	return nil
}
