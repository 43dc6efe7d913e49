package shiplog

import "time"

// The limits on what callers send: each has this one definition, which the README lists.
const (
	// MaxIDLength bounds project, environment and service ids and labels.
	MaxIDLength = 128
	// MaxNameLength bounds names people read: of projects and requesters (their ids too).
	MaxNameLength = 256
	// MaxDescriptionLength bounds a release's or a deployment's description.
	MaxDescriptionLength = 1024
)

// MaxPushAhead is how far ahead of the clock a push's event time may be. Pushes are ordered by
// event time, so one dated later would pin the label latest until real time caught up; it is
// ignored instead. The bound allows for clock skew between ECR, EventBridge and the function.
const MaxPushAhead = 5 * time.Minute
