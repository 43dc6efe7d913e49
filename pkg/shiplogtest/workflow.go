package shiplogtest

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The release workflow's attributes: promotion gates on a project's environments; the kind, the
// promotion, the reverted deployment, the override and the changes of a deployment; a person's
// lock on an environment's state, also on a state that holds nothing else.

func testProjectRequiresRoundTrip(t *testing.T, s shiplog.Store) {
	p := newProject("p", "stage", "qa", "prod")
	p.Environments[2].Requires = []string{"stage", "qa"}
	putProjects(t, s, p)
	got, err := s.GetProject(t.Context(), "p")
	mustOK(t, "GetProject", err)
	diff(t, "project with promotion gates", got, p)
	all, err := s.ListProjects(t.Context())
	mustOK(t, "ListProjects", err)
	diff(t, "listed project with promotion gates", all, []shiplog.Project{p})
}

func testDeploymentWorkflowAttributesRoundTrip(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)

	d1 := newDeployment(p, r1, "stage", 1, 0)
	d1.Deployment.Kind = shiplog.KindPromote
	d1.Deployment.PromotedFrom = "dev"
	d1.Deployment.Changes = &shiplog.Changes{
		Changed: []string{}, Added: []string{"api", "web", "worker"}, Removed: []string{},
		ParametersWritten: []string{"/p/images/stage/api", "/p/images/stage/web", "/p/images/stage/worker"},
	}
	d2 := newDeployment(p, r2, "stage", 2, d1.State.Version)
	d2.Deployment.Kind = shiplog.KindRollback
	d2.Deployment.Reverts = d1.Deployment.ID
	d2.Deployment.Override = &shiplog.Override{Reason: "incident 7", By: alice}
	d2.Deployment.Changes = &shiplog.Changes{Changed: []string{"web"}, Added: []string{}, Removed: []string{"old"}, ParametersWritten: []string{}}
	d2.State.Lock = &shiplog.EnvironmentLock{Environment: "stage", Reason: "held after rollback", LockedBy: alice, LockedAt: 1_800_000_500, ExpiresAt: 1_800_003_600}
	recordDeployments(t, s, d1, d2)

	diff(t, "release 1", getRelease(t, s, "p", r1.ID), deployed(r1, d1))
	diff(t, "release 2", getRelease(t, s, "p", r2.ID), deployed(r2, d2))
	deps, _ := allDeployments(t, s, "p", "stage", 10)
	diff(t, "deployments", deps, []shiplog.DeploymentRecord{record(d2), record(d1)})
	diff(t, "states", states(t, s, "p"), []shiplog.EnvironmentState{d2.State})
	dc, err := s.DeployContext(ctx, "p", r1.ID, "stage")
	mustOK(t, "DeployContext", err)
	diff(t, "DeployContext's state", dc.Current, &d2.State)

	// Removing the lock removes it.
	unlocked := d2.State
	unlocked.Lock = nil
	w := d2.State.Next(unlocked)
	mustOK(t, "WriteEnvironment unlocking", s.WriteEnvironment(ctx, w))
	diff(t, "states after unlocking", states(t, s, "p"), []shiplog.EnvironmentState{w.State})
}

// A lock may be the first write of an environment: a state with no release, deployment or images.
func testLockOnlyState(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	prod, _ := p.Environment("prod")
	lock := shiplog.EnvironmentState{
		ProjectID: "p", Environment: prod, Images: map[string]string{},
		Lock: &shiplog.EnvironmentLock{Environment: "prod", Reason: "change freeze", LockedBy: bob, LockedAt: 1_800_000_000},
	}
	w := (*shiplog.EnvironmentState)(nil).Next(lock)
	mustOK(t, "WriteEnvironment of a lock alone", s.WriteEnvironment(ctx, w))
	diff(t, "states with a lock alone", states(t, s, "p"), []shiplog.EnvironmentState{w.State})
	dc, err := s.DeployContext(ctx, "p", r.ID, "prod")
	mustOK(t, "DeployContext", err)
	diff(t, "DeployContext of a locked environment", dc.Current, &w.State)

	// A deployment then replaces it at the next version.
	d := newDeployment(p, r, "prod", 1, w.State.Version)
	d.Deployment.Override = &shiplog.Override{Reason: "break glass", By: alice}
	d.State.Lock = w.State.Lock
	recordDeployments(t, s, d)
	diff(t, "states after the emergency deployment", states(t, s, "p"), []shiplog.EnvironmentState{d.State})
	diff(t, "release", getRelease(t, s, "p", r.ID), deployed(r, d))
}

// Freezes ride on the states of the environments they cover, with or without a deployment; the
// idempotency keys of deployments on the state they recorded.
func testFreezesRoundTrip(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	all := shiplog.Freeze{ID: "holidays", Environments: []string{}, StartsAt: 1_800_000_000, EndsAt: 1_800_100_000, Reason: "holidays", CreatedBy: bob, CreatedAt: 1_799_000_000}
	prodOnly := shiplog.Freeze{ID: "release-week", Environments: []string{"prod"}, StartsAt: 1_800_200_000, EndsAt: 1_800_300_000, Reason: "release week", CreatedBy: alice, CreatedAt: 1_799_000_100}
	prod, _ := p.Environment("prod")
	frozen := shiplog.EnvironmentState{ProjectID: "p", Environment: prod, Images: map[string]string{}, Freezes: []shiplog.Freeze{all, prodOnly}}
	w := (*shiplog.EnvironmentState)(nil).Next(frozen)
	mustOK(t, "WriteEnvironment of freezes alone", s.WriteEnvironment(ctx, w))
	d := newDeployment(p, r, "stage", 1, 0)
	d.State.Freezes = []shiplog.Freeze{all}
	d.State.Requests = []shiplog.RequestKey{{Key: "ci-run-7", Hash: "9f2c", DeploymentID: d.Deployment.ID, ReleaseID: r.ID, At: d.Deployment.CreatedAt}}
	recordDeployments(t, s, d)
	diff(t, "states with freezes", states(t, s, "p"), []shiplog.EnvironmentState{w.State, d.State})
}
