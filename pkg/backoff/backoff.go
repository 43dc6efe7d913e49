// Package backoff spaces out the attempts of an operation that lost to a concurrent one or found
// a dependency busy: waits that grow from a first delay to a maximum, each jittered so that
// callers who failed together do not try again together, and that end early when the caller's
// context does. It imports nothing beyond the standard library, so the domain may use it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy says how the waits between attempts grow: from First, by half each time, up to Max.
type Policy struct {
	First time.Duration
	Max   time.Duration // a Max below First (zero, say) keeps every wait at First
}

// SleepFunc waits d, or less if ctx ends first, when it returns ctx's error. Sleep is the real
// one; a test passes one on its own clock.
type SleepFunc func(ctx context.Context, d time.Duration) error

// Waits returns the waits of one operation's attempts, each slept with sleep (nil: Sleep).
func (p Policy) Waits(sleep SleepFunc) *Waits {
	if sleep == nil {
		sleep = Sleep
	}
	return &Waits{next: p.First, max: max(p.Max, p.First), sleep: sleep}
}

// Waits is the sequence of waits of one operation. Not safe for concurrent use.
type Waits struct {
	next, max time.Duration
	sleep     SleepFunc
}

// Wait sleeps the next wait, jittered, and makes the one after it longer. It returns ctx's
// error if ctx ends first.
func (w *Waits) Wait(ctx context.Context) error {
	d := Jitter(w.next)
	w.next = min(w.next*3/2, w.max)
	return w.sleep(ctx, d)
}

// Jitter returns a random duration between d/2 and d.
func Jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Sleep waits d on the real clock, or less if ctx ends first, when it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
