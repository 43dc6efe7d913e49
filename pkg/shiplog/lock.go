package shiplog

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// EnvironmentLock is a person's lock of an environment: every deploy to it (of any kind) is
// refused until it is removed or expires, except an emergency deployment.
type EnvironmentLock struct {
	Environment string `json:"environment"`
	Reason      string `json:"reason"`
	LockedBy    Person `json:"locked_by"`
	LockedAt    int64  `json:"locked_at"`
	// ExpiresAt (Unix seconds), if set, ends the lock by itself.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Rollback, if set, is the rollback deployment that took this lock as its hold, in its own
	// write (RollbackInput.Hold): the hold gate refuses on it, not the lock gate.
	Rollback string `json:"rollback,omitempty"`
}

// activeLock returns the state's lock if it holds at time now, else nil.
func activeLock(st *EnvironmentState, now time.Time) *EnvironmentLock {
	if st == nil || st.Lock == nil {
		return nil
	}
	if st.Lock.ExpiresAt != 0 && st.Lock.ExpiresAt <= now.Unix() {
		return nil
	}
	return st.Lock
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// LockInput is a request to lock an environment.
type LockInput struct {
	ProjectID   string
	Environment string
	Reason      string
	ExpiresAt   int64 // Unix seconds; 0: until unlocked
	RequestedBy Person
}

// Lock locks an environment against deploys, replacing any lock it has.
func (s *Service) Lock(ctx context.Context, in LockInput) (EnvironmentLock, error) {
	if err := ValidateID("project", in.ProjectID); err != nil {
		return EnvironmentLock{}, err
	}
	if err := ValidateID("environment", in.Environment); err != nil {
		return EnvironmentLock{}, err
	}
	if err := validateReason("reason", in.Reason, "say why deploys must stop"); err != nil {
		return EnvironmentLock{}, err
	}
	if err := in.RequestedBy.Validate(); err != nil {
		return EnvironmentLock{}, err
	}
	by := normalizePerson(in.RequestedBy)
	now := s.Now()
	if in.ExpiresAt != 0 && in.ExpiresAt <= now.Unix() {
		return EnvironmentLock{}, Errorf(Invalid, "expires_at: %d (%s) is not in the future", in.ExpiresAt, unixTime(in.ExpiresAt))
	}
	lock := EnvironmentLock{Environment: in.Environment, Reason: in.Reason, LockedBy: by, LockedAt: now.Unix(), ExpiresAt: in.ExpiresAt}
	if _, err := s.writeLock(ctx, in.ProjectID, in.Environment, &lock, by); err != nil {
		return EnvironmentLock{}, err
	}
	return lock, nil
}

// Unlock removes an environment's lock, at by's request, and returns it; nil, writing nothing, if
// it had none.
func (s *Service) Unlock(ctx context.Context, projectID, environmentID string, by Person) (*EnvironmentLock, error) {
	if err := ValidateID("project", projectID); err != nil {
		return nil, err
	}
	if err := ValidateID("environment", environmentID); err != nil {
		return nil, err
	}
	if err := by.Validate(); err != nil {
		return nil, err
	}
	return s.writeLock(ctx, projectID, environmentID, nil, normalizePerson(by))
}

// writeLock writes the environment state's next version with lock (nil: none), keeping
// everything else as it is, so that it may come between a deployment's record and its settling.
// It returns the lock it replaced, if that was active.
func (s *Service) writeLock(ctx context.Context, projectID, envID string, lock *EnvironmentLock, by Person) (*EnvironmentLock, error) {
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	env, err := environmentOf(p, envID)
	if err != nil {
		return nil, err
	}
	var old *EnvironmentLock
	err = s.updateState(ctx, projectID, env, "lock", by, func(cur *EnvironmentState, next *EnvironmentState) bool {
		old = activeLock(cur, s.Now())
		if lock == nil && (cur == nil || cur.Lock == nil) {
			return false
		}
		next.Lock = lock
		return true
	})
	return old, err
}

// updateState writes the next version of an environment's state as change makes it from the
// current one (nil: none yet; next starts as a copy, or as an empty state), unless change says
// there is nothing to write. It reads again and retries while other writers win, for up to
// DeployWait. The write carries the events of what change changed (see stateEvents), by whom.
func (s *Service) updateState(ctx context.Context, projectID string, env Environment, what string, by Person, change func(cur, next *EnvironmentState) bool) error {
	return s.updateStateWith(ctx, projectID, env, what, by, func(cur, next *EnvironmentState) ([]StatusUpdate, bool) {
		return nil, change(cur, next)
	})
}

// updateStateWith is updateState whose change also returns status updates of deployments, written
// in the same write as the state, with their events.
func (s *Service) updateStateWith(ctx context.Context, projectID string, env Environment, what string, by Person, change func(cur, next *EnvironmentState) ([]StatusUpdate, bool)) error {
	start := s.Now()
	waits := deployBackoff.Waits(s.Sleep)
	for {
		cur, err := s.environmentState(ctx, projectID, env.ID)
		if err != nil {
			return err
		}
		next := EnvironmentState{ProjectID: projectID, Environment: Environment{ID: env.ID, Name: env.Name}, Images: map[string]string{}}
		if cur != nil {
			next = *cur
		}
		ups, write := change(cur, &next)
		if !write {
			return nil
		}
		w := cur.Next(next)
		w.Statuses = ups
		w.Events = append(s.statusEvents(ups), s.stateEvents(cur, next, by, s.Now().Unix())...)
		err = s.Store.WriteEnvironment(ctx, w)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return fmt.Errorf("write %s of %s/%s: %w", what, projectID, env.ID, err)
		}
		if s.Now().Sub(start) >= s.DeployWait {
			return Errorf(Conflict, "%s/%s kept changing while its %s was written; retry", projectID, env.ID, what)
		}
		if err := waits.Wait(ctx); err != nil {
			return Wrap(Unavailable, err, "write %s of %s/%s: gave up waiting for its turn", what, projectID, env.ID)
		}
	}
}

// updateStates writes the next version of the states of every environment of p that change
// makes from their current ones (as updateState does for one), all in one write of the store
// (WriteEnvironments), so that a failure leaves every one as it was. change may refuse with an
// error. It reads again and retries while other writers win, for up to DeployWait.
func (s *Service) updateStates(ctx context.Context, p Project, what string, by Person, change func(env Environment, cur, next *EnvironmentState) (bool, error)) error {
	start := s.Now()
	waits := deployBackoff.Waits(s.Sleep)
	for {
		states, err := s.Store.EnvironmentStates(ctx, p.ID)
		if err != nil {
			return fmt.Errorf("environments of %s: %w", p.ID, err)
		}
		var ws []EnvironmentWrite
		for _, env := range p.Environments {
			var cur *EnvironmentState
			for i := range states {
				if states[i].Environment.ID == env.ID {
					cur = &states[i]
				}
			}
			next := EnvironmentState{ProjectID: p.ID, Environment: Environment{ID: env.ID, Name: env.Name}, Images: map[string]string{}}
			if cur != nil {
				next = *cur
			}
			write, err := change(env, cur, &next)
			if err != nil {
				return err
			}
			if !write {
				continue
			}
			w := cur.Next(next)
			w.Events = s.stateEvents(cur, next, by, s.Now().Unix())
			ws = append(ws, w)
		}
		if len(ws) == 0 {
			return nil
		}
		err = s.Store.WriteEnvironments(ctx, ws)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return fmt.Errorf("write %s of %s: %w", what, p.ID, err)
		}
		if s.Now().Sub(start) >= s.DeployWait {
			return Errorf(Conflict, "%s kept changing while its %s was written; retry", p.ID, what)
		}
		if err := waits.Wait(ctx); err != nil {
			return Wrap(Unavailable, err, "write %s of %s: gave up waiting for its turn", what, p.ID)
		}
	}
}
