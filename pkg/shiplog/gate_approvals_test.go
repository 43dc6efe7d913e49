package shiplog_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

var carol = shiplog.Person{ID: "carol", Name: "Carol"}

func TestApprovalsGate(t *testing.T) {
	rule := &shiplog.Approvals{Required: 2, From: []string{"alice", "bob", "carol", "dave"}}
	prod := shiplog.Environment{ID: "prod", Approvals: rule}
	rel := shiplog.Release{ID: "r1", RequestedBy: shiplog.Person{ID: "ci"}}
	approved := func(ids ...string) []shiplog.Approval {
		var out []shiplog.Approval
		for i, id := range ids {
			out = append(out, shiplog.Approval{ProjectID: "storage", Environment: "prod", ReleaseID: "r1", By: shiplog.Person{ID: id}, At: int64(i)})
		}
		return out
	}
	in := func(env shiplog.Environment, r shiplog.Release, kind, by string, ids ...string) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: env, Release: r, Kind: kind, RequestedBy: shiplog.Person{ID: by}, Approvals: approved(ids...), Now: gateNow}
	}
	anyone := shiplog.Environment{ID: "prod", Approvals: &shiplog.Approvals{Required: 1}}
	selfOK := shiplog.Environment{ID: "prod", Approvals: &shiplog.Approvals{Required: 2, From: []string{"alice", "bob"}, SelfApproval: true}}
	byAlice := shiplog.Release{ID: "r1", RequestedBy: shiplog.Person{ID: "alice"}}
	runGateCases(t, "approvals", []gateCase{
		{name: "no approvals required", in: in(shiplog.Environment{ID: "prod"}, rel, shiplog.KindDeploy, "erin"), allow: true, parts: []string{"prod requires no approvals"}},
		{name: "none yet", in: in(prod, rel, shiplog.KindDeploy, "erin"),
			parts: []string{"release r1 has 0 of the 2 approvals prod requires (approved by none)", "who may still approve: alice, bob, carol, dave", "shiplog approve storage prod r1", "emergency deployment"}},
		{name: "one of two", in: in(prod, rel, shiplog.KindPromote, "erin", "bob"),
			parts: []string{"has 1 of the 2 approvals", "approved by bob", "who may still approve: alice, carol, dave"}},
		{name: "two of two", in: in(prod, rel, shiplog.KindDeploy, "erin", "bob", "alice"), allow: true,
			parts: []string{"release r1 has 2 of the 2 approvals prod requires: bob, alice"}},
		{name: "more than enough", in: in(prod, rel, shiplog.KindDeploy, "erin", "bob", "alice", "dave"), allow: true, parts: []string{"has 3 of the 2 approvals"}},
		{name: "the requester's own approval does not count", in: in(prod, rel, shiplog.KindDeploy, "alice", "bob", "alice"),
			parts: []string{"has 1 of the 2 approvals", "approved by bob", "not counted: alice (requests this deploy)", "who may still approve: carol, dave; a deploy requested by someone else would count alice's approval"}},
		{name: "the release's requester's approval does not count", in: in(prod, byAlice, shiplog.KindDeploy, "erin", "alice", "bob"),
			parts: []string{"has 1 of the 2", "not counted: alice (requested the release)", "who may still approve: carol, dave"}},
		{name: "someone not in from does not count", in: in(prod, rel, shiplog.KindDeploy, "erin", "mallory", "bob"),
			parts: []string{"has 1 of the 2", "not counted: mallory (not one of from)"}},
		{name: "enough, with one not counted", in: in(prod, rel, shiplog.KindDeploy, "alice", "alice", "bob", "carol"), allow: true,
			parts: []string{"has 2 of the 2 approvals prod requires: bob, carol; not counted: alice (requests this deploy)"}},
		{name: "a person twice counts once", in: in(prod, rel, shiplog.KindDeploy, "erin", "bob", "bob"), parts: []string{"has 1 of the 2"}},
		{name: "self approval allowed", in: in(selfOK, byAlice, shiplog.KindDeploy, "bob", "alice", "bob"), allow: true, parts: []string{"has 2 of the 2 approvals prod requires: alice, bob"}},
		{name: "nobody left", in: in(shiplog.Environment{ID: "prod", Approvals: &shiplog.Approvals{Required: 2, From: []string{"alice", "bob"}}}, byAlice, shiplog.KindDeploy, "bob"),
			parts: []string{"has 0 of the 2", "who may still approve: nobody"}},
		{name: "anyone may approve", in: in(anyone, byAlice, shiplog.KindDeploy, "bob"), parts: []string{"has 0 of the 1", "who may still approve: anyone but bob and alice"}},
		{name: "anyone else's approval", in: in(anyone, byAlice, shiplog.KindDeploy, "bob", "mallory"), allow: true, parts: []string{"has 1 of the 1 approvals prod requires: mallory"}},
		{name: "a rollback needs none", in: in(prod, rel, shiplog.KindRollback, "erin"), allow: true, parts: []string{"a rollback", "needs no approval"}},
	})
	// A requester whose approval would not count for anyone's deploy is not told it would.
	d := gateNamed(t, "approvals").Evaluate(in(prod, rel, shiplog.KindDeploy, "mallory", "mallory", "bob"))
	if d.Allow || !strings.Contains(d.Message, "not counted: mallory (not one of from)") || strings.Contains(d.Message, "would count") {
		t.Errorf("a requester not in from who approved: got %+v", d)
	}
}

func TestValidateApprovals(t *testing.T) {
	project := func(a *shiplog.Approvals) shiplog.Project {
		return shiplog.Project{ID: "x", Name: "x", Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}, {ID: "prod", Name: "prod", Approvals: a}},
			ImageRepositories: []shiplog.ImageRepository{{ID: "x/web", Services: []string{"web"}}}}
	}
	for _, ok := range []*shiplog.Approvals{nil, {Required: 1}, {Required: 2, From: []string{"alice", "arn:aws:iam::760097843905:user/bob"}}, {Required: 1, SelfApproval: true}} {
		if err := project(ok).Validate(); err != nil {
			t.Errorf("approvals %+v: %v", ok, err)
		}
	}
	many := make([]string, shiplog.MaxApprovers+1)
	for i := range many {
		many[i] = fmt.Sprintf("p%d", i)
	}
	for _, tt := range []struct {
		name string
		a    shiplog.Approvals
		want string
	}{
		{"zero required", shiplog.Approvals{}, "x.environments[1].approvals.required: 0 must be at least 1"},
		{"negative", shiplog.Approvals{Required: -1}, "required: -1 must be at least 1"},
		{"more than from", shiplog.Approvals{Required: 3, From: []string{"alice", "bob"}}, "x.environments[1].approvals.required: 3 is more than the 2 people of from (alice, bob)"},
		{"more than a release holds", shiplog.Approvals{Required: shiplog.MaxApprovals + 1}, "is more than the 100 approvals a release may hold"},
		{"an empty id", shiplog.Approvals{Required: 1, From: []string{"alice", ""}}, "x.environments[1].approvals.from[1]: is empty"},
		{"a space", shiplog.Approvals{Required: 1, From: []string{"alice smith"}}, `approvals.from[0]: "alice smith" must be printable characters and no spaces`},
		{"a control character", shiplog.Approvals{Required: 1, From: []string{"ali\x1bce"}}, "approvals.from[0]"},
		{"too long", shiplog.Approvals{Required: 1, From: []string{strings.Repeat("a", shiplog.MaxNameLength+1)}}, "approvals.from[0]"},
		{"twice", shiplog.Approvals{Required: 1, From: []string{"alice", "alice"}}, `approvals.from[1]: "alice" is listed twice`},
		{"too many", shiplog.Approvals{Required: 1, From: many}, "approvals.from: 101 people; the limit is 100"},
	} {
		a := tt.a
		wantError(t, tt.name, project(&a).Validate(), shiplog.Invalid, tt.want)
	}
}

// approvalsEntry is a project whose prod needs two approvals of alice, bob and carol.
const approvalsEntry = `{"name": "Approved", "environments": [{"id": "stage"},
	{"id": "prod", "approvals": {"required": 2, "from": ["arn:aws:iam::760097843905:user/alice", "bob", "carol"]}}],
	"image_repositories": [{"id": "approved/web"}]}`

// TestApprovalsOnTheService: approvals are recorded once each, refused for the wrong people,
// withdrawn, logged, and gate the deploy, whose plan lists the decision; break glass and
// rollbacks pass the gate.
func TestApprovalsOnTheService(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	if err := h.register(t, "approved", approvalsEntry); err != nil {
		t.Fatal(err)
	}
	if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("approved", "latest", "web"): image("approved/web", 1)}); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "approved", RequestedBy: carol})
	if err != nil {
		t.Fatal(err)
	}
	in := func(by shiplog.Person) shiplog.ApprovalInput {
		return shiplog.ApprovalInput{ProjectID: "approved", Environment: "prod", ReleaseID: r.ID, RequestedBy: by}
	}
	eventsOf := func() []string {
		var out []string
		for _, ev := range h.events(t, "approved") {
			if strings.HasPrefix(ev.Type, "approval.") {
				out = append(out, eventLine(ev))
			}
		}
		return out
	}

	// Refusals write nothing.
	mallory := shiplog.Person{ID: "mallory", Name: "Mallory"}
	for _, tt := range []struct {
		name  string
		in    shiplog.ApprovalInput
		kind  shiplog.Kind
		parts []string
	}{
		{"someone not in from", in(mallory), shiplog.Forbidden, []string{"mallory may not approve deploys to approved/prod", "the people who may are arn:aws:iam::760097843905:user/alice, bob, carol"}},
		{"the release's requester", in(carol), shiplog.Forbidden, []string{"carol requested release " + r.ID, "self_approval is false"}},
		{"an environment that needs none", shiplog.ApprovalInput{ProjectID: "approved", Environment: "stage", ReleaseID: r.ID, RequestedBy: bob}, shiplog.Conflict, []string{"approved/stage needs no approvals"}},
		{"an unknown environment", shiplog.ApprovalInput{ProjectID: "approved", Environment: "qa", ReleaseID: r.ID, RequestedBy: bob}, shiplog.NotFound, []string{`environment "qa" is not one of approved's`}},
		{"an unknown release", shiplog.ApprovalInput{ProjectID: "approved", Environment: "prod", ReleaseID: "01NOSUCHRELEASE", RequestedBy: bob}, shiplog.NotFound, []string{`has no release "01NOSUCHRELEASE"`}},
		{"latest", shiplog.ApprovalInput{ProjectID: "approved", Environment: "prod", ReleaseID: "latest", RequestedBy: bob}, shiplog.Invalid, []string{"approve a release by its id"}},
		{"an unknown project", shiplog.ApprovalInput{ProjectID: "nope", Environment: "prod", ReleaseID: r.ID, RequestedBy: bob}, shiplog.NotFound, []string{`project "nope" is not registered`}},
		{"nobody", in(shiplog.Person{}), shiplog.Invalid, []string{"an approval needs to know who approves"}},
		{"a bad release id", shiplog.ApprovalInput{ProjectID: "approved", Environment: "prod", ReleaseID: "a b", RequestedBy: bob}, shiplog.Invalid, []string{"release_id"}},
	} {
		_, err := h.svc.Approve(ctx, tt.in)
		wantError(t, "Approve: "+tt.name, err, tt.kind, tt.parts...)
	}
	if got := eventsOf(); len(got) != 0 {
		t.Fatalf("events after refused approvals: %v", got)
	}

	deploy := shiplog.DeployInput{ProjectID: "approved", ReleaseID: r.ID, Environment: "prod", RequestedBy: alice}
	before := h.snapshot(t, "approved")
	_, err = h.svc.Deploy(ctx, deploy)
	wantError(t, "Deploy with no approval", err, shiplog.Conflict, "has 0 of the 2 approvals prod requires", "who may still approve: bob")
	h.wantUnchanged(t, "a refused deploy", "approved", before)

	st, err := h.svc.Approve(ctx, in(bob))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Changed || st.Approved || len(st.Approvals) != 1 || st.Approvals[0].By != (shiplog.Person{ID: "bob", Name: "Bob", Via: ""}) || strings.Join(st.Counted, ",") != "bob" {
		t.Errorf("first approval: got %+v", st)
	}
	again, err := h.svc.Approve(ctx, in(bob))
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed || len(again.Approvals) != 1 {
		t.Errorf("approving again: got %+v, want unchanged", again)
	}
	h.clock.Advance(time.Minute)
	// alice approves, but deploys too: her own approval does not count for her deploy.
	if _, err := h.svc.Approve(ctx, in(alice)); err != nil {
		t.Fatal(err)
	}
	st, err = h.svc.ApprovalsOf(ctx, "approved", "prod", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Approved || strings.Join(st.Counted, ",") != "bob,"+alice.ID || st.Required != 2 {
		t.Errorf("approvals listed: got %+v", st)
	}
	plan, err := h.svc.Plan(ctx, deploy)
	if err != nil {
		t.Fatal(err)
	}
	var decision *shiplog.GateDecision
	for i, g := range plan.Plan.Gates {
		if g.Gate == "approvals" {
			decision = &plan.Plan.Gates[i]
		}
	}
	if decision == nil || decision.Allow || !contains(decision.Message, "has 1 of the 2", "not counted: "+alice.ID+" (requests this deploy)", "who may still approve: nobody", "a deploy requested by someone else would count "+alice.ID+"'s approval") {
		t.Errorf("plan's approvals decision for alice's deploy: got %+v", decision)
	}
	_, err = h.svc.Deploy(ctx, deploy)
	wantError(t, "Deploy by an approver", err, shiplog.Conflict, "not counted: "+alice.ID+" (requests this deploy)")

	// Someone else deploys: two approvals count.
	byDave := deploy
	byDave.RequestedBy = shiplog.Person{ID: "dave", Name: "Dave"}
	res, err := h.svc.Deploy(ctx, byDave)
	if err != nil {
		t.Fatalf("deploy with two approvals: %v", err)
	}
	h.clock.Advance(time.Minute)

	// bob withdraws: a second release needs approving anew, and a withdrawal of nothing writes nothing.
	w, err := h.svc.Withdraw(ctx, in(bob))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Changed || len(w.Approvals) != 1 || w.Approved {
		t.Errorf("withdrawal: got %+v", w)
	}
	if w, err = h.svc.Withdraw(ctx, in(bob)); err != nil || w.Changed {
		t.Errorf("withdrawing again: got %+v, %v; want unchanged", w, err)
	}
	want := []string{
		"approval.granted bob prod " + r.ID + "  ",
		"approval.granted " + alice.ID + " prod " + r.ID + "  ",
		"approval.withdrawn bob prod " + r.ID + "  ",
	}
	if got := eventsOf(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("approval events:\ngot  %q\nwant %q", got, want)
	}
	for typ, want := range map[string]string{shiplog.EventApprovalGranted: "Approval Granted", shiplog.EventApprovalWithdrawn: "Approval Withdrawn"} {
		if got := shiplog.DetailType(typ); got != want {
			t.Errorf("EventBridge detail-type of %s: got %q, want %q", typ, got, want)
		}
	}

	// A rollback needs no approval; break glass passes the gate and records it.
	if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("approved", "latest", "web"): image("approved/web", 2)}); err != nil {
		t.Fatal(err)
	}
	r2, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "approved", RequestedBy: carol})
	if err != nil {
		t.Fatal(err)
	}
	bg, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "approved", ReleaseID: r2.ID, Environment: "prod", RequestedBy: byDave.RequestedBy, OverrideReason: "hotfix"})
	if err != nil {
		t.Fatalf("break glass: %v", err)
	}
	if bg.Deployment.Override == nil || strings.Join(bg.Deployment.Override.Gates, ",") != "approvals" {
		t.Errorf("break glass override: got %+v, want it to name approvals", bg.Deployment.Override)
	}
	h.clock.Advance(time.Minute)
	rb, err := h.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "approved", Environment: "prod", Reason: "hotfix broke it", RequestedBy: byDave.RequestedBy})
	if err != nil {
		t.Fatalf("rollback with no approvals: %v", err)
	}
	if rb.Release.ID != res.Release.ID {
		t.Errorf("rollback deployed %s, want %s", rb.Release.ID, res.Release.ID)
	}
}

// countingApprovals counts the reads of approvals.
type countingApprovals struct {
	shiplog.Store
	reads int
}

func (c *countingApprovals) ListApprovals(ctx context.Context, projectID, env, releaseID string) ([]shiplog.Approval, error) {
	c.reads++
	return c.Store.ListApprovals(ctx, projectID, env, releaseID)
}

// TestApprovalsReadOnlyWhereRequired: a deploy to an environment with no approvals reads none; one
// to an environment with approvals reads them once per attempt; a rollback reads none.
func TestApprovalsReadOnlyWhereRequired(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	if err := h.register(t, "approved", approvalsEntry); err != nil {
		t.Fatal(err)
	}
	counter := &countingApprovals{Store: h.svc.Store}
	h.svc.Store = counter
	put := func(n int) shiplog.Release {
		t.Helper()
		if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("approved", "latest", "web"): image("approved/web", n)}); err != nil {
			t.Fatal(err)
		}
		r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "approved", RequestedBy: carol})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
		return r
	}
	r1 := put(1)
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "approved", ReleaseID: r1.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "approved", ReleaseID: r1.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	if counter.reads != 0 {
		t.Errorf("a deploy and a plan to stage, which needs no approvals, read approvals %d times, want 0", counter.reads)
	}
	for _, by := range []shiplog.Person{alice, bob} {
		if _, err := h.svc.Approve(ctx, shiplog.ApprovalInput{ProjectID: "approved", Environment: "prod", ReleaseID: r1.ID, RequestedBy: by}); err != nil {
			t.Fatal(err)
		}
	}
	counter.reads = 0
	dave := shiplog.Person{ID: "dave", Name: "Dave"}
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "approved", ReleaseID: r1.ID, Environment: "prod", RequestedBy: dave}); err != nil {
		t.Fatal(err)
	}
	if counter.reads != 1 {
		t.Errorf("a deploy to prod read approvals %d times, want 1", counter.reads)
	}
	h.clock.Advance(time.Minute)
	r2 := put(2)
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "approved", ReleaseID: r2.ID, Environment: "prod", RequestedBy: dave, OverrideReason: "hotfix"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	counter.reads = 0
	if _, err := h.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "approved", Environment: "prod", Reason: "hotfix broke it", RequestedBy: dave}); err != nil {
		t.Fatal(err)
	}
	if counter.reads != 0 {
		t.Errorf("a rollback read approvals %d times, want 0", counter.reads)
	}
}
