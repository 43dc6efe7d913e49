package shiplog

// The limits on what callers send: each has this one definition, which the README lists.
const (
	// MaxIDLength bounds project, environment and service ids and labels.
	MaxIDLength = 128
	// MaxNameLength bounds names people read: of projects and requesters (their ids too).
	MaxNameLength = 256
	// MaxDescriptionLength bounds a release's or a deployment's description.
	MaxDescriptionLength = 1024
)
