package shiplog

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"
)

// Freeze is a change window during which deploys to some environments of a project (all of them
// if Environments is empty) are refused, except emergency deployments.
//
// A freeze is kept on the state of each environment it covers, so that a deploy checks it in the
// same versioned read, and a freeze written while a deploy records makes that deploy read again.
// Every state a freeze changes is written in one write (Store.WriteEnvironments).
type Freeze struct {
	ID           string   `json:"freeze_id"`
	Environments []string `json:"environments"`
	StartsAt     int64    `json:"starts_at"`
	EndsAt       int64    `json:"ends_at"`
	Reason       string   `json:"reason"`
	CreatedBy    Person   `json:"created_by"`
	CreatedAt    int64    `json:"created_at"`
}

func (f Freeze) covers(env string) bool {
	return len(f.Environments) == 0 || slices.Contains(f.Environments, env)
}

// FreezeInput is a request to create or replace a freeze.
type FreezeInput struct {
	ProjectID    string
	ID           string
	Environments []string // empty: all
	// Scope, when set, is the one environment the caller acts on (the HTTP API's path names it,
	// so that IAM can scope who freezes where): the freeze covers exactly it, Environments must be
	// empty, and a freeze of the same id that covers any other environment is refused, never
	// changed.
	Scope       string
	StartsAt    int64
	EndsAt      int64
	Reason      string
	RequestedBy Person
}

// PutFreeze creates or replaces a freeze, writing it to the state of each environment it covers
// and removing it from the others, in one write. An environment holds at most
// MaxFreezesPerEnvironment live freezes: a new one past that is refused (Conflict).
func (s *Service) PutFreeze(ctx context.Context, in FreezeInput) (Freeze, error) {
	if err := ValidateID("project", in.ProjectID); err != nil {
		return Freeze{}, err
	}
	if err := ValidateID("freeze", in.ID); err != nil {
		return Freeze{}, err
	}
	if err := validateReason("reason", in.Reason, "say why deploys stop"); err != nil {
		return Freeze{}, err
	}
	if err := in.RequestedBy.Validate(); err != nil {
		return Freeze{}, err
	}
	by := normalizePerson(in.RequestedBy)
	now := s.Now()
	switch {
	case in.StartsAt <= 0:
		return Freeze{}, Errorf(Invalid, "starts_at: is required (Unix seconds)")
	case in.EndsAt <= in.StartsAt:
		return Freeze{}, Errorf(Invalid, "ends_at: %d (%s) is not after starts_at %d (%s)", in.EndsAt, unixTime(in.EndsAt), in.StartsAt, unixTime(in.StartsAt))
	case in.EndsAt <= now.Unix():
		return Freeze{}, Errorf(Invalid, "ends_at: %d (%s) is in the past", in.EndsAt, unixTime(in.EndsAt))
	}
	p, err := s.Project(ctx, in.ProjectID)
	if err != nil {
		return Freeze{}, err
	}
	if in.Scope != "" {
		return s.putScopedFreeze(ctx, p, in, by)
	}
	envs := []string{}
	for i, e := range in.Environments {
		if _, ok := p.Environment(e); !ok {
			return Freeze{}, Errorf(NotFound, "environments[%d]: %q is not one of %s's: %s", i, e, p.ID, strings.Join(p.EnvironmentIDs(), ", "))
		}
		if !slices.Contains(envs, e) {
			envs = append(envs, e)
		}
	}
	f := Freeze{ID: in.ID, Environments: envs, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Reason: in.Reason, CreatedBy: by, CreatedAt: now.Unix()}
	err = s.updateStates(ctx, p, "freeze "+f.ID, by, func(env Environment, cur, next *EnvironmentState) (bool, error) {
		i := freezeIndex(cur, f.ID)
		switch {
		case f.covers(env.ID) && i < 0:
			if n := len(liveFreezes(next.Freezes, now)); n >= MaxFreezesPerEnvironment {
				return false, Errorf(Conflict, "%s/%s holds %d current and future freezes, the most one environment may (MaxFreezesPerEnvironment); delete one, or widen one that is there, before adding %s",
					p.ID, env.ID, n, f.ID)
			}
			next.Freezes = append(slices.Clone(next.Freezes), f)
		case f.covers(env.ID):
			next.Freezes = slices.Clone(next.Freezes)
			next.Freezes[i] = f
		case i >= 0:
			next.Freezes = slices.Delete(slices.Clone(next.Freezes), i, i+1)
		default:
			return false, nil
		}
		next.Freezes = liveFreezes(next.Freezes, now)
		return true, nil
	})
	if err != nil {
		return Freeze{}, err
	}
	return f, nil
}

// putScopedFreeze creates or replaces a freeze of in.Scope alone, writing only that environment's
// state: a freeze of the same id anywhere else is refused (Conflict), so that a caller allowed one
// environment cannot lift or reshape another's.
func (s *Service) putScopedFreeze(ctx context.Context, p Project, in FreezeInput, by Person) (Freeze, error) {
	env, err := environmentOf(p, in.Scope)
	if err != nil {
		return Freeze{}, err
	}
	if len(in.Environments) > 0 {
		return Freeze{}, Errorf(Invalid, "environments: the path names the environment (%s); a freeze of several is set by PUT /projects/%s/freezes/%s", env.ID, p.ID, in.ID)
	}
	now := s.Now()
	f := Freeze{ID: in.ID, Environments: []string{env.ID}, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Reason: in.Reason, CreatedBy: by, CreatedAt: now.Unix()}
	states, err := s.Store.EnvironmentStates(ctx, p.ID)
	if err != nil {
		return Freeze{}, err
	}
	for _, st := range states {
		if err := scopedFreeze(&st, in.ID, env.ID, p.ID, now); err != nil {
			return Freeze{}, err
		}
	}
	var refused error
	err = s.updateState(ctx, p.ID, env, "freeze "+f.ID, by, func(cur, next *EnvironmentState) bool {
		if refused = scopedFreeze(cur, f.ID, env.ID, p.ID, now); refused != nil {
			return false
		}
		next.Freezes = liveFreezes(next.Freezes, now)
		if i := freezeIndex(next, f.ID); i >= 0 {
			next.Freezes[i] = f
		} else {
			next.Freezes = append(next.Freezes, f)
		}
		return true
	})
	if refused != nil {
		return Freeze{}, refused
	}
	if err != nil {
		return Freeze{}, err
	}
	return f, nil
}

// scopedFreeze refuses (Conflict) when st holds a live freeze id that covers more than env: a
// caller acting on env alone may not change it.
func scopedFreeze(st *EnvironmentState, id, env, projectID string, now time.Time) error {
	if st == nil {
		return nil
	}
	i := freezeIndex(&EnvironmentState{Freezes: liveFreezes(st.Freezes, now)}, id)
	if i < 0 {
		return nil
	}
	f := liveFreezes(st.Freezes, now)[i]
	if len(f.Environments) == 1 && f.Environments[0] == env {
		return nil
	}
	covers := "all environments"
	if len(f.Environments) > 0 {
		covers = strings.Join(f.Environments, ", ")
	}
	return Errorf(Conflict, "freeze %s of %s covers %s, not %s alone; a freeze over more than one environment is changed or lifted at /projects/%s/freezes/%s",
		id, projectID, covers, env, projectID, id)
}

// DeleteEnvironmentFreeze lifts a freeze of env alone, at by's request, and returns it: NotFound
// if env has no such freeze, Conflict if it covers other environments too (lift those at
// DeleteFreeze). Only env's state is written.
func (s *Service) DeleteEnvironmentFreeze(ctx context.Context, projectID, envID, id string, by Person) (Freeze, error) {
	if err := ValidateID("project", projectID); err != nil {
		return Freeze{}, err
	}
	if err := ValidateID("environment", envID); err != nil {
		return Freeze{}, err
	}
	if err := ValidateID("freeze", id); err != nil {
		return Freeze{}, err
	}
	if err := by.Validate(); err != nil {
		return Freeze{}, err
	}
	by = normalizePerson(by)
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return Freeze{}, err
	}
	env, err := environmentOf(p, envID)
	if err != nil {
		return Freeze{}, err
	}
	now := s.Now()
	var removed *Freeze
	var refused error
	err = s.updateState(ctx, p.ID, env, "freeze "+id, by, func(cur, next *EnvironmentState) bool {
		removed = nil
		if refused = scopedFreeze(cur, id, env.ID, p.ID, now); refused != nil {
			return false
		}
		live := liveFreezes(next.Freezes, now)
		i := freezeIndex(&EnvironmentState{Freezes: live}, id)
		if i < 0 {
			return false
		}
		f := live[i]
		removed = &f
		next.Freezes = slices.Delete(live, i, i+1)
		return true
	})
	if refused != nil {
		return Freeze{}, refused
	}
	if err != nil {
		return Freeze{}, err
	}
	if removed == nil {
		return Freeze{}, Errorf(NotFound, "%s/%s has no freeze %q", projectID, env.ID, id)
	}
	return *removed, nil
}

// DeleteFreeze removes a freeze from every environment, at by's request, and returns it; NotFound
// if no environment has it.
func (s *Service) DeleteFreeze(ctx context.Context, projectID, id string, by Person) (Freeze, error) {
	if err := ValidateID("project", projectID); err != nil {
		return Freeze{}, err
	}
	if err := ValidateID("freeze", id); err != nil {
		return Freeze{}, err
	}
	if err := by.Validate(); err != nil {
		return Freeze{}, err
	}
	by = normalizePerson(by)
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return Freeze{}, err
	}
	var removed *Freeze
	err = s.updateStates(ctx, p, "freeze "+id, by, func(_ Environment, cur, next *EnvironmentState) (bool, error) {
		i := freezeIndex(cur, id)
		if i < 0 {
			return false, nil
		}
		f := cur.Freezes[i]
		removed = &f
		next.Freezes = slices.Delete(slices.Clone(next.Freezes), i, i+1)
		return true, nil
	})
	if err != nil {
		return Freeze{}, err
	}
	if removed == nil {
		return Freeze{}, Errorf(NotFound, "project %s has no freeze %q", projectID, id)
	}
	return *removed, nil
}

// Freezes lists a project's current and future freezes, by start, each with exactly the
// environments whose states hold it: "environments": [] (all of them) only if every registered
// environment does. (A freeze of all written before an environment was registered, or one an
// older shiplog left on some environments when it died mid-write, lists those it is on.)
func (s *Service) Freezes(ctx context.Context, projectID string) ([]Freeze, error) {
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	states, err := s.Store.EnvironmentStates(ctx, projectID)
	if err != nil {
		return nil, err
	}
	byID := map[string]Freeze{}
	on := map[string][]string{}
	for _, st := range states {
		if _, registered := p.Environment(st.Environment.ID); !registered {
			continue // retired: deploys to it are refused anyway
		}
		for _, f := range liveFreezes(st.Freezes, s.Now()) {
			if have, ok := byID[f.ID]; !ok || f.CreatedAt > have.CreatedAt {
				byID[f.ID] = f
			}
			on[f.ID] = append(on[f.ID], st.Environment.ID)
		}
	}
	out := make([]Freeze, 0, len(byID))
	for id, f := range byID {
		holders := on[id]
		sort.Strings(holders)
		want := f.Environments
		if len(want) == 0 {
			want = p.EnvironmentIDs()
		}
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(holders, want) {
			f.Environments = holders
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartsAt != out[j].StartsAt {
			return out[i].StartsAt < out[j].StartsAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func freezeIndex(st *EnvironmentState, id string) int {
	if st == nil {
		return -1
	}
	return slices.IndexFunc(st.Freezes, func(f Freeze) bool { return f.ID == id })
}

// liveFreezes drops the freezes that have ended, so that states do not grow with old windows.
func liveFreezes(fs []Freeze, now time.Time) []Freeze {
	return slices.DeleteFunc(slices.Clone(fs), func(f Freeze) bool { return f.EndsAt <= now.Unix() })
}
