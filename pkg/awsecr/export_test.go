package awsecr

import (
	"context"
	"time"
)

// SetClock makes r tell time by now, so that tests can age what it remembers.
func SetClock(r *Registry, now func() time.Time) { r.now = now }

// MissingImages is CheckImages without a tag, for the tests that ask only what is gone.
func (r *Registry) MissingImages(ctx context.Context, uris []string) ([]string, error) {
	c, err := r.CheckImages(ctx, uris, "")
	return c.Missing, err
}
