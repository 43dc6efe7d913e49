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
	// MaxManifestEntryBytes bounds one project's entry of .wellcome_project (compact JSON), which
	// every release of the project copies.
	MaxManifestEntryBytes = 64 << 10
	// MaxEnvironments bounds the environments of one project.
	MaxEnvironments = 100
	// MaxServicesPerProject bounds the services of one project: a release holds an image of each,
	// and a deploy writes a parameter for each.
	MaxServicesPerProject = 200
	// MaxServicesPerRepository bounds the services, over every project, that one ECR repository
	// feeds: one push writes a parameter for each.
	MaxServicesPerRepository = 200
	// PushConcurrency is how many services' parameters one push writes at once. With
	// MaxServicesPerRepository services and SSM's latency (tens of milliseconds per call, a few
	// calls per service) a push then takes about a second, well inside the function's timeout,
	// and stays under SSM's throughput limits.
	PushConcurrency = 16
	// MaxLiveDeployKeys bounds the idempotency keys of deploys and rollbacks, from the last
	// KeyTTL, that one environment holds. They live in the environment's state, one DynamoDB item
	// of at most 400 KB: a key's record is at most about 320 bytes of JSON (a 128-character key,
	// its request's hash, two ids, a time), so these take at most about 64 KB of it. A keyed
	// deploy past the bound is refused (409) rather than a live key forgotten.
	MaxLiveDeployKeys = 200
	// MaxFreezesPerEnvironment bounds the current and future freezes one environment holds. They
	// live in the environment's state, one DynamoDB item of at most 400 KB, beside the deploy
	// keys (at most about 64 KB), the images (up to MaxServicesPerProject) and a lock: a freeze is
	// at most about 15 KB (a reason of MaxDescriptionLength, its creator, and up to MaxEnvironments
	// environment ids), so these take at most about 240 KB of it. A freeze past the bound is
	// refused (409) rather than the state grown past what DynamoDB stores, after which every
	// write of the environment (a lock, a deploy) would fail.
	MaxFreezesPerEnvironment = 16
)

// MaxSoak bounds how long a requires entry may ask a release to soak upstream: longer is a
// freeze, not a soak.
const MaxSoak = 30 * 24 * time.Hour

// MaxPushAhead is how far ahead of the clock a push's event time may be. Pushes are ordered by
// event time, so one dated later would pin the label latest until real time caught up; it is
// ignored instead. The bound allows for clock skew between ECR, EventBridge and the function.
const MaxPushAhead = 5 * time.Minute

// MaxRuntimeEventAhead is how far ahead of the clock an ECS event's time may be. An event is
// taken only if dated no earlier than the deployment it changes was applied; one dated far
// ahead would pass that for every deployment to come, so it is ignored. The bound allows for
// clock skew between ECS, EventBridge and the function.
const MaxRuntimeEventAhead = 5 * time.Minute

// The window of the DORA metrics (Service.Metrics): the default, and the longest one may ask for.
const (
	DefaultMetricsWindow = 30 * 24 * time.Hour
	MaxMetricsWindow     = 366 * 24 * time.Hour
)
