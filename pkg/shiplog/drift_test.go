package shiplog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// hidingParams is a parameter store in which some names have been deleted.
type hidingParams struct {
	shiplog.ParameterStore
	hidden map[string]bool
}

func (p hidingParams) GetParameters(ctx context.Context, names []string) (map[string]string, error) {
	out, err := p.ParameterStore.GetParameters(ctx, names)
	for n := range p.hidden {
		delete(out, n)
	}
	return out, err
}

// fakeRuntime answers what runs from a map of service name to images, and an ECS deployment from
// a map of "{cluster}/{service}/{id}" to it.
type fakeRuntime struct {
	runs        map[string]shiplog.ServiceRun
	deployments map[string]shiplog.ServiceDeployment
	calls       int
}

func (f *fakeRuntime) Deployment(_ context.Context, cluster, service, id string) (shiplog.ServiceDeployment, error) {
	f.calls++
	return f.deployments[cluster+"/"+service+"/"+id], nil
}

func (f *fakeRuntime) Running(_ context.Context, cluster string, services []string) (map[string]shiplog.ServiceRun, error) {
	f.calls++
	out := map[string]shiplog.ServiceRun{}
	for _, s := range services {
		out[s] = f.runs[cluster+"/"+s]
	}
	return out, nil
}

func TestDrift(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")

	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if len(e.Drift) != 0 {
			t.Errorf("%s right after a deploy: got drift %+v, want none", e.Environment.ID, e.Drift)
		}
	}
	if envs[0].Status != shiplog.StatusApplied || envs[1].Status != "" {
		t.Errorf("statuses: got %q and %q, want applied for stage and none for prod", envs[0].Status, envs[1].Status)
	}

	// Someone edits one parameter by hand and deletes another.
	edited := shiplog.ParameterName("storage", "stage", "archivist")
	gone := shiplog.ParameterName("storage", "stage", "notifier")
	if err := h.store.PutParameters(ctx, map[string]string{edited: "hand/edited@sha256:beef"}); err != nil {
		t.Fatal(err)
	}
	h.svc.Params = hidingParams{h.params, map[string]bool{gone: true}}
	gets := h.params.gets
	envs, err = h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stage's drift", envs[0].Drift, []shiplog.Drift{
		{Service: "archivist", Kind: shiplog.DriftParameterChanged, Recorded: r1.Images["archivist"], Actual: "hand/edited@sha256:beef"},
		{Service: "notifier", Kind: shiplog.DriftParameterMissing, Recorded: r1.Images["notifier"]},
	})
	if got := h.params.gets - gets; got != 1 {
		t.Errorf("parameter reads for the drift of %d services: got %d GetParameters calls, want 1", len(r1.Images), got)
	}

	// A deploy whose writes fail leaves its services pending.
	h.svc.Params = h.params
	h.seedLabel(t, "latest", 2, "bag-register")
	r2, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	h.params.setFail(errors.New("ssm down"))
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice})
	wantError(t, "Deploy with SSM down", err, shiplog.Unavailable)
	h.params.setFail(nil)
	envs, err = h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range envs[0].Drift {
		kinds = append(kinds, d.Service+":"+d.Kind)
	}
	// The failed deploy marks the service it changes pending: bag-register's new image. It does
	// not touch archivist, whose recorded image it keeps, so the hand edit is still shown.
	diff(t, "stage's drift after a failed deploy", kinds, []string{"archivist:parameter_changed", "bag-register:pending"})
	if envs[0].Status != shiplog.StatusRequested {
		t.Errorf("stage's status after a failed deploy: got %q, want requested", envs[0].Status)
	}
}

func TestDriftOnECS(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	p, err := h.svc.Project(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	p.Environments[0].ECS = &shiplog.ECSTarget{Cluster: "storage-stage", Services: map[string]string{"archivist": "archivist-svc"}}
	if _, err := h.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")
	rt := &fakeRuntime{runs: map[string]shiplog.ServiceRun{}}
	h.svc.Runtime = rt
	for svc, uri := range r1.Images {
		name := svc
		if svc == "archivist" {
			name = "archivist-svc"
		}
		rt.runs["storage-stage/"+name] = shiplog.ServiceRun{Found: true, Images: []string{uri}, Rollout: shiplog.RolloutCompleted}
	}
	// notifier runs an older image, named with a tag; bag-register is not found at all.
	rt.runs["storage-stage/notifier"] = shiplog.ServiceRun{Found: true, Images: []string{"old/notifier:v1@sha256:0ld"}}
	delete(rt.runs, "storage-stage/bag-register")
	// archivist runs its image, named with a tag as well as the digest: that is no drift.
	repo, digest := splitURI(r1.Images["archivist"])
	rt.runs["storage-stage/archivist-svc"] = shiplog.ServiceRun{Found: true, Images: []string{repo + ":build-7" + digest}}

	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stage's drift on ECS", envs[0].Drift, []shiplog.Drift{
		{Service: "bag-register", Kind: shiplog.DriftNotRunning, Recorded: r1.Images["bag-register"]},
		{Service: "notifier", Kind: shiplog.DriftNotRunning, Recorded: r1.Images["notifier"], Actual: "old/notifier:v1@sha256:0ld"},
	})
	if rt.calls != 1 {
		t.Errorf("ECS reads: got %d, want 1 (prod names no ECS)", rt.calls)
	}
}

func splitURI(uri string) (repo, digest string) {
	for i := range uri {
		if uri[i] == '@' {
			return uri[:i], uri[i:]
		}
	}
	return uri, ""
}
