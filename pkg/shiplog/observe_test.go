package shiplog_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

type refusal struct{ Project, Environment, Kind, Gate string }

// observer records what a Service tells it.
type observer struct {
	mu       sync.Mutex
	refused  []refusal
	recorded []string // deployment ids
}

func (o *observer) DeployRefused(_ context.Context, projectID, environment, kind, gate string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refused = append(o.refused, refusal{projectID, environment, kind, gate})
}

func (o *observer) DeploymentRecorded(_ context.Context, _ string, d shiplog.Deployment) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.recorded = append(o.recorded, d.ID)
}

// TestObserverIsToldRefusalsByGateAndRecords: the observer hears of each recorded deployment and
// of each refusal with the gate that refused; a break-glass deploy the lock would refuse is a
// record, not a refusal. The deploy's log fields name its project, environment and deployment.
func TestObserverIsToldRefusalsByGateAndRecords(t *testing.T) {
	h := newHarness(t)
	o := &observer{}
	h.svc.Observer = o
	r := h.createRelease(t, 1)
	ctx := logctx.New(t.Context())
	first, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, a := range logctx.Attrs(ctx) {
		fields[a.Key] = a.Value.String()
	}
	diff(t, "log fields", fields, map[string]string{"project": "storage", "environment": "stage", "deployment": first.Deployment.ID})

	if _, err := h.svc.Lock(t.Context(), shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "incident", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	r2 := h.createRelease(t, 2)
	_, err = h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice})
	wantError(t, "deploy to a locked environment", err, shiplog.Conflict)
	glass, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice, OverrideReason: "hotfix"})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "refusals", o.refused, []refusal{{"storage", "stage", shiplog.KindDeploy, "lock"}})
	diff(t, "records", o.recorded, []string{first.Deployment.ID, glass.Deployment.ID})
}
