package shiplog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shiplog/shiplog/pkg/logctx"
)

// ReportInput is a report, by the consuming pipeline or a person, of how a deployment went.
type ReportInput struct {
	ProjectID    string
	DeploymentID string
	// Environment, when set, is the environment the caller acts on (the HTTP API's path names
	// it, so that IAM can scope who reports where): a deployment of another one is refused.
	Environment string
	// Status is StatusVerified or StatusFailed.
	Status string
	Detail string
	By     Person
}

// Validate checks a report before anything is read.
func (in ReportInput) Validate() error {
	if err := ValidateID("project", in.ProjectID); err != nil {
		return err
	}
	if err := ValidateID("deployment", in.DeploymentID); err != nil {
		return err
	}
	if in.Environment != "" {
		if err := ValidateID("environment", in.Environment); err != nil {
			return err
		}
	}
	switch in.Status {
	case StatusVerified, StatusFailed:
	case "":
		return Errorf(Invalid, "status: is required: %q or %q", StatusVerified, StatusFailed)
	default:
		return Errorf(Invalid, "status: %q cannot be reported; report %q or %q (shiplog itself sets requested, applied and superseded)",
			in.Status, StatusVerified, StatusFailed)
	}
	if err := validateDescription("detail", in.Detail); err != nil {
		return err
	}
	return in.By.Validate()
}

// Deployment returns one of a project's deployments, with its status.
func (s *Service) Deployment(ctx context.Context, projectID, deploymentID string) (DeploymentRecord, error) {
	if err := ValidateID("project", projectID); err != nil {
		return DeploymentRecord{}, err
	}
	if err := ValidateID("deployment", deploymentID); err != nil {
		return DeploymentRecord{}, err
	}
	rec, err := s.deployment(ctx, projectID, deploymentID)
	if err != nil {
		return DeploymentRecord{}, err
	}
	return withStatus(rec), nil
}

// deployment returns a deployment as stored, its status empty if it was recorded before
// statuses existed.
func (s *Service) deployment(ctx context.Context, projectID, deploymentID string) (DeploymentRecord, error) {
	rec, err := s.Store.GetDeployment(ctx, projectID, deploymentID)
	if errors.Is(err, ErrDeploymentNotFound) {
		if _, perr := s.Project(ctx, projectID); perr != nil {
			return DeploymentRecord{}, perr
		}
		return DeploymentRecord{}, Wrap(NotFound, err, "project %s has no deployment %q", projectID, deploymentID)
	}
	if err != nil {
		return DeploymentRecord{}, fmt.Errorf("get deployment %s: %w", deploymentID, err)
	}
	return rec, nil
}

// withStatus gives a deployment recorded before statuses existed the status it had: applied.
func withStatus(rec DeploymentRecord) DeploymentRecord {
	if rec.Status == "" {
		rec.Status = StatusApplied
	}
	return rec
}

// ReportStatus records that a deployment was verified or failed. A deployment can be reported
// verified once applied, and failed at any time until it is superseded; a verified deployment can
// still be reported failed (it broke later), a failed one not verified (deploy again). Repeating
// the report it has is a no-op that answers the deployment as it is.
func (s *Service) ReportStatus(ctx context.Context, in ReportInput) (DeploymentRecord, error) {
	logctx.Add(ctx, logctx.Project, in.ProjectID, logctx.Environment, in.Environment, logctx.Deployment, in.DeploymentID)
	if err := in.Validate(); err != nil {
		return DeploymentRecord{}, err
	}
	in.By = normalizePerson(in.By)
	return s.setStatus(ctx, in.ProjectID, in.DeploymentID, in.Environment, StatusEntry{Status: in.Status, By: in.By, Detail: in.Detail})
}

// checkScope refuses a deployment outside scope, the environment the caller acts on (none when
// empty): NotFound if the project has no such environment, else Conflict naming the deployment's.
func (s *Service) checkScope(ctx context.Context, projectID, scope string, rec DeploymentRecord) error {
	if scope == "" || rec.Environment.ID == scope {
		return nil
	}
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return err
	}
	if _, err := environmentOf(p, scope); err != nil {
		return err
	}
	return Errorf(Conflict, "deployment %s of %s is in %s, not %s; act on it through its own environment (.../environments/%s/deployments/%s)",
		rec.ID, projectID, rec.Environment.ID, scope, rec.Environment.ID, rec.ID)
}

// setStatus moves a deployment to entry's status, if the move makes sense, in one write with its
// environment's state (the deployment must still be the current one there).
//
// scope, when set, is the environment the caller acts on (see checkScope).
func (s *Service) setStatus(ctx context.Context, projectID, deploymentID, scope string, entry StatusEntry) (DeploymentRecord, error) {
	if err := ValidateID("project", projectID); err != nil {
		return DeploymentRecord{}, err
	}
	stored, err := s.deployment(ctx, projectID, deploymentID)
	if err != nil {
		return DeploymentRecord{}, err
	}
	rec := withStatus(stored)
	if err := s.checkScope(ctx, projectID, scope, rec); err != nil {
		return DeploymentRecord{}, err
	}
	env := rec.Environment
	var (
		out              DeploymentRecord
		changed, current bool
	)
	err = s.updateStatus(ctx, projectID, env, "status of deployment "+deploymentID, func(cur, next *EnvironmentState) ([]StatusUpdate, error) {
		status := rec.Status
		current = cur != nil && cur.DeploymentID == deploymentID
		changed = false
		if current && cur.Status != "" {
			status = cur.Status // the state is read after the record: it is the newer word
		}
		if !current && (status == StatusRequested || status == StatusApplied) {
			status = StatusSuperseded // recorded before the store kept supersessions
		}
		if err := checkTransition(rec, status, entry.Status); err != nil {
			return nil, err
		}
		if status == entry.Status {
			out = rec
			out.Status = status
			return nil, nil // the same report again
		}
		if !current {
			now := "none is"
			if cur != nil && cur.DeploymentID != "" {
				now = "deployment " + cur.DeploymentID + " is"
			}
			return nil, Errorf(Conflict, "deployment %s is no longer current in %s/%s (%s); only the current deployment's status can change",
				deploymentID, projectID, env.ID, now)
		}
		entry.At = s.Now().Unix()
		changed = true
		next.Status = entry.Status
		out = rec
		out.Status = entry.Status
		out.StatusHistory = append(slices.Clone(rec.StatusHistory), entry)
		return []StatusUpdate{{ProjectID: projectID, ReleaseID: rec.ReleaseID, Environment: env.ID, DeploymentID: deploymentID, Entry: entry}}, nil
	})
	if err != nil {
		return DeploymentRecord{}, err
	}
	s.afterStatus(ctx, out, changed, current)
	return out, nil
}

// checkTransition refuses a status change that makes no sense.
func checkTransition(rec DeploymentRecord, from, to string) error {
	if from == to {
		return nil
	}
	switch {
	case from == StatusSuperseded:
		return Errorf(Conflict, "deployment %s was superseded by a later deployment to %s before it was verified; report on the current deployment",
			rec.ID, rec.Environment.ID)
	case from == StatusFailed && to == StatusVerified:
		return Errorf(Conflict, "deployment %s is failed; a failed deployment cannot become verified: deploy again (or roll back) and report on that deployment",
			rec.ID)
	case from == StatusRequested && to == StatusVerified:
		return Errorf(Conflict, "deployment %s is still requested: its parameters are not all written yet, so nothing can run it; report verified once it is applied",
			rec.ID)
	}
	return nil
}

// updateStatus is updateState for changes that also change deployments' statuses: change may
// refuse with an error, or answer no updates to write nothing.
func (s *Service) updateStatus(ctx context.Context, projectID string, env Environment, what string, change func(cur, next *EnvironmentState) ([]StatusUpdate, error)) error {
	var refused error
	err := s.updateStateWith(ctx, projectID, env, what, shiplogPerson, func(cur, next *EnvironmentState) ([]StatusUpdate, bool) {
		ups, err := change(cur, next)
		if err != nil {
			refused = err
			return nil, false
		}
		return ups, len(ups) > 0
	})
	if refused != nil {
		return refused
	}
	return err
}

// supersede returns the update that marks prev's deployment superseded, if it was neither verified
// nor failed (nil otherwise, and for states recorded before statuses existed).
func supersede(prev *EnvironmentState, by Person, at int64, next string) []StatusUpdate {
	if prev == nil || prev.DeploymentID == "" || (prev.Status != StatusRequested && prev.Status != StatusApplied) {
		return nil
	}
	return []StatusUpdate{{
		ProjectID: prev.ProjectID, ReleaseID: prev.ReleaseID, Environment: prev.Environment.ID, DeploymentID: prev.DeploymentID,
		Entry: StatusEntry{Status: StatusSuperseded, At: at, By: by, Detail: "replaced by deployment " + next},
	}}
}

// applied returns the update that marks the state's deployment applied, if it is requested.
func applied(st EnvironmentState, at int64) []StatusUpdate {
	if st.Status != StatusRequested {
		return nil
	}
	return []StatusUpdate{{
		ProjectID: st.ProjectID, ReleaseID: st.ReleaseID, Environment: st.Environment.ID, DeploymentID: st.DeploymentID,
		Entry: StatusEntry{Status: StatusApplied, At: at, By: shiplogPerson, Detail: "every parameter written"},
	}}
}

// shiplogPerson is who shiplog itself records as setting the statuses it sets.
var shiplogPerson = Person{ID: "shiplog", Name: "shiplog"}

// verifiedIn reports whether the release was verified in env: recorded so, or deployed there by
// a deployment recorded before statuses existed (which then meant as much as there was).
func verifiedIn(r Release, env string) bool {
	if slices.Contains(r.VerifiedIn, env) {
		return true
	}
	return slices.ContainsFunc(r.Deployments, func(d Deployment) bool { return d.Environment.ID == env && d.Status == "" })
}
