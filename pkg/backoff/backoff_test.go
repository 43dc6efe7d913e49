package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
)

func TestWaits(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		policy backoff.Policy
		want   []time.Duration // the waits before jitter
	}{
		{"grows by half to the maximum", backoff.Policy{First: 10 * ms, Max: 40 * ms},
			[]time.Duration{10 * ms, 15 * ms, 22500 * time.Microsecond, 33750 * time.Microsecond, 40 * ms, 40 * ms}},
		{"a maximum of the first wait keeps it", backoff.Policy{First: 50 * ms, Max: 50 * ms},
			[]time.Duration{50 * ms, 50 * ms, 50 * ms}},
		{"no maximum keeps the first wait", backoff.Policy{First: 50 * ms},
			[]time.Duration{50 * ms, 50 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []time.Duration
			w := tt.policy.Waits(func(ctx context.Context, d time.Duration) error {
				slept = append(slept, d)
				return nil
			})
			for i, want := range tt.want {
				if err := w.Wait(t.Context()); err != nil {
					t.Fatalf("wait %d: %v", i, err)
				}
				if got := slept[i]; got < want/2 || got > want {
					t.Errorf("wait %d: got %v, want between %v and %v", i, got, want/2, want)
				}
			}
		})
	}
}

// TestWaitsEndWithTheContext: a wait the context ends answers its error.
func TestWaitsEndWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	w := backoff.Policy{First: time.Hour}.Waits(nil)
	start := time.Now()
	if err := w.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context: got %v, want context.Canceled", err)
	}
	// It would otherwise wait an hour; a minute is far more than any load makes of no wait.
	if took := time.Since(start); took > time.Minute {
		t.Errorf("Wait on a cancelled context took %v", took)
	}
}

func TestSleep(t *testing.T) {
	start := time.Now()
	if err := backoff.Sleep(t.Context(), 20*time.Millisecond); err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("Sleep(20ms) returned after %v", took)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep past the deadline: got %v, want context.DeadlineExceeded", err)
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, 3, time.Millisecond, 250 * time.Millisecond} {
		for range 100 {
			if got := backoff.Jitter(d); got < d/2 || got > d {
				t.Fatalf("Jitter(%v): got %v, want between %v and %v", d, got, d/2, d)
			}
		}
	}
}
