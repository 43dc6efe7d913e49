package awslambda

import (
	"context"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// deploy runs a deploy payload: a rollback, a plan, or a deploy.
func deploy(ctx context.Context, svc *shiplog.Service, policy InvokePolicy, req DeployRequest) (any, error) {
	if rep := req.Report; rep != nil {
		only := req
		only.Report, only.ProjectID, only.RequestedBy = nil, "", nil
		if only != (DeployRequest{}) {
			return nil, shiplog.Errorf(shiplog.Invalid, "report: goes with project_id and requested_by only; a report is not a deploy")
		}
		in := shiplog.ReportInput{
			ProjectID: req.ProjectID, DeploymentID: rep.DeploymentID, Status: rep.Status, Detail: rep.Detail, By: person(req.RequestedBy),
		}
		if err := in.Validate(); err != nil {
			return nil, err
		}
		if err := reportAllowed(ctx, svc, policy, in); err != nil {
			return nil, err
		}
		return svc.ReportStatus(ctx, in)
	}
	if req.Rollback {
		switch {
		case req.ReleaseID != "" || req.FromEnvironment != "":
			return nil, shiplog.Errorf(shiplog.Invalid, "rollback: takes no release_id or from_environment; it deploys the release before the current one, or to_deployment's")
		case req.OverrideReason != "":
			return nil, shiplog.Errorf(shiplog.Invalid, "rollback: takes no override_reason; unlock the environment first")
		case req.Description != "":
			return nil, shiplog.Errorf(shiplog.Invalid, "rollback: takes reason, not description")
		}
		in := shiplog.RollbackInput{
			ProjectID: req.ProjectID, Environment: req.Environment, Reason: req.Reason,
			ToDeployment: req.ToDeployment, Hold: req.Hold, RequestedBy: person(req.RequestedBy),
			IdempotencyKey: req.IdempotencyKey,
		}
		if err := policy.deployTo(in.ProjectID, in.Environment); err != nil {
			return nil, err
		}
		if in.Hold {
			if err := policy.privilege(Hold, "roll back with hold through the HTTP API's rollback route"); err != nil {
				return nil, err
			}
		}
		if req.DryRun {
			return svc.PlanRollback(ctx, in)
		}
		return svc.Rollback(ctx, in)
	}
	if req.Reason != "" || req.ToDeployment != "" || req.Hold {
		return nil, shiplog.Errorf(shiplog.Invalid, "reason, to_deployment and hold: are rollback fields; add \"rollback\": true (or, to break glass, use override_reason)")
	}
	in := shiplog.DeployInput{
		ProjectID: req.ProjectID, ReleaseID: req.ReleaseID, FromEnvironment: req.FromEnvironment,
		Environment: req.Environment, Description: req.Description, RequestedBy: person(req.RequestedBy),
		OverrideReason: req.OverrideReason, IdempotencyKey: req.IdempotencyKey,
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := policy.deployTo(in.ProjectID, in.Environment); err != nil {
		return nil, err
	}
	if in.OverrideReason != "" {
		if err := policy.privilege(OverrideReason, "break glass through the HTTP API's emergency-deployments route"); err != nil {
			return nil, err
		}
	}
	if req.DryRun {
		return svc.Plan(ctx, in)
	}
	return svc.Deploy(ctx, in)
}

// reportAllowed refuses a report the policy does not allow: the privilege, and the deployment's
// own project and environment, which the payload does not name. An unlisted project is refused
// before the deployment is read, so that its answer says nothing of that project's deployments.
func reportAllowed(ctx context.Context, svc *shiplog.Service, policy InvokePolicy, in shiplog.ReportInput) error {
	if err := policy.privilege(Report, "report through the HTTP API"); err != nil {
		return err
	}
	if err := policy.reportOn(in.ProjectID, ""); err != nil {
		return err
	}
	dep, err := svc.Deployment(ctx, in.ProjectID, in.DeploymentID)
	if err != nil {
		return err
	}
	return policy.reportOn(in.ProjectID, dep.Environment.ID)
}
