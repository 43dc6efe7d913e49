package shiplog

import (
	"crypto/rand"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Service records pushes, creates releases and deploys them. It is safe for concurrent use.
type Service struct {
	Params   ParameterStore
	Store    ReleaseStore
	Registry Registry // optional

	// Now is the clock; NewID makes release and deployment ids, which must sort by creation time.
	Now   func() time.Time
	NewID func() string
	// LockTTL bounds how long a deployment may hold an environment while writing parameters.
	LockTTL time.Duration
	Log     *slog.Logger
}

// NewService returns a Service on the real clock, with ULID ids.
func NewService(params ParameterStore, store ReleaseStore, registry Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		Params: params, Store: store, Registry: registry,
		Now: time.Now, NewID: NewULIDGenerator(time.Now),
		LockTTL: 2 * time.Minute, Log: log,
	}
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

// AnonymousPerson stands for a requester that did not say who they are.
var AnonymousPerson = Person{ID: "unknown", Name: "unknown"}

// Validate checks a requester as given, whichever channel asserts it: the anonymous requester (no
// id and no name) or an id, and a name, of at most MaxNameLength bytes with no control
// characters; Via, if set, one of ViaAPI and ViaInvoke.
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
	return validateName("requested_by.name", p.Name)
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
