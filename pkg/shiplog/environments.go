package shiplog

import (
	"context"
	"fmt"
)

// Deployments lists a project's deployments, newest first, narrowed by the filter (one
// environment, one release, or both).
func (s *Service) Deployments(ctx context.Context, projectID string, filter DeploymentFilter, page PageRequest) (Page[DeploymentRecord], error) {
	page, err := page.normalize()
	if err != nil {
		return Page[DeploymentRecord]{}, err
	}
	if err := ValidateID("project", projectID); err != nil {
		return Page[DeploymentRecord]{}, err
	}
	environmentID := filter.Environment
	if environmentID != "" {
		if err := ValidateID("environment", environmentID); err != nil {
			return Page[DeploymentRecord]{}, err
		}
	}
	if filter.Release != "" {
		if err := ValidateID("release", filter.Release); err != nil {
			return Page[DeploymentRecord]{}, err
		}
	}
	out, err := s.Store.ListDeployments(ctx, projectID, filter, page)
	if err != nil {
		return Page[DeploymentRecord]{}, fmt.Errorf("list deployments of %s: %w", projectID, err)
	}
	for i := range out.Items {
		out.Items[i] = withStatus(out.Items[i])
	}
	// As for releases, only an empty page needs the project, to say what is wrong if anything
	// is. A non-empty page of an environment's deployments is its history even if the manifest
	// has since dropped the environment.
	if len(out.Items) == 0 {
		project, err := s.Project(ctx, projectID)
		if err != nil {
			return Page[DeploymentRecord]{}, err
		}
		if environmentID != "" {
			if _, err := environmentOf(project, environmentID); err != nil {
				return Page[DeploymentRecord]{}, err
			}
		}
		if filter.Release != "" {
			if _, err := s.Release(ctx, projectID, filter.Release); err != nil {
				return Page[DeploymentRecord]{}, err
			}
		}
	}
	return out, nil
}

// EnvironmentStatus is one environment of a project, what is deployed there (nil: nothing) and
// its lock (nil: none).
type EnvironmentStatus struct {
	Environment Environment       `json:"environment"`
	Current     *EnvironmentState `json:"current"`
	Lock        *EnvironmentLock  `json:"lock"`
}

// Environments returns each environment of a project with its current release and images.
func (s *Service) Environments(ctx context.Context, projectID string) ([]EnvironmentStatus, error) {
	project, err := s.Project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	states, err := s.Store.EnvironmentStates(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("environments of %s: %w", projectID, err)
	}
	byID := make(map[string]*EnvironmentState, len(states))
	for i := range states {
		byID[states[i].Environment.ID] = &states[i]
	}
	now := s.Now()
	out := make([]EnvironmentStatus, len(project.Environments))
	for i, e := range project.Environments {
		st := byID[e.ID]
		out[i] = EnvironmentStatus{Environment: e, Lock: activeLock(st, now)}
		if st != nil && st.ReleaseID != "" { // a state may hold only a lock
			// The idempotency keys are the store's bookkeeping of retries, not what is deployed.
			st.Requests = nil
			out[i].Current = st
		}
	}
	return out, nil
}
