package shiplogtest

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The contract of deployment statuses and of a release's own listing of its deployments.

func testGetDeployment(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	_, err := s.GetDeployment(t.Context(), "p", deploymentID(1))
	wantErr(t, "GetDeployment before any deployment", err, shiplog.ErrDeploymentNotFound)

	d := newDeployment(p, r, "stage", 1, 0)
	d.Deployment.Status = shiplog.StatusRequested
	d.Deployment.StatusHistory = []shiplog.StatusEntry{{Status: shiplog.StatusRequested, At: d.Deployment.CreatedAt, By: bob}}
	recordDeployments(t, s, d)
	got, err := s.GetDeployment(t.Context(), "p", d.Deployment.ID)
	mustOK(t, "GetDeployment", err)
	diff(t, "GetDeployment", got, record(d))
	_, err = s.GetDeployment(t.Context(), "q", d.Deployment.ID)
	wantErr(t, "GetDeployment of another project", err, shiplog.ErrDeploymentNotFound)
}

// statusWrite returns the write that moves the state w wrote to status, updating its deployment.
func statusWrite(w shiplog.EnvironmentWrite, status string, at int64) shiplog.EnvironmentWrite {
	cur := w.State
	next := cur
	next.Status = status
	out := (&cur).Next(next)
	out.Statuses = []shiplog.StatusUpdate{{
		ProjectID: cur.ProjectID, ReleaseID: cur.ReleaseID, Environment: cur.Environment.ID, DeploymentID: cur.DeploymentID,
		Entry: shiplog.StatusEntry{Status: status, At: at, By: bob, Detail: "checked by " + status},
	}}
	ev := newEvent(cur.ProjectID, "deployment."+status, at)
	ev.Environment, ev.ReleaseID, ev.DeploymentID, ev.By = cur.Environment.ID, cur.ReleaseID, cur.DeploymentID, bob
	out.Events = []shiplog.Event{ev}
	return out
}

func testStatusUpdates(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	d := newDeployment(p, r, "stage", 1, 0)
	d.Deployment.Status = shiplog.StatusRequested
	d.State.Status = shiplog.StatusRequested
	recordDeployments(t, s, d)

	applied := statusWrite(d, shiplog.StatusApplied, d.Deployment.CreatedAt+1)
	mustOK(t, "WriteEnvironment applied", s.WriteEnvironment(t.Context(), applied))
	verified := statusWrite(applied, shiplog.StatusVerified, d.Deployment.CreatedAt+2)
	mustOK(t, "WriteEnvironment verified", s.WriteEnvironment(t.Context(), verified))

	want := record(d)
	want.Status = shiplog.StatusVerified
	want.StatusHistory = []shiplog.StatusEntry{applied.Statuses[0].Entry, verified.Statuses[0].Entry}
	got, err := s.GetDeployment(t.Context(), "p", want.ID)
	mustOK(t, "GetDeployment", err)
	diff(t, "deployment after two status updates", got, want)
	stage, _ := allDeployments(t, s, "p", "stage", 10)
	diff(t, "the environment's listing after two status updates", stage, []shiplog.DeploymentRecord{want})
	all, _ := allDeployments(t, s, "p", "", 10)
	diff(t, "the project's listing after two status updates", all, []shiplog.DeploymentRecord{want})
	rel := getRelease(t, s, "p", r.ID)
	wantRel := deployed(r, d)
	wantRel.Deployments = []shiplog.Deployment{want.Deployment}
	wantRel.VerifiedIn = []string{"stage"}
	diff(t, "release after its deployment was verified", rel, wantRel)
	diff(t, "state after two status updates", states(t, s, "p"), []shiplog.EnvironmentState{verified.State})

	// A status update of a deployment not recorded refuses the whole write.
	before := takeSnapshot(t, s, "p")
	bad := statusWrite(verified, shiplog.StatusFailed, d.Deployment.CreatedAt+3)
	bad.Statuses[0].DeploymentID = deploymentID(99)
	err = s.WriteEnvironment(t.Context(), bad)
	wantErr(t, "WriteEnvironment with a status update of a missing deployment", err, shiplog.ErrDeploymentNotFound)
	sameSnapshot(t, "after a refused status update", takeSnapshot(t, s, "p"), before)

	// A stale version refuses the status update too.
	stale := statusWrite(applied, shiplog.StatusFailed, d.Deployment.CreatedAt+3)
	err = s.WriteEnvironment(t.Context(), stale)
	wantErr(t, "WriteEnvironment of a status at a stale version", err, shiplog.ErrVersionConflict)
	sameSnapshot(t, "after a stale status update", takeSnapshot(t, s, "p"), before)
	got, _ = s.GetDeployment(t.Context(), "p", want.ID)
	diff(t, "deployment after refused updates", got, want)

	// Verifying again in the same environment lists it once.
	again := statusWrite(verified, shiplog.StatusVerified, d.Deployment.CreatedAt+4)
	mustOK(t, "WriteEnvironment verified again", s.WriteEnvironment(t.Context(), again))
	if rel := getRelease(t, s, "p", r.ID); len(rel.VerifiedIn) != 1 {
		t.Errorf("verified_in after two verifications in stage: got %v, want [stage]", rel.VerifiedIn)
	}
}

// testSupersede records a deployment together with the supersession of the one before it.
func testSupersede(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	d1 := newDeployment(p, r1, "stage", 1, 0)
	d1.Deployment.Status, d1.State.Status = shiplog.StatusApplied, shiplog.StatusApplied
	recordDeployments(t, s, d1)
	d2 := newDeployment(p, r2, "stage", 2, d1.State.Version)
	d2.Deployment.Status, d2.State.Status = shiplog.StatusRequested, shiplog.StatusRequested
	entry := shiplog.StatusEntry{Status: shiplog.StatusSuperseded, At: d2.Deployment.CreatedAt, By: bob, Detail: "replaced"}
	d2.Statuses = []shiplog.StatusUpdate{{ProjectID: "p", ReleaseID: r1.ID, Environment: "stage", DeploymentID: d1.Deployment.ID, Entry: entry}}
	recordDeployments(t, s, d2)

	want1 := record(d1)
	want1.Status, want1.StatusHistory = shiplog.StatusSuperseded, []shiplog.StatusEntry{entry}
	stage, _ := allDeployments(t, s, "p", "stage", 10)
	diff(t, "stage's deployments", stage, []shiplog.DeploymentRecord{record(d2), want1})
	rel1 := getRelease(t, s, "p", r1.ID)
	diff(t, "release 1's deployments", rel1.Deployments, []shiplog.Deployment{want1.Deployment})
}

func testListReleaseDeployments(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	d1 := newDeployment(p, r1, "stage", 1, 0)
	d2 := newDeployment(p, r1, "prod", 2, 0)
	d3 := newDeployment(p, r2, "stage", 3, d1.State.Version)
	d4 := newDeployment(p, r1, "stage", 4, d3.State.Version)
	recordDeployments(t, s, d1, d2, d3, d4)
	list := func(f shiplog.DeploymentFilter, limit int) []shiplog.DeploymentRecord {
		var out []shiplog.DeploymentRecord
		page := shiplog.PageRequest{Limit: limit}
		for {
			got, err := s.ListDeployments(t.Context(), "p", f, page)
			mustOK(t, "ListDeployments", err)
			out = append(out, got.Items...)
			if got.NextCursor == "" {
				return out
			}
			page.Cursor = got.NextCursor
		}
	}
	for _, limit := range []int{1, 2, 10} {
		diff(t, "release 1's deployments", list(shiplog.DeploymentFilter{Release: r1.ID}, limit),
			[]shiplog.DeploymentRecord{record(d4), record(d2), record(d1)})
		diff(t, "release 1's deployments to stage", list(shiplog.DeploymentFilter{Release: r1.ID, Environment: "stage"}, limit),
			[]shiplog.DeploymentRecord{record(d4), record(d1)})
		diff(t, "release 2's deployments", list(shiplog.DeploymentFilter{Release: r2.ID}, limit),
			[]shiplog.DeploymentRecord{record(d3)})
	}
	if got := list(shiplog.DeploymentFilter{Release: "01HNOSUCHRELEASE0000000000"}, 10); len(got) != 0 {
		t.Errorf("deployments of a release that does not exist: got %d, want none", len(got))
	}
	// A cursor of one release's list is not one of another's.
	page, err := s.ListDeployments(t.Context(), "p", shiplog.DeploymentFilter{Release: r1.ID}, shiplog.PageRequest{Limit: 1})
	mustOK(t, "ListDeployments", err)
	_, err = s.ListDeployments(t.Context(), "p", shiplog.DeploymentFilter{Release: r2.ID}, shiplog.PageRequest{Limit: 1, Cursor: page.NextCursor})
	if !shiplog.IsKind(err, shiplog.Invalid) {
		t.Errorf("a cursor of release 1's deployments used for release 2's: got %v, want Invalid", err)
	}
}
