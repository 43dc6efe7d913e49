package shiplog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/logctx"
)

// CreateReleaseInput is a request to snapshot a label's images as a release.
type CreateReleaseInput struct {
	ProjectID   string
	Label       string // default "latest"
	Description string
	RequestedBy Person
	// Register, if given, is the registration of the project (from its manifest entry), made
	// before the release is.
	Register *Project
	// RetiredEnvironments are the environments, deployed to before, that Register drops (see
	// RegisterInput.Retired).
	RetiredEnvironments []string
	// IdempotencyKey, if set, makes a retry of the same request (within KeyTTL) answer the release
	// the first one created and write nothing; the same key with another request is refused.
	// Keys are the project's: another project may use the same key.
	IdempotencyKey string
	// Sources is what CI says of services' sources (see ImageSource for the order it is believed
	// in), keyed by service id.
	Sources map[string]SourceInput `json:",omitempty"`
}

// Validate checks the request as given, before anything is read or written.
func (in CreateReleaseInput) Validate() error {
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return err
	}
	if in.Label != "" {
		if err := ValidateID("label", in.Label); err != nil {
			return err
		}
	}
	if err := validateDescription("description", in.Description); err != nil {
		return err
	}
	if err := in.RequestedBy.Validate(); err != nil {
		return err
	}
	if in.IdempotencyKey != "" {
		if err := ValidateID("idempotency_key", in.IdempotencyKey); err != nil {
			return err
		}
	}
	if _, err := validateSources("sources", in.Sources); err != nil {
		return err
	}
	if in.Register != nil {
		if in.Register.ID != in.ProjectID {
			return Errorf(Invalid, "manifest: registers project %q, not %q", in.Register.ID, in.ProjectID)
		}
		if err := in.registration().Validate(); err != nil {
			return err
		}
	} else if len(in.RetiredEnvironments) > 0 {
		return Errorf(Invalid, "retire_environments: needs a manifest, which is what drops them")
	}
	return nil
}

func (in CreateReleaseInput) registration() RegisterInput {
	r := RegisterInput{Projects: []Project{*in.Register}, By: in.RequestedBy}
	for _, e := range in.RetiredEnvironments {
		r.Retired = append(r.Retired, EnvironmentRef{ProjectID: in.ProjectID, EnvironmentID: e})
	}
	return r
}

// CreateRelease snapshots the images under a label. The release must be complete: every service
// of the project's manifest needs an image under the label.
//
// With an idempotency key, a request the project has seen with that key (in the last KeyTTL)
// answers the release it created, as it now stands, before anything is registered or read; the
// key is recorded in the same atomic write as the release.
//
// Where the Service automates (Automate), a new release is auto-promoted at once to the
// project's auto-promoted environments that require no other, after it is recorded: that cannot
// fail the request.
func (s *Service) CreateRelease(ctx context.Context, in CreateReleaseInput) (Release, error) {
	logctx.Add(ctx, logctx.Project, in.ProjectID)
	var p Project
	r, err := s.createRelease(ctx, in, &p)
	if err == nil && s.Automate && slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.AutoPromote && len(e.Requires) == 0 }) {
		if _, err := s.autoPromote(ctx, p); err != nil {
			s.logger().WarnContext(ctx, "auto-promotion after a release", "project", p.ID, "release", r.ID, "error", err)
		}
	}
	return r, err
}

// createRelease is CreateRelease without what follows it; it sets *into (if not nil) to the
// project it read, unless it answered a replayed request.
func (s *Service) createRelease(ctx context.Context, in CreateReleaseInput, into *Project) (Release, error) {
	// Every check of the request comes before the project is registered, so that a refused
	// request changes nothing.
	if err := in.Validate(); err != nil {
		return Release{}, err
	}
	if in.Label == "" {
		in.Label = LatestLabel
	}
	var hash string
	if in.IdempotencyKey != "" {
		hash = releaseRequestHash(in)
		// With a registration, the key is read with the project, in the same read.
		if in.Register == nil {
			if r, found, err := s.replayRelease(ctx, in.ProjectID, in.IdempotencyKey, hash); found || err != nil {
				return r, err
			}
		}
	}
	by := normalizePerson(in.RequestedBy)
	var (
		project Project
		images  map[string]string
		pushes  map[string]ImageRecord
		err     error
	)
	if in.Register != nil {
		var replayed *Release
		project, images, pushes, replayed, err = s.registerForRelease(ctx, in, hash)
		if replayed != nil {
			return *replayed, err
		}
	} else {
		project, images, pushes, err = s.releaseInputs(ctx, in.ProjectID, in.Label)
	}
	if err != nil {
		return Release{}, err
	}
	if into != nil {
		*into = project
	}
	stated, _ := validateSources("sources", in.Sources) // checked by Validate
	for svc := range stated {
		if _, ok := images[svc]; !ok {
			return Release{}, Errorf(Invalid, "sources: %q is not a service of %s (its services: %s)", clip(svc), project.ID, strings.Join(project.Services(), ", "))
		}
	}
	pushedAt := pushTimes(images, pushes)
	r := Release{
		ID:          s.NewID(),
		ProjectID:   project.ID,
		ProjectName: project.Name,
		CreatedAt:   s.Now().Unix(),
		Manifest:    string(project.Manifest),
		RequestedBy: by,
		Images:      images,
		PushedAt:    pushedAt,
		Sources:     releaseSources(images, pushes, stated),
		Label:       in.Label,
		Description: in.Description,
		Deployments: []Deployment{},
	}
	w := ReleaseWrite{Release: r, Event: s.releaseEvent(r)}
	if in.IdempotencyKey != "" {
		w.Key = &ReleaseKey{ProjectID: r.ProjectID, Key: in.IdempotencyKey, Hash: hash, ReleaseID: r.ID, At: r.CreatedAt}
	}
	return s.storeRelease(ctx, w)
}

// keyRaceAttempts bounds how often CreateRelease writes a release whose key's write raced
// another's, before it answers the store's refusal; keyRaceBackoff spaces the attempts.
const keyRaceAttempts = 5

var keyRaceBackoff = backoff.Policy{First: 50 * time.Millisecond, Max: 50 * time.Millisecond}

// storeRelease writes a new release. A write with a key that another request recorded meanwhile
// answers that request's release (or Conflict, if it was another request); one that only raced a
// write of the key that did not land is written again.
func (s *Service) storeRelease(ctx context.Context, w ReleaseWrite) (Release, error) {
	r := w.Release
	waits := keyRaceBackoff.Waits(s.Sleep)
	for attempt := 1; ; attempt++ {
		err := s.Store.CreateRelease(ctx, w)
		if err == nil {
			return r, nil
		}
		raced := w.Key != nil && (errors.Is(err, ErrReleaseKeyExists) || IsKind(err, Conflict) || IsKind(err, Unavailable))
		if !raced {
			return Release{}, fmt.Errorf("create release %s: %w", r.ID, err)
		}
		replayed, found, rerr := s.replayRelease(ctx, r.ProjectID, w.Key.Key, w.Key.Hash)
		if found || rerr != nil {
			return replayed, rerr
		}
		if attempt == keyRaceAttempts {
			return Release{}, fmt.Errorf("create release %s: %w", r.ID, err)
		}
		if err := waits.Wait(ctx); err != nil {
			return Release{}, err
		}
	}
}

// releaseInputs reads what a release of a registered project needs: the project, then, at once,
// its services' parameters under the label and their push records.
func (s *Service) releaseInputs(ctx context.Context, projectID, label string) (Project, map[string]string, map[string]ImageRecord, error) {
	project, err := s.Project(ctx, projectID)
	if err != nil {
		return Project{}, nil, nil, err
	}
	services := project.Services()
	var (
		wg      sync.WaitGroup
		pushes  map[string]ImageRecord
		pushErr error
	)
	wg.Go(func() {
		pushes, pushErr = s.Store.LatestImages(ctx, projectID, services)
	})
	images, err := s.labelImages(ctx, project, label, services)
	wg.Wait()
	if err != nil {
		return Project{}, nil, nil, err
	}
	if pushErr != nil {
		return Project{}, nil, nil, fmt.Errorf("read push records of %s: %w", projectID, pushErr)
	}
	return project, images, pushes, nil
}

// registerForRelease registers in.Register, unless the store holds that very registration, and
// reads what the release needs. The manifest names the services, so the parameters, the project
// as stored and the push records are read at once, before anything is written; an unchanged
// registration then costs no write. A changed one is checked and written as RegisterProjects
// does, and a refused one writes nothing.
//
// An unchanged registration drops no environment and maps no repository to more services than
// the stored one, which passed those checks when it was written, so it needs no check beyond
// Validate; in particular an environment retired by an earlier registration need not be named
// again.
//
// With an idempotency key, the key's record is read in the same read as the project: a request
// the project has seen with that key answers its release (replayed) before anything is written.
func (s *Service) registerForRelease(ctx context.Context, in CreateReleaseInput, hash string) (project Project, images map[string]string, pushes map[string]ImageRecord, replayed *Release, err error) {
	p := *in.Register
	services := p.Services()
	var (
		wg     sync.WaitGroup
		rc     ReleaseContext
		rcErr  error
		imgErr error
	)
	wg.Go(func() {
		rc, rcErr = s.Store.ReleaseContext(ctx, p.ID, services, in.IdempotencyKey)
	})
	images, imgErr = s.labelImages(ctx, p, in.Label, services)
	wg.Wait()
	if rcErr != nil && !errors.Is(rcErr, ErrProjectNotFound) {
		return Project{}, nil, nil, nil, fmt.Errorf("read project %s and its push records: %w", p.ID, rcErr)
	}
	if rc.Key != nil {
		if r, found, err := s.replayKey(ctx, p.ID, in.IdempotencyKey, *rc.Key, hash); found || err != nil {
			return Project{}, nil, nil, &r, err
		}
	}
	pushes = rc.Pushes
	if rcErr != nil || RegistrationChanged(&rc.Project, p) {
		if _, err := s.RegisterProjects(ctx, in.registration()); err != nil {
			return Project{}, nil, nil, nil, err
		}
		if rcErr != nil {
			// A project registered just now had no repositories to record pushes from, unless
			// one raced in: read them, as the release of a registered project does.
			if pushes, rcErr = s.Store.LatestImages(ctx, p.ID, services); rcErr != nil {
				return Project{}, nil, nil, nil, fmt.Errorf("read push records of %s: %w", p.ID, rcErr)
			}
		}
	}
	if imgErr != nil {
		return Project{}, nil, nil, nil, imgErr
	}
	return p, images, pushes, nil, nil
}

// labelImages returns the image under the label of each of services, or Conflict naming those
// that have none.
//
// An environment's label is read where the environment lives.
func (s *Service) labelImages(ctx context.Context, p Project, label string, services []string) (map[string]string, error) {
	projectID := p.ID
	// Read the manifest's services by name: exactly the parameters a release needs, in a known
	// number of calls, where reading the whole path would page until the store says it is done.
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = ParameterName(projectID, label, svc)
	}
	env, _ := p.Environment(label) // "latest" and other labels are at home
	params, err := s.paramsAt(ctx, env, shiplogPerson.ID)
	if err != nil {
		return nil, err
	}
	found, err := params.GetParameters(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("read images under %s: %w", ParameterPath(projectID, label), err)
	}
	images := make(map[string]string, len(services))
	var missing []string
	for i, svc := range services {
		if uri, ok := found[names[i]]; ok {
			images[svc] = uri
		} else {
			missing = append(missing, svc)
		}
	}
	_, isEnv := p.Environment(label)
	if len(missing) > 0 && len(missing) == len(services) && label != LatestLabel && label != "" && !isEnv {
		// No image at all under a name that is neither latest nor an environment: a typo, a
		// name that finds nothing, not a state that forbids the release (latest before any
		// push, or an environment before its first deploy, is the Conflict below).
		return nil, Errorf(NotFound, "cannot create a release of %s from label %q: the label has no images (nothing under %s); a label is latest or one of %s's environments (%s)",
			projectID, label, ParameterPath(projectID, label), projectID, strings.Join(p.EnvironmentIDs(), ", "))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, Errorf(Conflict, "cannot create a release of %s from label %q: no image under %s for %s",
			projectID, label, ParameterPath(projectID, label), strings.Join(missing, ", "))
	}
	return images, nil
}

// pushTimes returns when each of images was pushed, for the services whose newest recorded push
// is that very image (nil if none is).
func pushTimes(images map[string]string, recs map[string]ImageRecord) map[string]int64 {
	var out map[string]int64
	for svc, uri := range images {
		if rec, ok := recs[svc]; ok && rec.URI == uri {
			if out == nil {
				out = make(map[string]int64, len(images))
			}
			out[svc] = rec.PushedAt
		}
	}
	return out
}

// Release returns one release of a project; "latest" names the newest.
func (s *Service) Release(ctx context.Context, projectID, releaseID string) (Release, error) {
	if err := ValidateID("project", projectID); err != nil {
		return Release{}, err
	}
	if err := ValidateID("release_id", releaseID); err != nil {
		return Release{}, err
	}
	if releaseID == LatestRelease {
		r, err := s.latestRelease(ctx, projectID)
		if err != nil {
			return Release{}, err
		}
		return s.withDeployments(ctx, r)
	}
	r, err := s.Store.GetRelease(ctx, projectID, releaseID)
	if err != nil {
		return Release{}, s.notFound(fmt.Errorf("get release %s: %w", releaseID, err), projectID, releaseID)
	}
	return s.withDeployments(ctx, r)
}

// withDeployments fills in a release's deployments, oldest first: those a store kept in the
// release itself (before deployments were items of their own) and the newest
// ReleaseDeploymentsShown of the rest.
func (s *Service) withDeployments(ctx context.Context, r Release) (Release, error) {
	page, err := s.Store.ListDeployments(ctx, r.ProjectID, DeploymentFilter{Release: r.ID}, PageRequest{Limit: ReleaseDeploymentsShown})
	if err != nil {
		return Release{}, fmt.Errorf("deployments of release %s: %w", r.ID, err)
	}
	at := make(map[string]int, len(r.Deployments))
	out := make([]Deployment, 0, len(r.Deployments)+len(page.Items))
	for _, d := range r.Deployments {
		at[d.ID] = len(out)
		out = append(out, withStatus(DeploymentRecord{Deployment: d}).Deployment)
	}
	legacy := int64(len(out))
	for i := len(page.Items) - 1; i >= 0; i-- {
		d := withStatus(page.Items[i]).Deployment
		if j, ok := at[d.ID]; ok {
			out[j] = d // its own item is the newer word on its status
			legacy--
			continue
		}
		out = append(out, d)
	}
	r.Deployments = out
	r.DeploymentCount += legacy // a store counts the deployments it keeps as items of their own
	return r, nil
}

func (s *Service) latestRelease(ctx context.Context, projectID string) (Release, error) {
	r, err := s.Store.LatestRelease(ctx, projectID)
	if IsKind(err, NotFound) {
		if _, err := s.Project(ctx, projectID); err != nil {
			return Release{}, err
		}
		return Release{}, Errorf(NotFound, "project %s has no releases yet", projectID)
	}
	if err != nil {
		return Release{}, fmt.Errorf("newest release of %s: %w", projectID, err)
	}
	return r, nil
}

// Releases lists a project's releases, newest first.
func (s *Service) Releases(ctx context.Context, projectID string, page PageRequest) (Page[Release], error) {
	page, err := page.normalize()
	if err != nil {
		return Page[Release]{}, err
	}
	if err := ValidateID("project", projectID); err != nil {
		return Page[Release]{}, err
	}
	out, err := s.Store.ListReleases(ctx, projectID, page)
	if err != nil {
		return Page[Release]{}, fmt.Errorf("list releases of %s: %w", projectID, err)
	}
	// Only an empty page needs the project: to tell "no releases yet" from "no such project".
	// Reading it every time would add an item to every list.
	if len(out.Items) == 0 {
		if _, err := s.Project(ctx, projectID); err != nil {
			return Page[Release]{}, err
		}
	}
	return out, nil
}
