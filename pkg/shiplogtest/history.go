package shiplogtest

import (
	"context"
	"fmt"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// WriteHistory writes a small history of every kind of record a Store keeps, with fixed ids and
// times, through the Store's own methods: two projects (one registered twice), pushes, three
// releases (one with an idempotency key), deployments to two environments with status changes
// (applied, verified, superseded), a person's lock, a freeze and a write lock. A store's upgrade
// test opens a store that an older shiplog wrote this way and checks that ReadHistory answers
// what the older shiplog answered (its golden file).
func WriteHistory(ctx context.Context, s shiplog.Store) error {
	n := 0
	ev := func(projectID, typ string, at int64) shiplog.Event {
		n++
		return shiplog.Event{ID: fmt.Sprintf("01HEVT%020d", n), Type: typ, At: at, By: alice, ProjectID: projectID}
	}
	p := newProject("bugfarm")
	q := newProject("other", "dev")
	for _, proj := range []shiplog.Project{q, p} {
		if err := s.PutProject(ctx, proj, ev(proj.ID, shiplog.EventProjectRegistered, 1_800_000_000)); err != nil {
			return fmt.Errorf("put project %s: %w", proj.ID, err)
		}
	}
	// Registered again with a service more: its repository mapping changes.
	p.ImageRepositories[1].Services = append(p.ImageRepositories[1].Services, "admin")
	if err := s.PutProject(ctx, p, ev(p.ID, shiplog.EventProjectRegistered, 1_800_000_001)); err != nil {
		return fmt.Errorf("put project again: %w", err)
	}
	for i, svc := range []string{"worker", "api", "web"} {
		rec := shiplog.ImageRecord{ProjectID: p.ID, ServiceID: svc, URI: imageURI("shared/base", i), PushedAt: 1_800_000_010 + int64(i)}
		if _, err := s.RecordPush(ctx, rec, ev(p.ID, shiplog.EventImageRecorded, rec.PushedAt)); err != nil {
			return fmt.Errorf("record push: %w", err)
		}
	}
	r1, r2, r3 := newRelease(p, 1), newRelease(p, 2), newRelease(q, 3)
	r1.PushedAt = map[string]int64{"worker": 1_800_000_010}
	for _, r := range []shiplog.Release{r1, r3} {
		if err := s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: ev(r.ProjectID, shiplog.EventReleaseCreated, r.CreatedAt)}); err != nil {
			return fmt.Errorf("create release %s: %w", r.ID, err)
		}
	}
	key := &shiplog.ReleaseKey{ProjectID: p.ID, Key: "ci-run-42", Hash: "h42", ReleaseID: r2.ID, At: r2.CreatedAt}
	if err := s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r2, Event: ev(p.ID, shiplog.EventReleaseCreated, r2.CreatedAt), Key: key}); err != nil {
		return fmt.Errorf("create release with a key: %w", err)
	}

	// stage: r1, applied then verified; then r2 over it, which supersedes it.
	d1 := newDeployment(p, r1, "stage", 1, 0)
	d1.Deployment.Kind, d1.Deployment.Status = shiplog.KindDeploy, shiplog.StatusApplied
	d1.Deployment.Changes = &shiplog.Changes{Changed: []string{}, Added: []string{"api", "web", "worker"}, Removed: []string{}, ParametersWritten: []string{"/bugfarm/images/stage/api"}}
	d1.Deployment.StatusHistory = []shiplog.StatusEntry{{Status: shiplog.StatusApplied, At: d1.Deployment.CreatedAt, By: bob}}
	d1.State.Status = shiplog.StatusApplied
	d1.Events = []shiplog.Event{ev(p.ID, shiplog.EventDeploymentRequested, d1.Deployment.CreatedAt)}
	if err := s.WriteEnvironment(ctx, d1); err != nil {
		return fmt.Errorf("deploy 1: %w", err)
	}
	verified := shiplog.StatusEntry{Status: shiplog.StatusVerified, At: d1.Deployment.CreatedAt + 5, By: shiplog.Person{ID: "ecs", Name: "Amazon ECS"}, Detail: "steady state"}
	st := d1.State
	st.Status = shiplog.StatusVerified
	w := (&st).Next(st)
	w.State.Version = d1.State.Version + 1
	w.Expect = d1.State.Version
	w.Statuses = []shiplog.StatusUpdate{{ProjectID: p.ID, ReleaseID: r1.ID, Environment: "stage", DeploymentID: d1.Deployment.ID, Entry: verified}}
	w.Events = []shiplog.Event{ev(p.ID, shiplog.EventDeploymentVerified, verified.At)}
	if err := s.WriteEnvironment(ctx, w); err != nil {
		return fmt.Errorf("verify deploy 1: %w", err)
	}
	d2 := newDeployment(p, r2, "stage", 2, w.State.Version)
	d2.Deployment.Kind, d2.Deployment.Status = shiplog.KindDeploy, shiplog.StatusRequested
	d2.Deployment.Override = &shiplog.Override{Reason: "hotfix", By: bob}
	d2.State.Pending = []string{"web"}
	d2.State.LockedUntil = d2.Deployment.CreatedAt + 125
	d2.State.Requests = []shiplog.RequestKey{{Key: "deploy-7", Hash: "h7", DeploymentID: d2.Deployment.ID, ReleaseID: r2.ID, At: d2.Deployment.CreatedAt}}
	d2.State.Freezes = []shiplog.Freeze{{ID: "xmas", Environments: []string{"stage"}, StartsAt: 1_900_000_000, EndsAt: 1_900_086_400, Reason: "holidays", CreatedBy: alice, CreatedAt: 1_800_000_100}}
	d2.Statuses = []shiplog.StatusUpdate{{ProjectID: p.ID, ReleaseID: r1.ID, Environment: "stage", DeploymentID: d1.Deployment.ID,
		Entry: shiplog.StatusEntry{Status: shiplog.StatusSuperseded, At: d2.Deployment.CreatedAt, By: bob, Detail: "by " + d2.Deployment.ID}}}
	d2.Events = []shiplog.Event{ev(p.ID, shiplog.EventDeploymentRequested, d2.Deployment.CreatedAt), ev(p.ID, shiplog.EventDeploymentSuperseded, d2.Deployment.CreatedAt)}
	if err := s.WriteEnvironment(ctx, d2); err != nil {
		return fmt.Errorf("deploy 2: %w", err)
	}
	// prod: a person's lock, and nothing deployed.
	lock := shiplog.EnvironmentState{ProjectID: p.ID, Environment: shiplog.Environment{ID: "prod", Name: "Env prod"}, Version: 1,
		Lock: &shiplog.EnvironmentLock{Environment: "prod", Reason: "audit", LockedBy: alice, LockedAt: 1_800_000_200, ExpiresAt: 1_900_000_000}}
	lw := shiplog.EnvironmentWrite{State: lock, Events: []shiplog.Event{ev(p.ID, shiplog.EventEnvironmentLocked, 1_800_000_200)}}
	if err := s.WriteEnvironment(ctx, lw); err != nil {
		return fmt.Errorf("lock prod: %w", err)
	}
	// other/dev: r3 deployed.
	d3 := newDeployment(q, r3, "dev", 3, 0)
	if err := s.WriteEnvironment(ctx, d3); err != nil {
		return fmt.Errorf("deploy 3: %w", err)
	}
	return nil
}

// History is everything ReadHistory reads of the history WriteHistory wrote.
type History struct {
	Projects        []shiplog.Project
	Repositories    map[string][]shiplog.ServiceRef
	Pushes          map[string]shiplog.ImageRecord
	Releases        map[string][]shiplog.Release
	Latest          map[string]shiplog.Release
	ReleaseKey      shiplog.ReleaseKey
	Deployments     map[string][]shiplog.DeploymentRecord
	Deployment      shiplog.DeploymentRecord
	States          map[string][]shiplog.EnvironmentState
	Events          map[string][]shiplog.Event
	EventsOfType    []shiplog.Event
	ReleaseContext  shiplog.ReleaseContext
	DeployContext   shiplog.DeployContext
	ReleaseDeploys  []shiplog.DeploymentRecord
	EnvDeployments  []shiplog.DeploymentRecord
	ReleaseInStage  []shiplog.DeploymentRecord
	RepositoryNone  []shiplog.ServiceRef
	ReleaseByIDList shiplog.Release
}

// ReadHistory reads back, through every read of the Store, what WriteHistory wrote.
func ReadHistory(ctx context.Context, s shiplog.Store) (History, error) {
	var h History
	var err error
	all := shiplog.PageRequest{Limit: shiplog.MaxPageLimit}
	if h.Projects, err = s.ListProjects(ctx); err != nil {
		return h, err
	}
	h.Repositories = map[string][]shiplog.ServiceRef{}
	for _, r := range []string{"shared/base", "team/bugfarm-web", "team/other-web"} {
		if h.Repositories[r], err = s.RepositoryServices(ctx, r); err != nil {
			return h, err
		}
	}
	if h.RepositoryNone, err = s.RepositoryServices(ctx, "nobody/none"); err != nil {
		return h, err
	}
	if h.Pushes, err = s.LatestImages(ctx, "bugfarm", []string{"worker", "api", "web", "admin"}); err != nil {
		return h, err
	}
	h.Releases, h.Latest = map[string][]shiplog.Release{}, map[string]shiplog.Release{}
	h.Deployments, h.States, h.Events = map[string][]shiplog.DeploymentRecord{}, map[string][]shiplog.EnvironmentState{}, map[string][]shiplog.Event{}
	for _, p := range []string{"bugfarm", "other"} {
		rs, err := s.ListReleases(ctx, p, all)
		if err != nil {
			return h, err
		}
		h.Releases[p] = rs.Items
		if h.Latest[p], err = s.LatestRelease(ctx, p); err != nil {
			return h, err
		}
		ds, err := s.ListDeployments(ctx, p, shiplog.DeploymentFilter{}, all)
		if err != nil {
			return h, err
		}
		h.Deployments[p] = ds.Items
		if h.States[p], err = s.EnvironmentStates(ctx, p); err != nil {
			return h, err
		}
		evs, err := s.ListEvents(ctx, p, shiplog.EventFilter{}, all)
		if err != nil {
			return h, err
		}
		h.Events[p] = evs.Items
	}
	if h.ReleaseKey, err = s.GetReleaseKey(ctx, "bugfarm", "ci-run-42"); err != nil {
		return h, err
	}
	if h.Deployment, err = s.GetDeployment(ctx, "bugfarm", deploymentID(1)); err != nil {
		return h, err
	}
	evs, err := s.ListEvents(ctx, "bugfarm", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested}, all)
	if err != nil {
		return h, err
	}
	h.EventsOfType = evs.Items
	if h.ReleaseContext, err = s.ReleaseContext(ctx, "bugfarm", []string{"worker", "web"}, "ci-run-42"); err != nil {
		return h, err
	}
	if h.DeployContext, err = s.DeployContext(ctx, "bugfarm", shiplog.LatestRelease, "stage"); err != nil {
		return h, err
	}
	ds, err := s.ListDeployments(ctx, "bugfarm", shiplog.DeploymentFilter{Release: releaseID(1)}, all)
	if err != nil {
		return h, err
	}
	h.ReleaseDeploys = ds.Items
	if ds, err = s.ListDeployments(ctx, "bugfarm", shiplog.DeploymentFilter{Environment: "stage"}, all); err != nil {
		return h, err
	}
	h.EnvDeployments = ds.Items
	if ds, err = s.ListDeployments(ctx, "bugfarm", shiplog.DeploymentFilter{Release: releaseID(2), Environment: "stage"}, all); err != nil {
		return h, err
	}
	h.ReleaseInStage = ds.Items
	if h.ReleaseByIDList, err = s.GetRelease(ctx, "bugfarm", releaseID(1)); err != nil {
		return h, err
	}
	return h, nil
}
