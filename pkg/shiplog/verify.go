package shiplog

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ServiceCheck is what verification found for one service: the image shiplog deployed, what ECS
// runs, and whether that is the deployed image, fully rolled out.
type ServiceCheck struct {
	Service    string   `json:"service"`
	ECSService string   `json:"ecs_service"`
	Recorded   string   `json:"recorded"`
	Running    []string `json:"running"`
	Rollout    string   `json:"rollout"`
	OK         bool     `json:"ok"`
}

// VerifyResult is a deployment after a check on ECS, and what the check found per service.
type VerifyResult struct {
	Deployment DeploymentRecord `json:"deployment"`
	Checks     []ServiceCheck   `json:"checks"`
}

// ecsPerson is who shiplog records as setting the statuses that ECS showed.
var ecsPerson = Person{ID: "ecs", Name: "Amazon ECS"}

// Verify checks on ECS, now, whether a deployment runs: it becomes verified once every service of
// its environment runs exactly the deployed image with its rollout completed, and failed if a
// rollout failed. Otherwise it is left as it is and the checks say what is still missing.
func (s *Service) Verify(ctx context.Context, projectID, deploymentID string) (VerifyResult, error) {
	rec, err := s.Deployment(ctx, projectID, deploymentID)
	if err != nil {
		return VerifyResult{}, err
	}
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return VerifyResult{}, err
	}
	env, err := environmentOf(p, rec.Environment.ID)
	if err != nil {
		return VerifyResult{}, err
	}
	if env.ECS == nil {
		return VerifyResult{}, Errorf(Conflict, "environment %s of %s names no ECS cluster, so shiplog cannot check what runs there; "+
			"add \"ecs\" to its manifest entry, or report the deployment's status (POST .../status)", env.ID, projectID)
	}
	if s.Runtime == nil {
		return VerifyResult{}, Errorf(Unavailable, "this shiplog has no access to ECS; report the deployment's status instead")
	}
	st, err := s.environmentState(ctx, projectID, env.ID)
	if err != nil {
		return VerifyResult{}, err
	}
	if st == nil || st.DeploymentID != deploymentID {
		return VerifyResult{Deployment: rec}, Errorf(Conflict, "deployment %s is no longer current in %s/%s: only the current deployment can be verified",
			deploymentID, projectID, env.ID)
	}
	checks, err := s.check(ctx, *env.ECS, st.Images)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Deployment: rec, Checks: checks}
	entry, decided := verdict(checks)
	if !decided || rec.Status == entry.Status || (entry.Status == StatusVerified && rec.Status != StatusApplied) {
		return res, nil
	}
	res.Deployment, err = s.setStatus(ctx, projectID, deploymentID, entry)
	return res, err
}

// check reads what ECS runs for each service of images.
func (s *Service) check(ctx context.Context, target ECSTarget, images map[string]string) ([]ServiceCheck, error) {
	services := slices.Sorted(maps.Keys(images))
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = target.ServiceName(svc)
	}
	runs, err := s.Runtime.Running(ctx, target.Cluster, names)
	if err != nil {
		return nil, fmt.Errorf("what ECS runs in cluster %s: %w", target.Cluster, err)
	}
	checks := make([]ServiceCheck, len(services))
	for i, svc := range services {
		run := runs[names[i]]
		want := images[svc]
		checks[i] = ServiceCheck{Service: svc, ECSService: names[i], Recorded: want, Running: run.Images, Rollout: run.Rollout}
		if checks[i].Running == nil {
			checks[i].Running = []string{}
		}
		if !run.Found {
			checks[i].Rollout = "NOT_FOUND"
		}
		checks[i].OK = run.Found && run.Rollout == RolloutCompleted &&
			slices.ContainsFunc(run.Images, func(img string) bool { return SameImage(img, want) })
	}
	return checks, nil
}

// verdict is what checks decide: verified when every service runs its image, failed when a
// rollout failed; undecided otherwise.
func verdict(checks []ServiceCheck) (StatusEntry, bool) {
	var failed, waiting []string
	for _, c := range checks {
		switch {
		case c.Rollout == RolloutFailed:
			failed = append(failed, c.Service)
		case !c.OK:
			waiting = append(waiting, c.Service)
		}
	}
	switch {
	case len(failed) > 0:
		return StatusEntry{Status: StatusFailed, By: ecsPerson, Detail: "ECS failed the rollout of " + strings.Join(failed, ", ")}, true
	case len(waiting) == 0:
		return StatusEntry{Status: StatusVerified, By: ecsPerson, Detail: fmt.Sprintf("ECS runs the deployed image of each of the %d services", len(checks))}, true
	}
	return StatusEntry{}, false
}

// handleRuntimeEvent finds the environments whose services run as the event's ECS service, and
// for each marks its current deployment failed (ECS failed the rollout while it was applied) or,
// once a rollout completes, verified if every service of the environment runs its image.
func (s *Service) handleRuntimeEvent(ctx context.Context, ev RuntimeEvent) (RuntimeOutcome, error) {
	if ev.Cluster == "" || ev.Service == "" {
		return RuntimeOutcome{}, Errorf(Invalid, "runtime event %s: names no cluster or service", ev.ID)
	}
	projects, err := s.Store.ListProjects(ctx)
	if err != nil {
		return RuntimeOutcome{}, fmt.Errorf("projects: %w", err)
	}
	var out RuntimeOutcome
	for _, p := range projects {
		for _, env := range p.Environments {
			if env.ECS == nil || clusterName(env.ECS.Cluster) != clusterName(ev.Cluster) || !runsService(p, *env.ECS, ev.Service) {
				continue
			}
			o, err := s.runtimeEventFor(ctx, p, env, ev)
			if err != nil {
				return out, err
			}
			out.Environments = []EnvironmentOutcome{o} // one ECS service runs one environment's service; the last match answers
		}
	}
	if len(out.Environments) == 0 {
		out.Ignored = fmt.Sprintf("no registered environment runs ECS service %s of cluster %s", ev.Service, ev.Cluster)
	}
	return out, nil
}

func (s *Service) runtimeEventFor(ctx context.Context, p Project, env Environment, ev RuntimeEvent) (EnvironmentOutcome, error) {
	out := EnvironmentOutcome{ProjectID: p.ID, Environment: env.ID}
	st, err := s.environmentState(ctx, p.ID, env.ID)
	if err != nil {
		return out, err
	}
	if st == nil || st.DeploymentID == "" {
		out.Ignored = "nothing is deployed in " + p.ID + "/" + env.ID
		return out, nil
	}
	out.DeploymentID, out.Status = st.DeploymentID, st.Status
	switch ev.Outcome {
	case RolloutFailed:
		if st.Status != StatusApplied {
			out.Ignored = fmt.Sprintf("deployment %s is %s: a failed ECS rollout concerns only an applied deployment", st.DeploymentID, StatusOf(Deployment{Status: st.Status}))
			return out, nil
		}
		detail := "ECS failed the rollout of " + ev.Service
		if ev.Reason != "" {
			detail += ": " + ev.Reason
		}
		rec, err := s.setStatus(ctx, p.ID, st.DeploymentID, StatusEntry{Status: StatusFailed, By: ecsPerson, Detail: detail})
		out.Status = rec.Status
		return out, err
	case RolloutCompleted:
		if st.Status != StatusApplied {
			out.Ignored = fmt.Sprintf("deployment %s is %s, not applied: nothing to verify", st.DeploymentID, StatusOf(Deployment{Status: st.Status}))
			return out, nil
		}
		checks, err := s.check(ctx, *env.ECS, st.Images)
		if err != nil {
			return out, err
		}
		entry, decided := verdict(checks)
		if !decided {
			var waiting []string
			for _, c := range checks {
				if !c.OK {
					waiting = append(waiting, c.Service)
				}
			}
			out.Ignored = "not every service runs its deployed image yet: " + strings.Join(waiting, ", ")
			return out, nil
		}
		rec, err := s.setStatus(ctx, p.ID, st.DeploymentID, entry)
		out.Status = rec.Status
		return out, err
	}
	out.Ignored = "a rollout in progress decides nothing"
	return out, nil
}

// clusterName is a cluster's name, from its name or ARN.
func clusterName(c string) string {
	if i := strings.LastIndex(c, "/"); i >= 0 {
		return c[i+1:]
	}
	return c
}

// runsService reports whether some service of p runs as the ECS service named name.
func runsService(p Project, t ECSTarget, name string) bool {
	return slices.ContainsFunc(p.Services(), func(svc string) bool { return t.ServiceName(svc) == name })
}
