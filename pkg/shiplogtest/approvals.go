package shiplogtest

import (
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// approvalOf is person by's approval of r for env, at second at.
func approvalOf(r shiplog.Release, env string, by shiplog.Person, at int64) shiplog.Approval {
	return shiplog.Approval{ProjectID: r.ProjectID, Environment: env, ReleaseID: r.ID, By: by, At: at}
}

func approvalEvent(a shiplog.Approval, typ string) shiplog.Event {
	ev := newEvent(a.ProjectID, typ, a.At)
	ev.By, ev.Environment, ev.ReleaseID = a.By, a.Environment, a.ReleaseID
	return ev
}

func listApprovals(t *testing.T, s shiplog.Store, r shiplog.Release, env string) []shiplog.Approval {
	t.Helper()
	got, err := s.ListApprovals(t.Context(), r.ProjectID, env, r.ID)
	mustOK(t, "ListApprovals", err)
	return got
}

// testApprovals: one approval per (environment, release, person), each with its event; again
// writes nothing; a withdrawal removes it with its event, once; a listing holds exactly the
// release's approvals for the environment, oldest first, whatever the person's id holds (an ARN,
// a "#").
func testApprovals(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	hash := shiplog.Person{ID: "odd#id/with:parts", Name: "Odd"}
	at := r2.CreatedAt + 10
	a := approvalOf(r1, "prod", bob, at)
	b := approvalOf(r1, "prod", alice, at)
	c := approvalOf(r1, "prod", hash, at+1)
	before := len(allEvents(t, s, "p", shiplog.EventFilter{}, 100))
	for _, x := range []shiplog.Approval{a, b, c} {
		created, err := s.PutApproval(ctx, x, approvalEvent(x, shiplog.EventApprovalGranted))
		mustOK(t, "PutApproval", err)
		if !created {
			t.Errorf("PutApproval of %s: got false, want true (a first approval)", x.By.ID)
		}
	}
	// Neighbours that must not show in r1's prod listing: another release, another environment.
	for _, x := range []shiplog.Approval{approvalOf(r2, "prod", bob, at), approvalOf(r1, "stage", bob, at)} {
		_, err := s.PutApproval(ctx, x, approvalEvent(x, shiplog.EventApprovalGranted))
		mustOK(t, "PutApproval", err)
	}
	// Sorted by time, then by person id: alice's ARN before bob.
	diff(t, "approvals of r1 for prod", listApprovals(t, s, r1, "prod"), []shiplog.Approval{b, a, c})
	diff(t, "approvals of r2 for prod", listApprovals(t, s, r2, "prod"), []shiplog.Approval{approvalOf(r2, "prod", bob, at)})
	diff(t, "approvals of r2 for stage", listApprovals(t, s, r2, "stage"), []shiplog.Approval{})
	if n := len(allEvents(t, s, "p", shiplog.EventFilter{}, 100)) - before; n != 5 {
		t.Errorf("events of 5 approvals: got %d, want 5", n)
	}

	// The same person again: nothing written, not even the event.
	again := a
	again.At++
	created, err := s.PutApproval(ctx, again, approvalEvent(again, shiplog.EventApprovalGranted))
	mustOK(t, "PutApproval again", err)
	if created {
		t.Errorf("PutApproval again: got true, want false")
	}
	diff(t, "approvals after approving again", listApprovals(t, s, r1, "prod"), []shiplog.Approval{b, a, c})
	if n := len(allEvents(t, s, "p", shiplog.EventFilter{}, 100)) - before; n != 5 {
		t.Errorf("events after approving again: got %d, want 5", n)
	}

	// Withdrawn: gone, with its event; withdrawing again writes nothing.
	for _, x := range []shiplog.Approval{c, a} {
		removed, err := s.DeleteApproval(ctx, x.ProjectID, x.Environment, x.ReleaseID, x.By.ID, approvalEvent(x, shiplog.EventApprovalWithdrawn))
		mustOK(t, "DeleteApproval", err)
		if !removed {
			t.Errorf("DeleteApproval of %s: got false, want true", x.By.ID)
		}
	}
	removed, err := s.DeleteApproval(ctx, a.ProjectID, a.Environment, a.ReleaseID, a.By.ID, approvalEvent(a, shiplog.EventApprovalWithdrawn))
	mustOK(t, "DeleteApproval again", err)
	if removed {
		t.Errorf("DeleteApproval again: got true, want false")
	}
	diff(t, "approvals after withdrawals", listApprovals(t, s, r1, "prod"), []shiplog.Approval{b})
	diff(t, "another release's approvals after withdrawals", listApprovals(t, s, r2, "prod"), []shiplog.Approval{approvalOf(r2, "prod", bob, at)})
	evs, err := s.ListEvents(ctx, "p", shiplog.EventFilter{Type: shiplog.EventApprovalWithdrawn}, shiplog.PageRequest{Limit: 10})
	mustOK(t, "ListEvents", err)
	if len(evs.Items) != 2 {
		t.Errorf("approval.withdrawn events: got %d, want 2", len(evs.Items))
	}
}

// testApprovalsAreBounded: a listing reads at most MaxApprovals approvals, however many there are.
func testApprovalsAreBounded(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	for i := range shiplog.MaxApprovals + 3 {
		x := approvalOf(r, "prod", shiplog.Person{ID: fmt.Sprintf("person-%03d", i)}, r.CreatedAt+int64(i))
		_, err := s.PutApproval(ctx, x, approvalEvent(x, shiplog.EventApprovalGranted))
		mustOK(t, "PutApproval", err)
	}
	if got := listApprovals(t, s, r, "prod"); len(got) != shiplog.MaxApprovals {
		t.Errorf("ListApprovals of %d: got %d, want %d", shiplog.MaxApprovals+3, len(got), shiplog.MaxApprovals)
	}
}
