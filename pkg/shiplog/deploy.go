package shiplog

import (
	"context"
	"errors"
	"fmt"
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

const deployAttempts = 3

// Deploy records a deployment of a release to an environment and points the environment's image
// parameters at the release's images, writing only the parameters that change.
//
// The order makes a failure at any step recoverable: the images are checked before anything is
// written; the deployment is recorded, with the environment locked and the services to write
// marked pending, in one atomic change; then the parameters are written and the environment
// settled. If writing fails, the services stay pending and the next deploy writes them.
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
	for attempt := 1; ; attempt++ {
		res, err := s.deployOnce(ctx, in, releaseID, by)
		if IsKind(err, Conflict) && errorsIsRace(err) && attempt < deployAttempts {
			continue
		}
		return res, err
	}
}

// raceError marks a Conflict that a fresh read may resolve.
type raceError struct{ error }

func errorsIsRace(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		_, race := e.Err.(raceError)
		return race
	}
	return false
}

func (s *Service) deployOnce(ctx context.Context, in DeployInput, releaseID string, by Person) (DeployResult, error) {
	dc, err := s.Store.DeployContext(ctx, in.ProjectID, releaseID, in.Environment)
	if err != nil {
		return DeployResult{}, fmt.Errorf("read release %s: %w", releaseID, err)
	}
	env, err := environmentOf(dc.Project, in.Environment)
	if err != nil {
		return DeployResult{}, err
	}
	now := s.Now()
	prev := dc.Current
	if prev != nil && prev.LockedUntil > now.Unix() {
		return DeployResult{}, Errorf(Conflict, "deployment %s is still writing the parameters of %s/%s; retry after %s",
			prev.DeploymentID, in.ProjectID, env.ID, time.Unix(prev.LockedUntil, 0).UTC().Format(time.RFC3339))
	}
	if s.Registry != nil {
		if dc.Project.TagDeployedImages {
			if err := checkTaggable(dc.Release, env); err != nil {
				return DeployResult{}, err
			}
		}
		if err := s.checkImages(ctx, dc.Release); err != nil {
			return DeployResult{}, err
		}
	}

	changed := changedServices(prev, dc.Release.Images)
	d := Deployment{
		ID:          s.NewID(),
		Environment: env,
		CreatedAt:   now.Unix(),
		RequestedBy: by,
		Description: in.Description,
	}
	state := EnvironmentState{
		ProjectID:    in.ProjectID,
		Environment:  env,
		ReleaseID:    dc.Release.ID,
		DeploymentID: d.ID,
		DeployedAt:   d.CreatedAt,
		RequestedBy:  by,
		Description:  in.Description,
		Images:       dc.Release.Images,
		Pending:      changed,
	}
	if len(changed) > 0 {
		state.LockedUntil = now.Add(s.LockTTL).Unix()
	}
	change := DeploymentChange{ReleaseID: dc.Release.ID, Deployment: d, State: state}
	if prev != nil {
		change.PreviousDeploymentID = prev.DeploymentID
	}
	if err := s.Store.RecordDeployment(ctx, change); err != nil {
		if IsKind(err, Conflict) {
			return DeployResult{}, &Error{Kind: Conflict, Message: fmt.Sprintf(
				"another deployment to %s/%s was recorded at the same time; retry", in.ProjectID, env.ID), Err: raceError{err}}
		}
		return DeployResult{}, fmt.Errorf("record deployment %s: %w", d.ID, err)
	}

	if len(changed) > 0 {
		params := make(map[string]string, len(changed))
		for _, svc := range changed {
			params[ParameterName(in.ProjectID, env.ID, svc)] = dc.Release.Images[svc]
		}
		if err := s.Params.PutParameters(ctx, params); err != nil {
			// Leave the services pending but release the lock, so a retry can finish the job.
			if serr := s.Store.SettleEnvironment(ctx, in.ProjectID, env.ID, d.ID, changed); serr != nil {
				s.Log.ErrorContext(ctx, "release lock after failed writes", "deployment", d.ID, "err", serr)
			}
			return DeployResult{}, Wrap(Unavailable, err,
				"deployment %s is recorded but writing its parameters failed; deploy again to finish", d.ID)
		}
	}
	if dc.Project.TagDeployedImages && s.Registry != nil {
		if err := s.Registry.TagImages(ctx, sortedValues(dc.Release.Images), "env."+env.ID); err != nil {
			_ = s.Store.SettleEnvironment(ctx, in.ProjectID, env.ID, d.ID, nil)
			return DeployResult{}, Wrap(Unavailable, err, "deployment %s is recorded but tagging its images env.%s failed; deploy again to finish", d.ID, env.ID)
		}
	}
	if len(changed) > 0 {
		if err := s.Store.SettleEnvironment(ctx, in.ProjectID, env.ID, d.ID, nil); err != nil {
			return DeployResult{}, fmt.Errorf("settle deployment %s: %w", d.ID, err)
		}
	}
	rel := dc.Release
	rel.Deployments = append(append([]Deployment{}, rel.Deployments...), d)
	rel.LastDateDeployed = d.CreatedAt
	return DeployResult{Deployment: d, Release: rel}, nil
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
