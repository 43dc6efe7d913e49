package shiplog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fakePlaces keeps a parameter store, a registry and a runtime per placement, and records who
// each was reached for; fail, if set, is every answer.
type fakePlaces struct {
	mu         sync.Mutex
	params     map[shiplog.Placement]*memstore.Store
	registries map[shiplog.Placement]shiplog.Registry
	runtimes   map[shiplog.Placement]shiplog.Runtime
	by         []string
	fail       error
}

func newFakePlaces() *fakePlaces {
	return &fakePlaces{params: map[shiplog.Placement]*memstore.Store{}, registries: map[shiplog.Placement]shiplog.Registry{}, runtimes: map[shiplog.Placement]shiplog.Runtime{}}
}

func (f *fakePlaces) store(at shiplog.Placement) *memstore.Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.params[at] == nil {
		f.params[at] = memstore.New()
	}
	return f.params[at]
}

func (f *fakePlaces) Parameters(_ context.Context, at shiplog.Placement, by string) (shiplog.ParameterStore, error) {
	f.mu.Lock()
	f.by = append(f.by, by)
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return f.store(at), nil
}

func (f *fakePlaces) Runtime(_ context.Context, at shiplog.Placement, by string) (shiplog.Runtime, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.by = append(f.by, by)
	if f.fail != nil {
		return nil, f.fail
	}
	return f.runtimes[at], nil
}

func (f *fakePlaces) Registry(_ context.Context, at shiplog.Placement, by string) (shiplog.Registry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.by = append(f.by, by)
	if f.fail != nil {
		return nil, f.fail
	}
	return f.registries[at], nil
}

var stageElsewhere = shiplog.Placement{AccountID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/shiplog", Region: "eu-west-1"}

// placedHarness registers the storage project again with stage in another account (same
// region, so that images are pulled from where they were pushed).
func placedHarness(t *testing.T) (*harness, *fakePlaces) {
	t.Helper()
	h := newHarness(t)
	places := newFakePlaces()
	h.svc.Places = places
	entry := `{"name": "Storage service", "environments": [
	    {"id": "stage", "role_arn": "arn:aws:iam::222222222222:role/shiplog", "region": "eu-west-1"},
	    {"id": "prod"}],
	  "image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/bag-register", "services": [{"id": "bag-register"}]},
	    {"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]}, {"id": "uk.ac.wellcome/notifier"}]}`
	if err := h.register(t, "storage", entry); err != nil {
		t.Fatal(err)
	}
	return h, places
}

// TestDeployWritesWhereTheEnvironmentLives: a deploy to an environment of another account writes
// its parameters there, through a session named for the requester, and none at home; the home
// environment's deploy writes at home; drift reads each where it is.
func TestDeployWritesWhereTheEnvironmentLives(t *testing.T) {
	h, places := placedHarness(t)
	r := h.createRelease(t, 1)
	h.deploy(t, r.ID, "stage")

	far := places.store(stageElsewhere)
	got, err := far.GetParametersByPath(t.Context(), shiplog.ParameterPath("storage", "stage"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(r.Images) {
		t.Errorf("stage's account: got %d parameters, want %d: %v", len(got), len(r.Images), got)
	}
	for svc, uri := range r.Images {
		if got[shiplog.ParameterName("storage", "stage", svc)] != uri {
			t.Errorf("stage's account, %s: got %q, want %q", svc, got[shiplog.ParameterName("storage", "stage", svc)], uri)
		}
	}
	if home := h.paramsUnder(t, "storage", "stage"); len(home) != 0 {
		t.Errorf("home account: got stage's parameters %v, want none", home)
	}
	if len(places.by) == 0 || places.by[0] != alice.ID {
		t.Errorf("sessions: got %v, want the first for %s", places.by, alice.ID)
	}

	h.deploy(t, r.ID, "prod")
	if home := h.paramsUnder(t, "storage", "prod"); len(home) != len(r.Images) {
		t.Errorf("home account: got prod's parameters %v, want %d", home, len(r.Images))
	}
	if n, _ := far.GetParametersByPath(t.Context(), shiplog.ParameterPath("storage", "prod")); len(n) != 0 {
		t.Errorf("stage's account: got prod's parameters %v, want none", n)
	}

	// Drift is read where each environment lives: in sync, then a hand edit in stage's account.
	envs, err := h.svc.Environments(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if len(e.Drift) != 0 {
			t.Errorf("%s: got drift %v, want none", e.Environment.ID, e.Drift)
		}
	}
	if envs[0].Environment.Placement != stageElsewhere {
		t.Errorf("stage's placement: got %+v, want %+v", envs[0].Environment.Placement, stageElsewhere)
	}
	name := shiplog.ParameterName("storage", "stage", "archivist")
	if err := far.PutParameters(t.Context(), map[string]string{name: "edited"}); err != nil {
		t.Fatal(err)
	}
	envs, err = h.svc.Environments(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	if d := envs[0].Drift; len(d) != 1 || d[0].Kind != shiplog.DriftParameterChanged || d[0].Actual != "edited" {
		t.Errorf("stage after a hand edit in its account: got drift %+v, want archivist parameter_changed to \"edited\"", d)
	}
	if len(envs[1].Drift) != 0 {
		t.Errorf("prod: got drift %v, want none", envs[1].Drift)
	}

	// A label of the environment is read where it lives.
	images, err := h.svc.Images(t.Context(), "storage", "stage")
	if err != nil {
		t.Fatal(err)
	}
	if images["archivist"] != "edited" {
		t.Errorf("images of label stage: got archivist %q, want the edited value from stage's account", images["archivist"])
	}
}

// TestDeployRefusedWhenTheRoleCannotBeAssumed: the deploy is refused with the reason, and nothing
// is recorded or written anywhere.
func TestDeployRefusedWhenTheRoleCannotBeAssumed(t *testing.T) {
	h, places := placedHarness(t)
	r := h.createRelease(t, 1)
	places.fail = shiplog.Errorf(shiplog.Forbidden, "shiplog may not assume arn:aws:iam::222222222222:role/shiplog: the role must trust this shiplog's function roles")
	_, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage", RequestedBy: alice})
	wantError(t, "Deploy", err, shiplog.Forbidden, "environment stage", "account 222222222222", "may not assume", "must trust")
	if !errors.Is(err, places.fail) {
		t.Errorf("Deploy: got %v, want it to wrap the Places error", err)
	}
	h.wantNothingDeployed(t, r)
	if home := h.paramsUnder(t, "storage", "stage"); len(home) != 0 {
		t.Errorf("home account: got %v, want nothing written", home)
	}
}

// replicaRegistry has the images of have.
type replicaRegistry struct {
	mu     sync.Mutex
	have   map[string]bool
	looked []string
}

func (r *replicaRegistry) CheckImages(_ context.Context, images []string, _ string) (shiplog.ImageCheck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c shiplog.ImageCheck
	for _, im := range images {
		r.looked = append(r.looked, im)
		if !r.have[im] {
			c.Missing = append(c.Missing, im)
		}
	}
	return c, nil
}

func (r *replicaRegistry) TagImages(context.Context, []string, string) error { return nil }

func TestPullsFrom(t *testing.T) {
	src := "760097843905.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + digest(1)
	home := shiplog.Location{Account: "760097843905", Region: "eu-west-1"}
	tests := []struct {
		name string
		at   shiplog.Placement
		want string
	}{
		{"the stack's own", shiplog.Placement{}, src},
		{"another account, the same region: the source, shared", stageElsewhere, src},
		{"another account and region: its replica", shiplog.Placement{RoleARN: "arn:aws:iam::333333333333:role/x", Region: "us-east-1"},
			"333333333333.dkr.ecr.us-east-1.amazonaws.com/team/app@" + digest(1)},
		{"another region, told to pull from the source", shiplog.Placement{RoleARN: "arn:aws:iam::333333333333:role/x", Region: "us-east-1", Registry: shiplog.RegistrySource}, src},
		{"the same region, told to pull from a replica", shiplog.Placement{RoleARN: "arn:aws:iam::333333333333:role/x", Registry: shiplog.RegistryReplica},
			"333333333333.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + digest(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := shiplog.PullsFrom(tt.at, home, src)
			if !ok || got != tt.want {
				t.Errorf("PullsFrom: got %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
	if got, ok := shiplog.PullsFrom(stageElsewhere, home, "docker.io/library/nginx@"+digest(1)); ok || got != "docker.io/library/nginx@"+digest(1) {
		t.Errorf("PullsFrom of an image outside ECR: got %q, %v; want it unchanged and not ok", got, ok)
	}
}

// TestDeployRefusedUntilReplicated: a deploy to an environment of another region is refused while
// its registry (the replica in its account and region) lacks an image, naming the image and where
// it was looked for; nothing is recorded or written. Once replicated, the deploy writes there.
func TestDeployRefusedUntilReplicated(t *testing.T) {
	h := newHarness(t)
	places := newFakePlaces()
	h.svc.Places = places
	prodAt := shiplog.Placement{AccountID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/shiplog", Region: "us-east-1"}
	replica := &replicaRegistry{have: map[string]bool{}}
	places.registries[prodAt] = replica
	entry := `{"name": "Storage service", "environments": [{"id": "stage"},
	    {"id": "prod", "role_arn": "arn:aws:iam::333333333333:role/shiplog", "region": "us-east-1"}],
	  "image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/notifier"}]}`
	if err := h.register(t, "storage", entry); err != nil {
		t.Fatal(err)
	}
	h.seedLabel(t, "latest", 1, "archivist", "notifier")
	r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	// The notifier's image is replicated, the archivist's not yet.
	notifier := "333333333333.dkr.ecr.us-east-1.amazonaws.com/uk.ac.wellcome/notifier@" + digest(1)
	replica.have[notifier] = true
	_, err = h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "prod", RequestedBy: alice})
	wantError(t, "Deploy before replication", err, shiplog.Conflict, "account 333333333333, region us-east-1", "archivist ("+r.Images["archivist"],
		"looked for as 333333333333.dkr.ecr.us-east-1.amazonaws.com/uk.ac.wellcome/archivist@"+digest(1), "ECR replication")
	if strings.Contains(err.Error(), "notifier") {
		t.Errorf("Deploy: %v names the notifier, which is replicated", err)
	}
	h.wantNothingDeployed(t, r)
	if n, _ := places.store(prodAt).GetParametersByPath(t.Context(), shiplog.ParameterPath("storage", "prod")); len(n) != 0 {
		t.Errorf("prod's account: got %v, want nothing written", n)
	}

	replica.have["333333333333.dkr.ecr.us-east-1.amazonaws.com/uk.ac.wellcome/archivist@"+digest(1)] = true
	h.deploy(t, r.ID, "prod")
	got, err := places.store(prodAt).GetParametersByPath(t.Context(), shiplog.ParameterPath("storage", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[shiplog.ParameterName("storage", "prod", "archivist")] != r.Images["archivist"] {
		t.Errorf("prod's account after replication: got %v, want the release's two images", got)
	}
	// stage, where the stack runs, is not checked against prod's registry.
	before := len(replica.looked)
	h.deploy(t, r.ID, "stage")
	if len(replica.looked) != before {
		t.Errorf("a deploy to stage looked in prod's registry: %v", replica.looked[before:])
	}
}

// TestEnvironmentsSayWhatIsNotReplicated: an environment that pulls from a replica in another
// account and region is told the images it needs that its registry lacks: those a promotion from
// the environment before it would bring, and those it runs (gone from the replica); one read of
// its registry per listing, none for an environment that pulls from where images are pushed.
func TestEnvironmentsSayWhatIsNotReplicated(t *testing.T) {
	h := newHarness(t)
	places := newFakePlaces()
	h.svc.Places = places
	prodAt := shiplog.Placement{AccountID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/shiplog", Region: "us-east-1"}
	replica := &replicaRegistry{have: map[string]bool{}}
	places.registries[prodAt] = replica
	entry := `{"name": "Storage service", "environments": [{"id": "stage"},
	    {"id": "prod", "role_arn": "arn:aws:iam::333333333333:role/shiplog", "region": "us-east-1"}],
	  "image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/notifier"}]}`
	if err := h.register(t, "storage", entry); err != nil {
		t.Fatal(err)
	}
	replicated := func(svc string, n int) string {
		return "333333333333.dkr.ecr.us-east-1.amazonaws.com/uk.ac.wellcome/" + svc + "@" + digest(n)
	}
	release := func(n int) shiplog.Release {
		t.Helper()
		h.seedLabel(t, "latest", n, "archivist", "notifier")
		r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	unreplicated := func() map[string][]shiplog.Unreplicated {
		t.Helper()
		envs, err := h.svc.Environments(t.Context(), "storage")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]shiplog.Unreplicated{}
		for _, e := range envs {
			out[e.Environment.ID] = e.Unreplicated
		}
		return out
	}

	r1 := release(1)
	replica.have[replicated("archivist", 1)], replica.have[replicated("notifier", 1)] = true, true
	h.deploy(t, r1.ID, "stage")
	h.deploy(t, r1.ID, "prod")
	if got := unreplicated(); len(got["stage"]) != 0 || len(got["prod"]) != 0 {
		t.Errorf("everything replicated: got %v, want nothing unreplicated", got)
	}

	// r2's archivist, in stage, has not reached prod's replica; its notifier has (the same as r1's).
	h.seedLabel(t, "latest", 2, "archivist")
	r2, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Images["notifier"] != r1.Images["notifier"] || r2.Images["archivist"] == r1.Images["archivist"] {
		t.Fatalf("r2: got %v, want r1's notifier and a new archivist", r2.Images)
	}
	h.deploy(t, r2.ID, "stage")
	before := len(replica.looked)
	got := unreplicated()
	want := []shiplog.Unreplicated{{Service: "archivist", Image: r2.Images["archivist"], LookedFor: replicated("archivist", 2), From: "stage"}}
	if len(got["stage"]) != 0 {
		t.Errorf("stage, where the stack runs: got %v, want nothing (it pulls from where images are pushed)", got["stage"])
	}
	diff(t, "prod's unreplicated images", got["prod"], want)
	if n := len(replica.looked) - before; n != 3 {
		t.Errorf("prod's registry was asked for %d images (%v), want 3: archivist 1 and 2, notifier 1, in one read", n, replica.looked[before:])
	}

	// A lifecycle policy expired the notifier prod runs from its replica: prod needs it too.
	delete(replica.have, replicated("notifier", 1))
	want = append(want, shiplog.Unreplicated{Service: "notifier", Image: r1.Images["notifier"], LookedFor: replicated("notifier", 1), From: "prod"})
	diff(t, "prod's unreplicated images, the notifier expired", unreplicated()["prod"], want)

	// Replicated: nothing to mark.
	replica.have[replicated("archivist", 2)], replica.have[replicated("notifier", 1)] = true, true
	if got := unreplicated(); len(got["prod"]) != 0 {
		t.Errorf("after replication: got %v, want nothing unreplicated", got["prod"])
	}
}
