package awsecr

import "time"

// SetClock makes r tell time by now, so that tests can age what it remembers.
func SetClock(r *Registry, now func() time.Time) { r.now = now }
