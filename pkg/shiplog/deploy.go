package shiplog

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"time"
)

// DeployInput is a request to deploy a release to an environment.
type DeployInput struct {
	ProjectID   string
	ReleaseID   string // or "latest"
	Environment string
	Description string
	RequestedBy Person
}

// DeployResult is the recorded deployment and the release as it now stands.
type DeployResult struct {
	Deployment Deployment `json:"deployment"`
	Release    Release    `json:"release"`
}

// Deploy records a deployment of a release to an environment and points the environment's image
// parameters at the release's images, writing only the parameters that change.
//
// The order makes a failure at any step recoverable: the images are checked before anything is
// written; the deployment is recorded, with the environment locked and the services to write
// marked pending, in one atomic change; then the parameters are written and the environment
// settled. If writing fails, the services stay pending and the next deploy writes them.
//
// Deploys to one environment take turns: a deploy that finds another one writing, or that loses
// the race to record, waits (with jitter) and tries again, for up to DeployWait; only then does
// it answer Conflict.
func (s *Service) Deploy(ctx context.Context, in DeployInput) (DeployResult, error) {
	if err := in.Validate(); err != nil {
		return DeployResult{}, err
	}
	by := normalizePerson(in.RequestedBy)
	releaseID := in.ReleaseID
	if releaseID == LatestRelease {
		r, err := s.latestRelease(ctx, in.ProjectID)
		if err != nil {
			return DeployResult{}, err
		}
		releaseID = r.ID
	}
	return s.deployInTurn(ctx, in, releaseID, by)
}

// errBusy says that another deployment holds the environment's write lock.
type errBusy struct{ holder EnvironmentState }

func (e errBusy) Error() string { return "environment locked by deployment " + e.holder.DeploymentID }

// deployInTurn runs deployOnce until it is the environment's turn or DeployWait has passed.
func (s *Service) deployInTurn(ctx context.Context, in DeployInput, releaseID string, by Person) (DeployResult, error) {
	start := s.Now()
	delay := deployRetryFirst
	for attempt := 1; ; attempt++ {
		res, err := s.deployOnce(ctx, in, releaseID, by)
		var busy errBusy
		isBusy := errors.As(err, &busy)
		if !isBusy && !errors.Is(err, ErrVersionConflict) {
			return res, err
		}
		waited := s.Now().Sub(start)
		if waited >= s.DeployWait {
			return DeployResult{}, waitedTooLong(in, busy, isBusy, waited, attempt)
		}
		if err := s.Sleep(ctx, jitter(delay)); err != nil {
			return DeployResult{}, Wrap(Unavailable, err, "deploy to %s/%s: gave up waiting for its turn", in.ProjectID, in.Environment)
		}
		delay = min(delay*3/2, deployRetryMax)
	}
}

// The waits between a deploy's attempts grow from deployRetryFirst to deployRetryMax.
const (
	deployRetryFirst = 10 * time.Millisecond
	deployRetryMax   = 250 * time.Millisecond
)

// jitter returns a random duration between d/2 and d, so that deploys waiting on one environment
// do not all try again at the same moment.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func waitedTooLong(in DeployInput, busy errBusy, isBusy bool, waited time.Duration, attempts int) error {
	waited = waited.Round(time.Second)
	if isBusy {
		h := busy.holder
		return Errorf(Conflict, "deployment %s (by %s) is still writing the parameters of %s/%s after %s of waiting; "+
			"its lock expires at %s at the latest, when the next deploy takes over",
			h.DeploymentID, h.RequestedBy.ID, in.ProjectID, in.Environment, waited,
			time.Unix(h.LockedUntil, 0).UTC().Format(time.RFC3339))
	}
	return Errorf(Conflict, "%s/%s kept changing under this deploy: %d attempts in %s lost the race to other deploys; retry",
		in.ProjectID, in.Environment, attempts, waited)
}

// deployOnce reads the environment, checks the release against it, records the deployment as the
// environment's next version, writes the parameters and settles.
func (s *Service) deployOnce(ctx context.Context, in DeployInput, releaseID string, by Person) (DeployResult, error) {
	dc, err := s.Store.DeployContext(ctx, in.ProjectID, releaseID, in.Environment)
	if err != nil {
		return DeployResult{}, s.notFound(err, in.ProjectID, releaseID)
	}
	env, err := environmentOf(dc.Project, in.Environment)
	if err != nil {
		return DeployResult{}, err
	}
	now := s.Now()
	prev := dc.Current
	if prev != nil && prev.LockedUntil > now.Unix() {
		return DeployResult{}, errBusy{*prev}
	}
	if err := s.checkRelease(ctx, dc.Project, dc.Release, env); err != nil {
		return DeployResult{}, err
	}

	changed := changedServices(prev, dc.Release.Images)
	d := Deployment{
		ID:          s.NewID(),
		Environment: env,
		CreatedAt:   now.Unix(),
		RequestedBy: by,
		Description: in.Description,
	}
	state, err := s.record(ctx, prev, dc.Release, d, changed)
	if err != nil {
		return DeployResult{}, err
	}
	if err := s.writeParameters(ctx, state, changed); err != nil {
		return DeployResult{}, err
	}
	if dc.Project.TagDeployedImages && s.Registry != nil {
		if err := s.Registry.TagImages(ctx, sortedValues(dc.Release.Images), "env."+env.ID); err != nil {
			_ = s.settle(ctx, state, nil) // the lock expires if this fails too
			return DeployResult{}, Wrap(Unavailable, err, "deployment %s is recorded but tagging its images env.%s failed; deploy again to finish", d.ID, env.ID)
		}
	}
	if len(changed) > 0 {
		if err := s.settle(ctx, state, nil); err != nil {
			return DeployResult{}, err
		}
	}
	rel := dc.Release
	rel.Deployments = append(append([]Deployment{}, rel.Deployments...), d)
	rel.LastDateDeployed = d.CreatedAt
	return DeployResult{Deployment: d, Release: rel}, nil
}

// checkRelease refuses, before anything is written, a release whose images are gone from the
// registry or cannot all carry the environment's tag.
func (s *Service) checkRelease(ctx context.Context, p Project, r Release, env Environment) error {
	if s.Registry == nil {
		return nil
	}
	if p.TagDeployedImages {
		if err := checkTaggable(r, env); err != nil {
			return err
		}
	}
	return s.checkImages(ctx, r)
}

// record writes the environment's next state with the deployment, locked while the changed
// services' parameters are written (they are pending until then).
func (s *Service) record(ctx context.Context, prev *EnvironmentState, r Release, d Deployment, changed []string) (EnvironmentState, error) {
	next := EnvironmentState{
		ProjectID:    r.ProjectID,
		Environment:  d.Environment,
		ReleaseID:    r.ID,
		DeploymentID: d.ID,
		DeployedAt:   d.CreatedAt,
		RequestedBy:  d.RequestedBy,
		Description:  d.Description,
		Images:       r.Images,
		Pending:      changed,
	}
	if len(changed) > 0 {
		next.LockedUntil = s.Now().Add(s.LockTTL).Unix()
	}
	w := prev.Next(next)
	w.Deployment = &DeploymentRecord{Deployment: d, ProjectID: r.ProjectID, ReleaseID: r.ID}
	err := s.Store.WriteEnvironment(ctx, w)
	switch {
	case err == nil:
		return w.State, nil
	case errors.Is(err, ErrVersionConflict):
		return EnvironmentState{}, err
	case errors.Is(err, ErrReleaseNotFound):
		return EnvironmentState{}, s.notFound(err, r.ProjectID, r.ID)
	case errors.Is(err, ErrDeploymentExists):
		return EnvironmentState{}, Wrap(Internal, err, "deployment id %s was issued twice", d.ID)
	}
	return EnvironmentState{}, fmt.Errorf("record deployment %s: %w", d.ID, err)
}

// writeParameters points the changed services' parameters at the state's images. If that fails,
// the services stay pending and the lock is released, so that the next deploy finishes the job.
func (s *Service) writeParameters(ctx context.Context, state EnvironmentState, changed []string) error {
	if len(changed) == 0 {
		return nil
	}
	params := make(map[string]string, len(changed))
	for _, svc := range changed {
		params[ParameterName(state.ProjectID, state.Environment.ID, svc)] = state.Images[svc]
	}
	if err := s.Params.PutParameters(ctx, params); err != nil {
		if serr := s.settle(ctx, state, changed); serr != nil {
			s.Log.ErrorContext(ctx, "release lock after failed writes", "deployment", state.DeploymentID, "err", serr)
		}
		return Wrap(Unavailable, err,
			"deployment %s is recorded but writing its parameters failed; deploy again to finish", state.DeploymentID)
	}
	return nil
}

// settle writes the state's next version with the lock released and pending as given.
func (s *Service) settle(ctx context.Context, state EnvironmentState, pending []string) error {
	next := state
	next.Pending = pending
	next.LockedUntil = 0
	err := s.Store.WriteEnvironment(ctx, state.Next(next))
	if errors.Is(err, ErrVersionConflict) {
		return Wrap(Conflict, err, "deployment %s wrote its parameters after its lock of %s/%s had expired and another deployment took over; check the environment",
			state.DeploymentID, state.ProjectID, state.Environment.ID)
	}
	if err != nil {
		return fmt.Errorf("settle deployment %s: %w", state.DeploymentID, err)
	}
	return nil
}

// changedServices returns the services whose environment parameter must be written: those whose
// image differs from what the environment has, and those a failed deployment left pending.
func changedServices(prev *EnvironmentState, images map[string]string) []string {
	set := map[string]bool{}
	for svc, uri := range images {
		if prev == nil || prev.Images[svc] != uri {
			set[svc] = true
		}
	}
	if prev != nil {
		for _, svc := range prev.Pending {
			if _, ok := images[svc]; ok {
				set[svc] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for svc := range set {
		out = append(out, svc)
	}
	sort.Strings(out)
	return out
}

func (s *Service) checkImages(ctx context.Context, r Release) error {
	missing, err := s.Registry.MissingImages(ctx, sortedValues(r.Images))
	if err != nil {
		return fmt.Errorf("check images of release %s: %w", r.ID, err)
	}
	if len(missing) == 0 {
		return nil
	}
	gone := map[string]bool{}
	for _, m := range missing {
		gone[m] = true
	}
	var names []string
	for svc, uri := range r.Images {
		if gone[uri] {
			names = append(names, fmt.Sprintf("%s (%s)", svc, uri))
		}
	}
	sort.Strings(names)
	return Errorf(Conflict, "release %s cannot be deployed: these images are no longer in ECR: %s", r.ID, strings.Join(names, ", "))
}

// checkTaggable refuses, before anything is written, a release whose images cannot all carry the
// tag env.{environment}: a tag names one image per repository.
func checkTaggable(r Release, env Environment) error {
	byRepo := map[string]map[string]bool{}
	for _, uri := range r.Images {
		repo, _, _ := strings.Cut(uri, "@")
		if byRepo[repo] == nil {
			byRepo[repo] = map[string]bool{}
		}
		byRepo[repo][uri] = true
	}
	var clashes []string
	for repo, uris := range byRepo {
		if len(uris) > 1 {
			clashes = append(clashes, fmt.Sprintf("%s (%d images)", repo, len(uris)))
		}
	}
	if len(clashes) == 0 {
		return nil
	}
	sort.Strings(clashes)
	return Errorf(Conflict, "release %s cannot be deployed with tag env.%s: its services run different images of %s, and a tag names one image per repository",
		r.ID, env.ID, strings.Join(clashes, ", "))
}

func environmentOf(p Project, id string) (Environment, error) {
	if e, ok := p.Environment(id); ok {
		return e, nil
	}
	return Environment{}, Errorf(NotFound, "environment %q is not one of %s's: %s", id, p.ID, strings.Join(p.EnvironmentIDs(), ", "))
}
