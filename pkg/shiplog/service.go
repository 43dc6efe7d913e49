package shiplog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Service records pushes, creates releases and deploys them. It is safe for concurrent use.
type Service struct {
	Params   ParameterStore
	Store    ReleaseStore
	Registry Registry // optional

	// Now is the clock; NewID makes release and deployment ids, which must sort by creation time.
	Now   func() time.Time
	NewID func() string
	// LockTTL bounds how long a deployment may hold an environment while writing parameters.
	LockTTL time.Duration
	Log     *slog.Logger
}

// NewService returns a Service on the real clock, with ULID ids.
func NewService(params ParameterStore, store ReleaseStore, registry Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		Params: params, Store: store, Registry: registry,
		Now: time.Now, NewID: NewULIDGenerator(time.Now),
		LockTTL: 2 * time.Minute, Log: log,
	}
}

// NewULIDGenerator returns an id generator whose ids are 26 URL-safe characters that sort by
// creation time, and strictly increase within one process.
func NewULIDGenerator(now func() time.Time) func() string {
	var mu sync.Mutex
	entropy := ulid.Monotonic(rand.Reader, 0)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return ulid.MustNew(ulid.Timestamp(now()), entropy).String()
	}
}

// RegisterManifest registers every project of a whole .wellcome_project file.
func (s *Service) RegisterManifest(ctx context.Context, manifest []byte) ([]Project, error) {
	projects, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if err := s.Store.PutProject(ctx, p); err != nil {
			return nil, fmt.Errorf("register project %s: %w", p.ID, err)
		}
	}
	return projects, nil
}

// RegisterProject registers one project from its manifest entry.
func (s *Service) RegisterProject(ctx context.Context, id string, entry []byte) (Project, error) {
	p, err := ParseProject(id, entry)
	if err != nil {
		return Project{}, err
	}
	if err := s.Store.PutProject(ctx, p); err != nil {
		return Project{}, fmt.Errorf("register project %s: %w", id, err)
	}
	return p, nil
}

// Project returns a registered project.
func (s *Service) Project(ctx context.Context, id string) (Project, error) {
	if err := ValidateID("project", id); err != nil {
		return Project{}, err
	}
	p, err := s.Store.GetProject(ctx, id)
	if err != nil {
		return Project{}, fmt.Errorf("get project %s: %w", id, err)
	}
	return p, nil
}

// Projects returns every registered project.
func (s *Service) Projects(ctx context.Context) ([]Project, error) {
	ps, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}

// PushOutcome says what recording a push did, for the log and the caller.
type PushOutcome struct {
	Image   string   `json:"image,omitempty"`
	Updated []string `json:"updated"`           // parameters set to the image
	Ignored string   `json:"ignored,omitempty"` // why the whole event was ignored
	Skipped []string `json:"skipped,omitempty"` // services for which a newer push is recorded
}

// maxConverge bounds the rounds a push spends making the parameter agree with the newest record
// when pushes race; each round needs a newer push to have landed in between.
const maxConverge = 5

// RecordPush sets the "latest" image of every service that the pushed repository feeds. Pushes
// that are not successful, tagged PUSH actions, and repositories no project claims, are ignored
// (EventBridge would retry an error forever). An older push never replaces a newer one.
func (s *Service) RecordPush(ctx context.Context, p ImagePush) (PushOutcome, error) {
	out := PushOutcome{Updated: []string{}}
	switch {
	case p.Action != "PUSH":
		out.Ignored = fmt.Sprintf("action is %q, not PUSH", p.Action)
		return out, nil
	case p.Result != "SUCCESS":
		out.Ignored = fmt.Sprintf("push result is %q, not SUCCESS", p.Result)
		return out, nil
	case p.Tag == "":
		out.Ignored = "untagged push (one platform's manifest of a multi-platform image)"
		return out, nil
	}
	if err := validatePush(p); err != nil {
		return out, err
	}
	refs, err := s.Store.RepositoryServices(ctx, p.Repository)
	if err != nil {
		return out, fmt.Errorf("services of repository %s: %w", p.Repository, err)
	}
	if len(refs) == 0 {
		out.Ignored = fmt.Sprintf("no registered project claims repository %q", p.Repository)
		return out, nil
	}
	out.Image = p.ImageURI()
	for _, ref := range refs {
		rec := ImageRecord{ProjectID: ref.ProjectID, ServiceID: ref.ServiceID, URI: out.Image, PushedAt: p.Time.Unix()}
		name := ParameterName(ref.ProjectID, LatestLabel, ref.ServiceID)
		applied, err := s.Store.RecordPush(ctx, rec)
		if err != nil {
			return out, fmt.Errorf("record push for %s: %w", name, err)
		}
		if !applied {
			out.Skipped = append(out.Skipped, name)
			continue
		}
		wrote, err := s.converge(ctx, ref, name, rec.URI)
		if err != nil {
			return out, err
		}
		if wrote {
			out.Updated = append(out.Updated, name)
		}
	}
	return out, nil
}

// converge writes uri to the parameter unless it is there already, then checks that no newer push
// was recorded meanwhile; if one was, its image is written instead, so the parameter always ends
// at the newest record whatever order concurrent pushes interleave in.
func (s *Service) converge(ctx context.Context, ref ServiceRef, name, uri string) (bool, error) {
	wrote := false
	for range maxConverge {
		cur, err := s.Params.GetParameter(ctx, name)
		if err != nil && !IsKind(err, NotFound) {
			return wrote, fmt.Errorf("read %s: %w", name, err)
		}
		if cur != uri {
			if err := s.Params.PutParameters(ctx, map[string]string{name: uri}); err != nil {
				return wrote, fmt.Errorf("write %s: %w", name, err)
			}
			wrote = true
		}
		latest, err := s.Store.LatestImage(ctx, ref.ProjectID, ref.ServiceID)
		if err != nil {
			return wrote, fmt.Errorf("re-read push record for %s: %w", name, err)
		}
		if latest.URI == uri {
			return wrote, nil
		}
		uri = latest.URI
	}
	return wrote, Errorf(Unavailable, "%s: pushes keep racing; retry", name)
}

func validatePush(p ImagePush) error {
	if err := validateRepository("detail.repository-name", p.Repository); err != nil {
		return err
	}
	if !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != len("sha256:")+64 || strings.Trim(p.Digest[7:], "0123456789abcdef") != "" {
		return Errorf(Invalid, "detail.image-digest: %q is not a sha256 digest", clip(p.Digest))
	}
	if len(p.Account) != 12 || strings.Trim(p.Account, "0123456789") != "" {
		return Errorf(Invalid, "account: %q is not a 12-digit AWS account id", clip(p.Account))
	}
	if p.Region == "" || strings.Trim(p.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return Errorf(Invalid, "region: %q is not an AWS region", clip(p.Region))
	}
	if p.Time.IsZero() {
		return Errorf(Invalid, "time: is required")
	}
	return nil
}

// Images returns the images under a label, keyed by service id.
func (s *Service) Images(ctx context.Context, projectID, label string) (map[string]string, error) {
	if err := ValidateID("label", label); err != nil {
		return nil, err
	}
	if _, err := s.Project(ctx, projectID); err != nil {
		return nil, err
	}
	path := ParameterPath(projectID, label)
	params, err := s.Params.GetParametersByPath(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read images under %s: %w", path, err)
	}
	images := make(map[string]string, len(params))
	for name, v := range params {
		images[strings.TrimPrefix(name, path)] = v
	}
	return images, nil
}

// CreateReleaseInput is a request to snapshot a label's images as a release.
type CreateReleaseInput struct {
	ProjectID   string
	Label       string // default "latest"
	Description string
	RequestedBy Person
	// Manifest, if given, is a whole .wellcome_project file, registered before the release is
	// made. It must declare the project.
	Manifest []byte
}

const maxDescription = 1024

// CreateRelease snapshots the images under a label. The release must be complete: every service
// of the project's manifest needs an image under the label.
func (s *Service) CreateRelease(ctx context.Context, in CreateReleaseInput) (Release, error) {
	if in.Label == "" {
		in.Label = LatestLabel
	}
	if err := ValidateID("label", in.Label); err != nil {
		return Release{}, err
	}
	if err := validateText("description", in.Description, maxDescription); err != nil {
		return Release{}, err
	}
	by, err := validatePerson(in.RequestedBy)
	if err != nil {
		return Release{}, err
	}
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return Release{}, err
	}
	// Every check of the request comes before the manifest is registered, so that a refused
	// request changes nothing.
	if in.Manifest != nil {
		projects, err := ParseManifest(in.Manifest)
		if err != nil {
			return Release{}, err
		}
		if !slices.ContainsFunc(projects, func(p Project) bool { return p.ID == in.ProjectID }) {
			return Release{}, Errorf(Invalid, "manifest: does not declare project %q", in.ProjectID)
		}
		for _, p := range projects {
			if err := s.Store.PutProject(ctx, p); err != nil {
				return Release{}, fmt.Errorf("register project %s: %w", p.ID, err)
			}
		}
	}
	project, err := s.Project(ctx, in.ProjectID)
	if err != nil {
		return Release{}, err
	}
	// Read the manifest's services by name: exactly the parameters a release needs, in a known
	// number of calls, where reading the whole path would page until the store says it is done.
	services := project.Services()
	names := make([]string, len(services))
	for i, svc := range services {
		names[i] = ParameterName(project.ID, in.Label, svc)
	}
	found, err := s.Params.GetParameters(ctx, names)
	if err != nil {
		return Release{}, fmt.Errorf("read images under %s: %w", ParameterPath(project.ID, in.Label), err)
	}
	images := make(map[string]string)
	var missing []string
	for i, svc := range services {
		if uri, ok := found[names[i]]; ok {
			images[svc] = uri
		} else {
			missing = append(missing, svc)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Release{}, Errorf(Conflict, "cannot create a release of %s from label %q: no image under %s for %s",
			project.ID, in.Label, ParameterPath(project.ID, in.Label), strings.Join(missing, ", "))
	}
	r := Release{
		ID:          s.NewID(),
		ProjectID:   project.ID,
		ProjectName: project.Name,
		CreatedAt:   s.Now().Unix(),
		Manifest:    string(project.Manifest),
		RequestedBy: by,
		Images:      images,
		Label:       in.Label,
		Description: in.Description,
		Deployments: []Deployment{},
	}
	if err := s.Store.CreateRelease(ctx, r); err != nil {
		return Release{}, fmt.Errorf("create release %s: %w", r.ID, err)
	}
	return r, nil
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
		return s.latestRelease(ctx, projectID)
	}
	r, err := s.Store.GetRelease(ctx, projectID, releaseID)
	if err != nil {
		return Release{}, fmt.Errorf("get release %s: %w", releaseID, err)
	}
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

// Deployments lists a project's deployments, newest first, of one environment if given.
func (s *Service) Deployments(ctx context.Context, projectID, environmentID string, page PageRequest) (Page[DeploymentRecord], error) {
	page, err := page.normalize()
	if err != nil {
		return Page[DeploymentRecord]{}, err
	}
	if err := ValidateID("project", projectID); err != nil {
		return Page[DeploymentRecord]{}, err
	}
	if environmentID != "" {
		if err := ValidateID("environment", environmentID); err != nil {
			return Page[DeploymentRecord]{}, err
		}
	}
	out, err := s.Store.ListDeployments(ctx, projectID, environmentID, page)
	if err != nil {
		return Page[DeploymentRecord]{}, fmt.Errorf("list deployments of %s: %w", projectID, err)
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
	}
	return out, nil
}

// EnvironmentStatus is one environment of a project and what is deployed there (nil: nothing).
type EnvironmentStatus struct {
	Environment Environment       `json:"environment"`
	Current     *EnvironmentState `json:"current"`
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
	out := make([]EnvironmentStatus, len(project.Environments))
	for i, e := range project.Environments {
		out[i] = EnvironmentStatus{Environment: e, Current: byID[e.ID]}
	}
	return out, nil
}

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
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return DeployResult{}, err
	}
	if err := ValidateID("release_id", in.ReleaseID); err != nil {
		return DeployResult{}, err
	}
	if err := ValidateID("environment", in.Environment); err != nil {
		return DeployResult{}, err
	}
	if err := validateText("description", in.Description, maxDescription); err != nil {
		return DeployResult{}, err
	}
	by, err := validatePerson(in.RequestedBy)
	if err != nil {
		return DeployResult{}, err
	}
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

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func validateText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(Invalid, "%s: is %d bytes long; the limit is %d", field, len(s), max)
	}
	return nil
}

// AnonymousPerson stands for a requester that did not say who they are.
var AnonymousPerson = Person{ID: "unknown", Name: "unknown"}

func validatePerson(p Person) (Person, error) {
	if p == (Person{}) {
		return AnonymousPerson, nil
	}
	if strings.TrimSpace(p.ID) == "" {
		return p, Errorf(Invalid, "requested_by.id: is required when requested_by is given")
	}
	if err := validateText("requested_by.id", p.ID, 256); err != nil {
		return p, err
	}
	if err := validateText("requested_by.name", p.Name, 256); err != nil {
		return p, err
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	return p, nil
}
