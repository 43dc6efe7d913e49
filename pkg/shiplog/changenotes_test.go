package shiplog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestCompareURL(t *testing.T) {
	const a, b = "1111111", "2222222"
	tests := []struct{ repo, want string }{
		{"https://github.com/wellcomecollection/storage-service", "https://github.com/wellcomecollection/storage-service/compare/1111111...2222222"},
		{"https://github.example.org/team/app", "https://github.example.org/team/app/compare/1111111...2222222"},
		{"https://gitlab.com/group/sub/app", "https://gitlab.com/group/sub/app/-/compare/1111111...2222222"},
		{"https://bitbucket.org/team/app", "https://bitbucket.org/team/app/branches/compare/2222222%0D1111111#diff"},
		{"https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app", "https://eu-west-1.console.aws.amazon.com/codesuite/codecommit/repositories/app/compare/1111111/.../2222222?region=eu-west-1"},
		{"https://git-codecommit.eu-west-1.amazonaws.com/v2/other/app", ""},
		{"https://git.example.org/team/app", ""},
	}
	for _, tt := range tests {
		if got := shiplog.CompareURL(tt.repo, a, b); got != tt.want {
			t.Errorf("CompareURL(%q): got %q, want %q", tt.repo, got, tt.want)
		}
	}
}

// TestChangeNotes: pushes whose annotations and tags carry revisions, releases of them, and the
// diff, plan, deployment and event of a promotion and a rollback, each with per-service ranges
// and compare links; a service whose revision goes back is marked so.
func TestChangeNotes(t *testing.T) {
	const repo = "https://github.com/wellcomecollection/storage-service"
	const rev1 = "1111111111111111111111111111111111111111"
	const rev2 = "2222222222222222222222222222222222222222"
	h := newHarness(t)
	meta := fakeMetadata{ann: map[string]map[string]string{}}
	h.svc.Metadata = meta
	base := loadPush(t, "ecr-push-tagged.json")
	// Every service's image is pushed: archivist's carries annotations, bag-register's only a
	// ref.<sha> tag, the others nothing.
	push := func(n int, at time.Duration, rev string) {
		for _, svc := range []string{"archivist", "bag-register", "bag_verifier", "notifier"} {
			p := base
			p.Repository, p.Digest, p.Time = "uk.ac.wellcome/"+svc, digest(n*100+len(svc)), base.Time.Add(at)
			switch svc {
			case "archivist":
				p.Tag = "latest"
				meta.ann[p.ImageURI()] = map[string]string{shiplog.AnnotationRevision: rev, shiplog.AnnotationSource: repo + ".git"}
			case "bag-register":
				p.Tag = "ref." + rev[:12]
			default:
				p.Tag = "build-" + rev[:3]
			}
			if _, err := h.svc.RecordPush(t.Context(), p); err != nil {
				t.Fatalf("RecordPush: %v", err)
			}
		}
	}
	createRelease := func() shiplog.Release {
		r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
		if err != nil {
			t.Fatalf("CreateRelease: %v", err)
		}
		h.clock.Advance(time.Minute)
		return r
	}
	push(1, 0, rev1)
	r1 := createRelease()
	h.deploy(t, r1.ID, "stage")
	push(2, time.Hour, rev2)
	r2 := createRelease()

	wantForward := map[string]*shiplog.SourceRange{
		"archivist": {Repository: repo, FromRevision: rev1, ToRevision: rev2, CompareURL: repo + "/compare/" + rev1 + "..." + rev2},
		// The tag names the revision; no annotation names the repository.
		"bag-register": {FromRevision: rev1[:12], ToRevision: rev2[:12], Unknown: "the source repository is not known"},
	}
	ranges := func(changes []shiplog.ServiceChange) map[string]*shiplog.SourceRange {
		out := map[string]*shiplog.SourceRange{}
		for _, c := range changes {
			if c.Range != nil {
				out[c.Service] = c.Range
			}
		}
		return out
	}

	d, err := h.svc.Diff(t.Context(), "storage", "environment:stage", "release:"+r2.ID)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	diff(t, "diff's ranges", ranges(d.Services), wantForward)
	// The label's images are the newest pushes: their sources are known too.
	d, err = h.svc.Diff(t.Context(), "storage", "environment:stage", "label:latest")
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	diff(t, "diff to the label's ranges", ranges(d.Services), wantForward)

	plan, err := h.svc.Plan(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	diff(t, "plan's ranges", ranges(plan.Plan.Services), wantForward)

	res := h.deploy(t, r2.ID, "stage")
	gotRanges := map[string]*shiplog.SourceRange{}
	for svc, r := range res.Deployment.Changes.Ranges {
		gotRanges[svc] = &r
	}
	diff(t, "deployment's ranges", gotRanges, wantForward)
	evs, err := h.svc.Events(t.Context(), "storage", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested}, shiplog.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	wantDetail := map[string]string{
		"kind":                  "deploy",
		"revision.archivist":    rev1 + ".." + rev2,
		"source.archivist":      repo,
		"compare.archivist":     repo + "/compare/" + rev1 + "..." + rev2,
		"revision.bag-register": rev1[:12] + ".." + rev2[:12],
	}
	diff(t, "deployment.requested event's detail", evs.Items[0].Detail, wantDetail)

	// Back to release 1: a rollback, whose ranges go back, and whose compare link shows what
	// it takes out.
	rb, err := h.svc.Rollback(t.Context(), shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "bad release", RequestedBy: alice})
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	wantBack := map[string]*shiplog.SourceRange{
		"archivist":    {Repository: repo, FromRevision: rev2, ToRevision: rev1, CompareURL: repo + "/compare/" + rev1 + "..." + rev2, Backwards: true},
		"bag-register": {FromRevision: rev2[:12], ToRevision: rev1[:12], Backwards: true, Unknown: "the source repository is not known"},
		// Nothing is known of these images, but their push times say they go back.
		"bag_verifier_post_replication": {Backwards: true, Unknown: "neither image's source is known"},
		"bag_verifier_pre_replication":  {Backwards: true, Unknown: "neither image's source is known"},
		"notifier":                      {Backwards: true, Unknown: "neither image's source is known"},
	}
	gotRanges = map[string]*shiplog.SourceRange{}
	for svc, r := range rb.Deployment.Changes.Ranges {
		gotRanges[svc] = &r
	}
	diff(t, "rollback's ranges", gotRanges, wantBack)

	// A deploy of the older release by id, not as a rollback, still goes back: the images were
	// pushed before those running.
	h.deploy(t, r2.ID, "prod")
	plan, err = h.svc.Plan(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod", RequestedBy: alice})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	diff(t, "plan of an older release's ranges", ranges(plan.Plan.Services), wantBack)
}

// commitHistory is a fake GitHub: the commits of any range, and every call recorded.
type commitHistory struct {
	calls []string
	err   error
}

func (c *commitHistory) Commits(_ context.Context, repo, base, head string) ([]shiplog.Commit, bool, error) {
	c.calls = append(c.calls, repo+" "+base+"..."+head)
	if c.err != nil {
		return nil, false, c.err
	}
	return []shiplog.Commit{{SHA: head, Title: "Fix the bag verifier", Author: "alice", PullRequests: []int{42}}}, false, nil
}

// TestChangeNotesCommits: with Service.Commits set, a deploy reads each range's commits (a
// rollback's, those it takes out) and keeps them in the deployment's ranges; reading the
// deployment, a diff or a plan calls nothing; a failure to read them is noted and the deploy goes
// on; without Service.Commits nothing is read.
func TestChangeNotesCommits(t *testing.T) {
	const repo = "https://github.com/wellcomecollection/storage-service"
	const rev1 = "1111111111111111111111111111111111111111"
	const rev2 = "2222222222222222222222222222222222222222"
	h := newHarness(t)
	meta := fakeMetadata{ann: map[string]map[string]string{}}
	h.svc.Metadata = meta
	base := loadPush(t, "ecr-push-tagged.json")
	push := func(n int, at time.Duration, rev string) {
		for _, svc := range []string{"archivist", "bag-register", "bag_verifier", "notifier"} {
			p := base
			p.Repository, p.Digest, p.Time, p.Tag = "uk.ac.wellcome/"+svc, digest(n*100+len(svc)), base.Time.Add(at), "latest"
			if svc == "archivist" {
				meta.ann[p.ImageURI()] = map[string]string{shiplog.AnnotationRevision: rev, shiplog.AnnotationSource: repo}
			}
			if _, err := h.svc.RecordPush(t.Context(), p); err != nil {
				t.Fatalf("RecordPush: %v", err)
			}
		}
	}
	release := func() shiplog.Release {
		r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
		if err != nil {
			t.Fatalf("CreateRelease: %v", err)
		}
		h.clock.Advance(time.Minute)
		return r
	}
	push(1, 0, rev1)
	r1 := release()
	h.deploy(t, r1.ID, "stage") // nothing runs there yet: no range, no call
	push(2, time.Hour, rev2)
	r2 := release()

	gh := &commitHistory{}
	h.svc.Commits = gh
	res := h.deploy(t, r2.ID, "stage")
	if diff := cmp.Diff([]string{repo + " " + rev1 + "..." + rev2}, gh.calls); diff != "" {
		t.Errorf("GitHub calls of the deploy (-want +got):\n%s", diff)
	}
	want := []shiplog.Commit{{SHA: rev2, Title: "Fix the bag verifier", Author: "alice", PullRequests: []int{42}}}
	if diff := cmp.Diff(want, res.Deployment.Changes.Ranges["archivist"].Commits); diff != "" {
		t.Errorf("archivist's commits in the deployment (-want +got):\n%s", diff)
	}
	// Read back from the store: the commits are in the record, and reads call nothing.
	gh.calls = nil
	rec, err := h.svc.Deployment(t.Context(), "storage", res.Deployment.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, rec.Changes.Ranges["archivist"].Commits); diff != "" {
		t.Errorf("archivist's commits read back (-want +got):\n%s", diff)
	}
	if _, err := h.svc.Diff(t.Context(), "storage", "environment:stage", "release:"+r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Plan(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	if len(gh.calls) != 0 {
		t.Errorf("reads called GitHub: %v", gh.calls)
	}

	// A rollback asks for the commits it takes out; GitHub failing is noted, and it goes on.
	gh.err = errors.New("github: GET /repos/…: 503 Service Unavailable")
	rb, err := h.svc.Rollback(t.Context(), shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "bad release", RequestedBy: alice})
	if err != nil {
		t.Fatalf("Rollback with GitHub down: %v", err)
	}
	if diff := cmp.Diff([]string{repo + " " + rev1 + "..." + rev2}, gh.calls); diff != "" {
		t.Errorf("GitHub calls of the rollback (-want +got):\n%s", diff)
	}
	if r := rb.Deployment.Changes.Ranges["archivist"]; r.Commits != nil || !strings.Contains(r.CommitsUnknown, "503") {
		t.Errorf("rollback's archivist range with GitHub down: %+v, want no commits and the reason", r)
	}

	// Without Service.Commits: nothing read, nothing noted.
	h.svc.Commits = nil
	gh.calls = nil
	res = h.deploy(t, r2.ID, "prod")
	h.clock.Advance(time.Minute)
	res = h.deploy(t, r1.ID, "prod")
	if r := res.Deployment.Changes.Ranges["archivist"]; r.Commits != nil || r.CommitsUnknown != "" || len(gh.calls) != 0 {
		t.Errorf("without Service.Commits: %+v, calls %v", r, gh.calls)
	}
}
