package shiplog_test

import (
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestTickSettlesBakes: the tick's "bakes" work settles a bake once it has ended, and not before;
// a project whose environments do not bake costs it nothing.
func TestTickSettlesBakes(t *testing.T) {
	h, alarms, findings, release := guardedHarness(t)
	h.svc.Alarms, h.svc.Findings = alarms, findings
	noBake := `{"name": "Storage service", "environments": [{"id": "stage", "auto_promote": true}, {"id": "prod", "alarms": ["storage-prod-5xx"]}],
		"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}]}`
	if err := h.register(t, "storage", noBake); err != nil { // alarms but no bake: not looked at
		t.Fatal(err)
	}
	d := deployGuarded(t, h, release(1))
	bakes := func() shiplog.TickOutcome {
		t.Helper()
		out, err := h.svc.Tick(t.Context())
		if err != nil {
			t.Fatalf("Tick: %v", err)
		}
		for _, o := range out {
			if o.Work == "bakes" {
				return o
			}
		}
		t.Fatalf("Tick answered %+v, with no bakes work", out)
		return shiplog.TickOutcome{}
	}
	status := func() string {
		t.Helper()
		rec, err := h.svc.Deployment(t.Context(), "guarded", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Status
	}

	h.clock.Advance(5 * time.Minute) // half way through prod's 10m bake
	if o := bakes(); o != (shiplog.TickOutcome{Work: "bakes", Projects: 1}) || status() != shiplog.StatusApplied {
		t.Fatalf("tick half way through the bake: %+v, deployment %s; want guarded looked at, nothing settled", o, status())
	}
	h.clock.Advance(5 * time.Minute)
	if o := bakes(); o != (shiplog.TickOutcome{Work: "bakes", Projects: 1, Actions: 1}) || status() != shiplog.StatusVerified {
		t.Fatalf("tick at the bake's end: %+v, deployment %s; want it verified", o, status())
	}
	if o := bakes(); o != (shiplog.TickOutcome{Work: "bakes", Projects: 1}) {
		t.Fatalf("tick after the bake settled: %+v, want nothing more", o)
	}
}
