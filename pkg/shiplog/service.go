package shiplog

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/shiplog/shiplog/pkg/backoff"
)

// Service records pushes, creates releases and deploys them. It is safe for concurrent use.
type Service struct {
	Params   ParameterStore
	Store    Store
	Registry Registry // optional
	// Metadata, if set, reads pushed images' annotations, where their source is learnt first.
	Metadata ImageMetadata
	// Atomic, if set, is the store's write of an environment's state and its parameters in one
	// atomic write, declared by a store that holds both (Params and Store are then the same
	// store): a deploy then records, writes and settles at once. Nil: parameters are written
	// between the record and the settle.
	Atomic  AtomicParameters
	Runtime Runtime // optional: without it, only reports verify deployments
	// Alarms reads CloudWatch alarms, for the alarms gate and bakes; Findings reads images' ECR
	// scan findings, for the findings gate. Both optional: without them, a deploy to an
	// environment that names alarms, or a maximum finding severity, is refused (nothing can say
	// it is safe), and bakes are left unsettled.
	Alarms   Alarms
	Findings Findings
	// Places, if set, reaches environments that live in another account or region (Placement)
	// through the role each names. Nil: every environment is reached through Params and Runtime.
	Places Places
	// Home is the account and region the stack runs in, where the ECS clusters that
	// environments name without an ARN are; ECS events are accepted only from where an
	// environment's cluster is. Zero: only clusters named by ARN can match an event.
	Home Location
	// Commits, if set, reads the commits of a range (the GitHub API, pkg/github) when a deploy
	// is recorded; they are kept in the deployment's ranges, so that reads never call it.
	Commits CommitHistory
	// Automate makes the Service act on automation at once where it happens: a failure in an
	// auto_rollback environment is rolled back, and a release or a verification auto-promoted,
	// in the request that records it (docs/automation.md). Set it where the Service may deploy
	// (the parameter store, the registry, and their permissions: the API, the deploy function,
	// the local stack); elsewhere Tick does the same within a tick.
	Automate bool

	// Now is the clock and Sleep waits on it (it returns early with ctx's error); NewID makes
	// release and deployment ids, which must sort by creation time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	NewID func() string
	// NewEventID makes event ids, which must be ULIDs (see EventIDFloor); nil: a ULID generator
	// on Now. It is apart from NewID so that the log does not take ids from releases and
	// deployments.
	NewEventID func() string
	// LockTTL bounds how long a deployment may hold an environment while writing parameters: just
	// over the longest time a function may run, so that a lock outlives only a dead deployment.
	LockTTL time.Duration
	// DeployWait bounds how long a deploy waits for its turn when other deploys to the same
	// environment are under way, well inside the time a function may run.
	DeployWait time.Duration
	Log        *slog.Logger
	// Observer, if set, is told what deploys did, for metrics (the Lambda functions write them
	// as CloudWatch metrics); nil: nobody is told.
	Observer DeployObserver

	eventIDsOnce sync.Once
	eventIDs     func() string
}

// The defaults of NewService. The deploy function may run for 120 s (template.yaml) and the API
// function for 29 s.
const (
	DefaultLockTTL    = 125 * time.Second
	DefaultDeployWait = 20 * time.Second
)

// NewService returns a Service on the real clock, with ULID ids (event ids from a generator on
// Now, made at the first event, so that a test that sets Now gets event ids on its clock).
func NewService(params ParameterStore, store Store, registry Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		Params: params, Store: store, Registry: registry,
		Now: time.Now, Sleep: backoff.Sleep, NewID: NewULIDGenerator(time.Now),
		LockTTL: DefaultLockTTL, DeployWait: DefaultDeployWait, Log: log,
	}
}

// notFound phrases a store's not-found answer for callers, so that every store says the same.
func (s *Service) notFound(err error, projectID, releaseID string) error {
	switch {
	case errors.Is(err, ErrProjectNotFound):
		return Wrap(NotFound, err, "project %q is not registered", projectID)
	case errors.Is(err, ErrReleaseNotFound) && releaseID == LatestRelease:
		return Wrap(NotFound, err, "project %s has no releases yet", projectID)
	case errors.Is(err, ErrReleaseNotFound):
		return Wrap(NotFound, err, "project %s has no release %q", projectID, releaseID)
	}
	return err
}

// NewULIDGenerator returns an id generator whose ids are 26 URL-safe characters that sort by
// creation time, and strictly increase within one process.
func NewULIDGenerator(now func() time.Time) func() string {
	var mu sync.Mutex
	entropy := ulid.Monotonic(rand.Reader, 0)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return ulid.MustNew(ulid.Timestamp(now()), entropy).String()
	}
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func validateText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(Invalid, "%s: is %d bytes long; the limit is %d", field, len(s), max)
	}
	return nil
}

// validateDescription allows line breaks and tabs, but no other control character.
func validateDescription(field, s string) error {
	if err := validateText(field, s, MaxDescriptionLength); err != nil {
		return err
	}
	return refuseControl(field, s, "\n\t")
}

// validateReason checks the reason a lock, a freeze or a rollback must give: required, and not
// blank, since "   " records that someone stopped deploys without saying why; then as a
// description. why finishes "is required: ...".
func validateReason(field, s, why string) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(Invalid, "%s: is required: %s", field, why)
	}
	return validateDescription(field, s)
}

// AnonymousPerson stands for a requester that did not say who they are.
var AnonymousPerson = Person{ID: "unknown", Name: "unknown"}

// Validate checks a requester as given, whichever channel asserts it: the anonymous requester (no
// id and no name) or an id, and a name, of at most MaxNameLength bytes with no control or format
// characters; Via, if set, one of ViaAPI and ViaInvoke. An identity asserted via invoke must not
// claim one only shiplog or authentication can vouch for (see refuseUnprovable).
func (p Person) Validate() error {
	switch p.Via {
	case "", ViaAPI, ViaInvoke:
	default:
		return Errorf(Invalid, "requested_by.via: %q is not %q or %q", clip(p.Via), ViaAPI, ViaInvoke)
	}
	if p.ID == "" && p.Name == "" {
		return nil
	}
	if strings.TrimSpace(p.ID) == "" {
		return Errorf(Invalid, "requested_by.id: is required when requested_by is given")
	}
	if err := validateName("requested_by.id", p.ID); err != nil {
		return err
	}
	if err := validateName("requested_by.name", p.Name); err != nil {
		return err
	}
	if p.Via == ViaInvoke {
		if err := refuseUnprovable("requested_by.id", p.ID); err != nil {
			return err
		}
		return refuseUnprovable("requested_by.name", p.Name)
	}
	return nil
}

// systemPersons are who shiplog records as acting on its own or on AWS's word. No requester
// asserted via invoke may name itself as one of them, so that "by Amazon ECS" is always ECS's.
var systemPersons = []Person{shiplogPerson, ecsPerson, ecrPerson, cloudwatchPerson, bakePerson}

// refuseUnprovable refuses, in an identity a direct invocation asserts, what only shiplog or an
// authentication can vouch for: the ids and names of systemPersons, an ARN (the API channel
// records the ARN of the IAM principal that signed; an invoker naming one would pass as it), and
// an AWS service principal. Case does not matter: "ECS" reads as "ecs".
func refuseUnprovable(field, s string) error {
	for _, p := range systemPersons {
		if strings.EqualFold(s, p.ID) || strings.EqualFold(s, p.Name) {
			return Errorf(Invalid, "%s: %q is what shiplog records for %s itself; a direct invocation names its caller (e.g. \"ci\"), and is recorded as asserted via invoke", field, clip(s), p.Name)
		}
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "arn:"):
		return Errorf(Invalid, "%s: %q is shaped like an ARN, which only an authenticated caller is recorded as (IAM on the HTTP API); a direct invocation names its caller (e.g. \"ci\"), and is recorded as asserted via invoke", field, clip(s))
	case strings.HasSuffix(lower, ".amazonaws.com") || strings.HasSuffix(lower, ".amazonaws.com.cn"):
		return Errorf(Invalid, "%s: %q is shaped like an AWS service principal; a direct invocation names its caller (e.g. \"ci\"), and is recorded as asserted via invoke", field, clip(s))
	}
	return nil
}

// normalizePerson fills in the anonymous requester and a missing name; p must be valid.
func normalizePerson(p Person) Person {
	if p.ID == "" {
		p.ID, p.Name = AnonymousPerson.ID, AnonymousPerson.Name
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	return p
}
