package shiplog

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// EnvironmentStatus is one environment of a project, what is deployed there (nil: nothing), its
// lock (nil: none), the status of its current deployment ("" when none, or recorded before
// statuses existed: applied), and its drift: where what runs is not what shiplog recorded.
type EnvironmentStatus struct {
	Environment Environment       `json:"environment"`
	Current     *EnvironmentState `json:"current"`
	Lock        *EnvironmentLock  `json:"lock"`
	Status      string            `json:"status"`
	Drift       []Drift           `json:"drift"`
	// Unreplicated are the images the environment needs that the registry it pulls from does
	// not have (yet), for an environment in another account or region that pulls from a
	// replica (Placement.Registry): what it runs, and what a promotion to it would bring (the
	// images of the environments it is promoted from). A deploy of them is refused until ECR
	// replication copies them there. None (omitted) where nothing is missing or not checked.
	Unreplicated []Unreplicated `json:"unreplicated,omitempty"`
	// Pending is, for an auto-promoted environment (Environment.AutoPromote), what it waits for:
	// its candidate release and each gate that refuses it, with when that opens (RetryAt), as a
	// plan evaluates them; nil for an environment a person deploys to.
	Pending *AutoPromotion `json:"pending,omitempty"`
}

// Unreplicated is an image an environment needs and its registry lacks: Image as the release
// names it, LookedFor as the environment pulls it (the same repository and digest in its own
// account and region), and From the environment that runs it (this one, or one it is promoted
// from).
type Unreplicated struct {
	Service   string `json:"service"`
	Image     string `json:"image"`
	LookedFor string `json:"looked_for"`
	From      string `json:"from"`
}

// Drift is one difference between what shiplog recorded for a service of an environment and what
// is there: Recorded is the image shiplog deployed, Actual what the parameter store (or ECS)
// holds ("" when nothing).
type Drift struct {
	Service  string `json:"service"`
	Kind     string `json:"kind"`
	Recorded string `json:"recorded"`
	Actual   string `json:"actual"`
}

// The kinds of drift.
const (
	// DriftParameterChanged: the environment's parameter holds another image (edited by hand).
	DriftParameterChanged = "parameter_changed"
	// DriftParameterMissing: the environment's parameter is gone.
	DriftParameterMissing = "parameter_missing"
	// DriftPending: the deployment has not written the parameter yet (or failed to).
	DriftPending = "pending"
	// DriftNotRunning: ECS runs another image for the service, or does not run it at all.
	DriftNotRunning = "not_running"
)

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
		if !e.AutoPromote {
			continue
		}
		// What automation waits for is worked out as a plan is; a failure to is said there,
		// not answered for the whole status.
		a, err := s.pendingIn(ctx, project, e, byID)
		if err != nil {
			a.Error = err.Error()
		}
		out[i].Pending = &a
	}
	for i, e := range project.Environments {
		st := byID[e.ID]
		out[i] = EnvironmentStatus{Environment: e, Lock: activeLock(st, now), Pending: out[i].Pending}
		out[i].Drift = []Drift{}
		if st != nil && st.ReleaseID != "" { // a state may hold only a lock
			// The idempotency keys are the store's bookkeeping of retries, not what is deployed.
			st.Requests = nil
			out[i].Current = st
			out[i].Status = st.Status
			if out[i].Status == "" {
				out[i].Status = StatusApplied
			}
		}
	}
	if err := s.drift(ctx, project, out); err != nil {
		return nil, err
	}
	if err := s.replication(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// promotedFrom are the environments a promotion to envs[i] takes its release from: those it
// requires, else the one before it in the manifest.
func promotedFrom(envs []EnvironmentStatus, i int) []*EnvironmentStatus {
	var out []*EnvironmentStatus
	if req := envs[i].Environment.Requires; len(req) > 0 {
		for j := range envs {
			if slices.Contains(req, envs[j].Environment.ID) {
				out = append(out, &envs[j])
			}
		}
		return out
	}
	if i > 0 {
		out = append(out, &envs[i-1])
	}
	return out
}

// replication fills in, for each environment that pulls its images from a replica in another
// account or region, the images it needs that its registry lacks: one read of that registry
// (a BatchGetImage per repository) per such environment, through its role, and nothing for an
// environment that pulls from where the images were pushed. The images are checked by digest,
// as a deploy's checkPulled does.
func (s *Service) replication(ctx context.Context, envs []EnvironmentStatus) error {
	if s.Places == nil {
		return nil
	}
	type need struct{ svc, uri, from string }
	for i := range envs {
		e := &envs[i]
		if e.Environment.Placement.IsZero() {
			continue
		}
		pulled := map[string][]need{} // the image e pulls -> who needs it
		seen := map[[2]string]bool{}
		for _, src := range append([]*EnvironmentStatus{e}, promotedFrom(envs, i)...) {
			if src.Current == nil {
				continue
			}
			for _, svc := range slices.Sorted(maps.Keys(src.Current.Images)) {
				uri := src.Current.Images[svc]
				if seen[[2]string{svc, uri}] {
					continue
				}
				seen[[2]string{svc, uri}] = true
				if at, ok := PullsFrom(e.Environment.Placement, s.Home, uri); ok && at != uri {
					pulled[at] = append(pulled[at], need{svc, uri, src.Environment.ID})
				}
			}
		}
		if len(pulled) == 0 {
			continue
		}
		reg, err := s.Places.Registry(ctx, e.Environment.Placement, shiplogPerson.ID)
		if err != nil {
			return fmt.Errorf("the ECR registry of environment %s, in %s: %w", e.Environment.ID, e.Environment.Placement, err)
		}
		check, err := reg.CheckImages(ctx, slices.Sorted(maps.Keys(pulled)), "")
		if err != nil {
			return fmt.Errorf("check the images environment %s needs in its registry: %w", e.Environment.ID, err)
		}
		for _, m := range check.Missing {
			for _, n := range pulled[m] {
				e.Unreplicated = append(e.Unreplicated, Unreplicated{Service: n.svc, Image: n.uri, LookedFor: m, From: n.from})
			}
		}
		// By service, and for each what the environment runs before what a promotion brings.
		own := e.Environment.ID
		slices.SortFunc(e.Unreplicated, func(a, b Unreplicated) int {
			return cmp.Or(strings.Compare(a.Service, b.Service), compareBool(a.From != own, b.From != own), strings.Compare(a.From, b.From))
		})
	}
	return nil
}

// drift fills in each environment's drift: its parameters, read in one go (the parameter store
// reads ten names a call), against the recorded images; its pending services; and, where the
// environment names ECS and a Runtime is at hand, what ECS runs.
func (s *Service) drift(ctx context.Context, p Project, envs []EnvironmentStatus) error {
	// Each account and region's parameters are read together: ten names a call in each.
	byPlace := map[Placement][]string{}
	for _, e := range envs {
		if e.Current == nil {
			continue
		}
		at := e.Environment.Placement
		if s.Places == nil {
			at = Placement{}
		}
		for svc := range e.Current.Images {
			byPlace[at] = append(byPlace[at], ParameterName(p.ID, e.Environment.ID, svc))
		}
	}
	if len(byPlace) == 0 {
		return nil
	}
	params := map[string]string{}
	for at, names := range byPlace {
		store, err := s.paramsAt(ctx, Environment{Placement: at}, shiplogPerson.ID)
		if err != nil {
			return err
		}
		found, err := store.GetParameters(ctx, names)
		if err != nil {
			return fmt.Errorf("parameters of %s's environments in %s: %w", p.ID, at, err)
		}
		maps.Copy(params, found)
	}
	for i := range envs {
		st := envs[i].Current
		if st == nil {
			continue
		}
		pending := map[string]bool{}
		for _, svc := range st.Pending {
			pending[svc] = true
		}
		for _, svc := range slices.Sorted(maps.Keys(st.Images)) {
			want := st.Images[svc]
			got, ok := params[ParameterName(p.ID, st.Environment.ID, svc)]
			switch {
			case pending[svc]:
				envs[i].Drift = append(envs[i].Drift, Drift{Service: svc, Kind: DriftPending, Recorded: want, Actual: got})
			case !ok:
				envs[i].Drift = append(envs[i].Drift, Drift{Service: svc, Kind: DriftParameterMissing, Recorded: want})
			case got != want:
				envs[i].Drift = append(envs[i].Drift, Drift{Service: svc, Kind: DriftParameterChanged, Recorded: want, Actual: got})
			}
		}
		if err := s.runtimeDrift(ctx, &envs[i]); err != nil {
			return err
		}
	}
	return nil
}

// runtimeDrift adds what ECS runs differently from what is recorded, for an environment that
// names where it runs on ECS.
func (s *Service) runtimeDrift(ctx context.Context, e *EnvironmentStatus) error {
	target := e.Environment.ECS
	if s.Runtime == nil || target == nil || e.Current == nil {
		return nil
	}
	rt, err := s.runtimeAt(ctx, e.Environment, shiplogPerson.ID)
	if err != nil {
		return err
	}
	services := slices.Sorted(maps.Keys(e.Current.Images))
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = target.ServiceName(svc)
	}
	runs, err := rt.Running(ctx, target.Cluster, names)
	if err != nil {
		return fmt.Errorf("what ECS runs in %s: %w", e.Environment.ID, err)
	}
	for i, svc := range services {
		want := e.Current.Images[svc]
		run := runs[names[i]]
		if !run.Found || !slices.ContainsFunc(run.Images, func(img string) bool { return SameImage(img, want) }) {
			e.Drift = append(e.Drift, Drift{Service: svc, Kind: DriftNotRunning, Recorded: want, Actual: strings.Join(run.Images, ", ")})
		}
	}
	return nil
}

// SameImage reports whether two image references name one image: equal, or the same repository
// and digest where one of them also names a tag ("repo:tag@sha256:..." and "repo@sha256:...").
func SameImage(a, b string) bool {
	if a == b {
		return true
	}
	ar, ad, aok := strings.Cut(a, "@")
	br, bd, bok := strings.Cut(b, "@")
	return aok && bok && ad == bd && withoutTag(ar) == withoutTag(br)
}

// withoutTag drops a ":tag" from a repository reference (a ":" after the last "/"; one before it
// is a registry's port).
func withoutTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}
