package shiplog

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/pkg/logctx"
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
//
// scope, when set, is the environment the caller acts on (the HTTP API's path names it): a
// deployment of another environment is refused before anything is checked.
func (s *Service) Verify(ctx context.Context, projectID, scope, deploymentID string) (VerifyResult, error) {
	logctx.Add(ctx, logctx.Project, projectID, logctx.Deployment, deploymentID)
	rec, err := s.Deployment(ctx, projectID, deploymentID)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := s.checkScope(ctx, projectID, scope, rec); err != nil {
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
	rt, err := s.runtimeAt(ctx, env, shiplogPerson.ID)
	if err != nil {
		return VerifyResult{}, err
	}
	checks, err := s.check(ctx, rt, *env.ECS, st.Images)
	if err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{Deployment: rec, Checks: checks}
	entry, decided := verdict(checks)
	if !decided || rec.Status == entry.Status || (entry.Status == StatusVerified && rec.Status != StatusApplied) {
		return res, nil
	}
	res.Deployment, err = s.setStatus(ctx, projectID, deploymentID, scope, entry)
	return res, err
}

// check reads what ECS runs (through rt, the environment's) for each service of images.
func (s *Service) check(ctx context.Context, rt Runtime, target ECSTarget, images map[string]string) ([]ServiceCheck, error) {
	services := slices.Sorted(maps.Keys(images))
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = target.ServiceName(svc)
	}
	runs, err := rt.Running(ctx, target.Cluster, names)
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

// handleRuntimeEvent finds the environments whose ECS target names the event's cluster and
// service, and says for each what the event did there: it changes a deployment only if it comes
// from where the environment's cluster is (account, region and cluster, as ARNs say), is dated
// no earlier than the deployment was applied, and, if it names an ECS deployment, that one rolls
// out the deployment's images. A failed rollout then fails the deployment; a completed one
// verifies it if every service of the environment runs its image (read from ECS, not taken from
// the event). Anything else is ignored, with why.
func (s *Service) handleRuntimeEvent(ctx context.Context, ev RuntimeEvent) (RuntimeOutcome, error) {
	if err := ev.validate(); err != nil {
		return RuntimeOutcome{}, err
	}
	var out RuntimeOutcome
	if limit := s.Now().Add(MaxRuntimeEventAhead); ev.At > limit.Unix() {
		out.Ignored = fmt.Sprintf("the event is dated %s, more than %s ahead of this shiplog's clock", unixTime(ev.At), MaxRuntimeEventAhead)
		return out, nil
	}
	// The environments that run the service, from the store's index: ECS sends every service's
	// events in the account, so one about a service no project runs must cost one read, not a
	// look through every project.
	matches, complete, err := s.Store.RuntimeMatches(ctx, ev.Cluster, ev.Service)
	if err != nil {
		return RuntimeOutcome{}, fmt.Errorf("environments that run %s/%s: %w", ev.Cluster, ev.Service, err)
	}
	if !complete {
		// Some projects were registered before the index was kept (the store completes it now).
		if matches, err = s.runtimeMatchesOfEveryProject(ctx, ev); err != nil {
			return RuntimeOutcome{}, err
		}
	}
	for _, m := range matches {
		env, ok := m.Project.Environment(m.Environment)
		if !ok || env.ECS == nil {
			continue
		}
		// Each environment that claims the service gets its own answer: two projects may
		// claim one ECS service, and at most one of them deployed what it runs.
		o, err := s.runtimeEventFor(ctx, m.Project, env, ev, m.State, complete)
		if err != nil {
			return out, err
		}
		out.Environments = append(out.Environments, o)
	}
	if len(out.Environments) == 0 {
		out.Ignored = fmt.Sprintf("no registered environment runs ECS service %s of cluster %s", ev.Service, ev.Cluster)
	}
	return out, nil
}

// runtimeMatchesOfEveryProject finds the environments that run the event's service by looking
// through every registered project, as before the store kept an index of them.
func (s *Service) runtimeMatchesOfEveryProject(ctx context.Context, ev RuntimeEvent) ([]RuntimeMatch, error) {
	projects, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	var out []RuntimeMatch
	for _, p := range projects {
		for _, env := range p.Environments {
			if env.ECS == nil || clusterName(env.ECS.Cluster) != ev.Cluster || !runsService(p, *env.ECS, ev.Service) {
				continue
			}
			out = append(out, RuntimeMatch{Project: p, Environment: env.ID})
		}
	}
	return out, nil
}

// runtimeEventFor says what the event did in one environment; st is its state as read with the
// match if stateRead, else it is read here.
func (s *Service) runtimeEventFor(ctx context.Context, p Project, env Environment, ev RuntimeEvent, st *EnvironmentState, stateRead bool) (EnvironmentOutcome, error) {
	out := EnvironmentOutcome{ProjectID: p.ID, Environment: env.ID}
	if !stateRead {
		var err error
		if st, err = s.environmentState(ctx, p.ID, env.ID); err != nil {
			return out, err
		}
	}
	if st != nil && st.DeploymentID != "" {
		out.DeploymentID, out.Status = st.DeploymentID, StatusOf(Deployment{Status: st.Status})
	}
	switch why := s.elsewhere(env, ev); {
	case why != "":
		out.Ignored = why
		return out, nil
	case out.DeploymentID == "":
		out.Ignored = "nothing is deployed in " + p.ID + "/" + env.ID
		return out, nil
	case ev.Outcome == RolloutInProgress:
		out.Ignored = "a rollout in progress decides nothing"
		return out, nil
	case out.Status != StatusApplied:
		out.Ignored = fmt.Sprintf("deployment %s is %s: an ECS rollout's end concerns only an applied deployment", st.DeploymentID, out.Status)
		return out, nil
	}
	rec, err := s.deployment(ctx, p.ID, st.DeploymentID)
	if err != nil {
		return out, err
	}
	if at := appliedAt(rec); ev.At < at {
		out.Ignored = fmt.Sprintf("the event is dated %s, before deployment %s was applied (%s): it is about an earlier rollout",
			unixTime(ev.At), st.DeploymentID, unixTime(at))
		return out, nil
	}
	if ev.Outcome == RolloutFailed && ev.Deployment == "" {
		// ECS names the deployment of every failure it reports; without one, nothing ties the
		// failure to this deployment's images, and anyone may send such an event.
		out.Ignored = "the failure names no ECS deployment, so shiplog cannot tell that it is the rollout of " + st.DeploymentID + "'s images"
		return out, nil
	}
	if s.Runtime == nil {
		return out, Errorf(Unavailable, "this shiplog has no access to ECS, so it cannot check ECS's event %s about service %s of cluster %s against what runs there; report the deployment's status instead",
			clip(ev.ID), ev.Service, ev.Cluster)
	}
	rt, err := s.runtimeAt(ctx, env, ecsPerson.ID)
	if err != nil {
		return out, err
	}
	if ev.Deployment != "" {
		why, err := s.rollsOut(ctx, rt, p, *env.ECS, ev, st)
		if err != nil || why != "" {
			out.Ignored = why
			return out, err
		}
	}
	switch ev.Outcome {
	case RolloutFailed:
		detail := "ECS failed the rollout of " + ev.Service
		if ev.Deployment != "" {
			detail += " (ECS deployment " + ev.Deployment + ")"
		}
		if ev.Reason != "" {
			detail += ": " + ev.Reason
		}
		rec, err := s.setStatus(ctx, p.ID, st.DeploymentID, "", StatusEntry{Status: StatusFailed, By: ecsPerson, Detail: cleanText(detail, MaxDescriptionLength)})
		out.Status = rec.Status
		return out, err
	case RolloutCompleted:
		checks, err := s.check(ctx, rt, *env.ECS, st.Images)
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
		rec, err := s.setStatus(ctx, p.ID, st.DeploymentID, "", entry)
		out.Status = rec.Status
		return out, err
	}
	out.Ignored = fmt.Sprintf("rollout outcome %q decides nothing", clip(ev.Outcome))
	return out, nil
}

// elsewhere says why an event is not from the environment's cluster ("" if it is): the cluster
// is where its ARN says, or, named without one, where the environment lives (its account and
// region, each the stack's home where it names none).
func (s *Service) elsewhere(env Environment, ev RuntimeEvent) string {
	t := *env.ECS
	want := env.Placement.In(s.Home)
	if strings.HasPrefix(t.Cluster, "arn:") {
		want, _ = ECSARNLocation(t.Cluster)
	} else if want.Account == "" || want.Region == "" {
		return fmt.Sprintf("cluster %s is named without an ARN, so it is in this shiplog's account and region, and this shiplog does not know its own account and region", t.Cluster)
	}
	if ev.Account != want.Account || ev.Region != want.Region {
		return fmt.Sprintf("the event is about service %s of cluster %s in account %s, region %s; the environment's cluster %s is in account %s, region %s",
			ev.Service, ev.Cluster, ev.Account, ev.Region, clusterName(t.Cluster), want.Account, want.Region)
	}
	return ""
}

// rollsOut says why the ECS deployment ev names does not roll out st's images ("" if it does):
// its task definition must run, by repository and digest, the deployed image of each service of
// p that runs as ev's ECS service. Other containers (sidecars) may run anything.
func (s *Service) rollsOut(ctx context.Context, rt Runtime, p Project, t ECSTarget, ev RuntimeEvent, st *EnvironmentState) (string, error) {
	d, err := rt.Deployment(ctx, t.Cluster, ev.Service, ev.Deployment)
	if err != nil {
		return "", fmt.Errorf("ECS deployment %s of service %s in cluster %s: %w", ev.Deployment, ev.Service, t.Cluster, err)
	}
	if !d.Found {
		return fmt.Sprintf("ECS does not list deployment %s of service %s (any more), so shiplog cannot tell which images it rolled out", ev.Deployment, ev.Service), nil
	}
	var missing []string
	for _, svc := range p.Services() {
		want, deployed := st.Images[svc]
		if t.ServiceName(svc) != ev.Service || !deployed {
			continue
		}
		if !slices.ContainsFunc(d.Images, func(img string) bool { return SameImage(img, want) }) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("ECS deployment %s (task definition %s, images %s) does not run deployment %s's %s: it is another rollout",
			ev.Deployment, d.TaskDefinition, strings.Join(d.Images, ", "), st.DeploymentID, strings.Join(missing, ", ")), nil
	}
	return "", nil
}

// appliedAt is when a deployment was applied: its last applied status, or, recorded before
// statuses existed, its creation.
func appliedAt(rec DeploymentRecord) int64 {
	for i := len(rec.StatusHistory) - 1; i >= 0; i-- {
		if rec.StatusHistory[i].Status == StatusApplied {
			return rec.StatusHistory[i].At
		}
	}
	return rec.CreatedAt
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
