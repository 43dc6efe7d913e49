package shiplog

import (
	"context"
	"fmt"

	"github.com/shiplog/shiplog/pkg/logctx"
)

// RollbackInput is a request to undo an environment's current deployment.
type RollbackInput struct {
	ProjectID   string
	Environment string
	// Reason is required; it becomes the rollback's description (and the hold's reason).
	Reason string
	// ToDeployment, if set, names the earlier deployment of this environment whose release to
	// deploy; by default it is the newest one before the current deployment whose release differs.
	ToDeployment string
	// Hold also locks the environment, in the same write, so that a pipeline that deploys on
	// every merge does not undo the rollback.
	Hold        bool
	RequestedBy Person
	// IdempotencyKey, as for a deploy.
	IdempotencyKey string
}

// Rollback deploys again the release an environment ran before its current deployment: a
// deployment of kind rollback that reverts the current one. It checks what a deploy checks but
// the promotion gates, which the release passed when it was first deployed here.
func (s *Service) Rollback(ctx context.Context, in RollbackInput) (DeployResult, error) {
	logctx.Add(ctx, logctx.Project, in.ProjectID, logctx.Environment, in.Environment)
	// A retry must be recognised before the rollback is worked out again: after the first one,
	// the environment runs another release.
	hash := requestHash("rollback", in)
	if res, found, err := s.replayStored(ctx, in.ProjectID, in.Environment, in.IdempotencyKey, hash); found || err != nil {
		return res, err
	}
	req, err := s.newRollbackRequest(ctx, in)
	if err != nil {
		return DeployResult{}, err
	}
	req.hash = hash
	return s.deployInTurn(ctx, req)
}

// PlanRollback answers what Rollback would do, writing nothing.
func (s *Service) PlanRollback(ctx context.Context, in RollbackInput) (PlanResult, error) {
	req, err := s.newRollbackRequest(ctx, in)
	if err != nil {
		return PlanResult{}, err
	}
	return s.plan(ctx, req)
}

func (s *Service) newRollbackRequest(ctx context.Context, in RollbackInput) (deployRequest, error) {
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return deployRequest{}, err
	}
	if err := ValidateID("environment", in.Environment); err != nil {
		return deployRequest{}, err
	}
	if err := validateReason("reason", in.Reason, "say why the deployment is rolled back"); err != nil {
		return deployRequest{}, err
	}
	if in.ToDeployment != "" {
		if err := ValidateID("to_deployment", in.ToDeployment); err != nil {
			return deployRequest{}, err
		}
	}
	if err := in.RequestedBy.Validate(); err != nil {
		return deployRequest{}, err
	}
	by := normalizePerson(in.RequestedBy)
	p, err := s.Project(ctx, in.ProjectID)
	if err != nil {
		return deployRequest{}, err
	}
	if _, err := environmentOf(p, in.Environment); err != nil {
		return deployRequest{}, err
	}
	cur, err := s.environmentState(ctx, in.ProjectID, in.Environment)
	if err != nil {
		return deployRequest{}, err
	}
	if cur == nil || cur.ReleaseID == "" {
		return deployRequest{}, Errorf(Conflict, "%s/%s has nothing deployed: there is nothing to roll back", in.ProjectID, in.Environment)
	}
	target, err := s.rollbackTarget(ctx, in, *cur)
	if err != nil {
		return deployRequest{}, err
	}
	return deployRequest{
		DeployInput: DeployInput{ProjectID: in.ProjectID, Environment: in.Environment, Description: in.Reason, RequestedBy: by, IdempotencyKey: in.IdempotencyKey},
		releaseID:   target.ReleaseID,
		by:          by,
		kind:        KindRollback,
		reverts:     cur.DeploymentID,
		hold:        in.Hold,
	}, nil
}

// rollbackTarget walks the environment's deployments, newest first, to the one to roll back to.
func (s *Service) rollbackTarget(ctx context.Context, in RollbackInput, cur EnvironmentState) (DeploymentRecord, error) {
	page := PageRequest{Limit: MaxPageLimit}
	pastCurrent := false
	for {
		got, err := s.Store.ListDeployments(ctx, in.ProjectID, DeploymentFilter{Environment: in.Environment}, page)
		if err != nil {
			return DeploymentRecord{}, fmt.Errorf("deployments of %s/%s: %w", in.ProjectID, in.Environment, err)
		}
		for _, d := range got.Items {
			if in.ToDeployment != "" {
				if d.ID != in.ToDeployment {
					continue
				}
				if d.ReleaseID == cur.ReleaseID {
					return d, Errorf(Conflict, "deployment %s deployed release %s, which %s/%s runs already: nothing to roll back to",
						d.ID, d.ReleaseID, in.ProjectID, in.Environment)
				}
				return d, nil
			}
			if d.ID == cur.DeploymentID {
				pastCurrent = true
				continue
			}
			if pastCurrent && d.ReleaseID != cur.ReleaseID {
				return d, nil
			}
		}
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	if in.ToDeployment != "" {
		return DeploymentRecord{}, Errorf(NotFound, "deployment %q is not one of %s/%s's", in.ToDeployment, in.ProjectID, in.Environment)
	}
	return DeploymentRecord{}, Errorf(Conflict, "%s/%s has run only release %s: there is no earlier release to roll back to",
		in.ProjectID, in.Environment, cur.ReleaseID)
}
