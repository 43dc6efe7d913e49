package shiplog_test

import (
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestWindowGate(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	office := shiplog.Window{Days: "Mon-Thu", Start: "09:00", End: "16:00", TZ: "Europe/London"}
	friday := shiplog.Window{Days: "Fri", Start: "09:00", End: "12:00", TZ: "Europe/London"}
	env := shiplog.Environment{ID: "prod", Windows: []shiplog.Window{office, friday}}
	at := func(kind string, y int, m time.Month, d, hh, mm int) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: env, Kind: kind, Now: time.Date(y, m, d, hh, mm, 0, 0, london)}
	}
	// 2026-11-23 is a Monday; London is on GMT (UTC+0) then, on BST (UTC+1) in June.
	runGateCases(t, "window", []gateCase{
		{name: "no windows", in: shiplog.GateInput{ProjectID: "storage", Environment: shiplog.Environment{ID: "prod"}, Now: gateNow}, allow: true, parts: []string{"prod has no deploy windows"}},
		{name: "inside on a Monday", in: at(shiplog.KindDeploy, 2026, 11, 23, 10, 0), allow: true, parts: []string{"storage/prod is inside its deploy window Mon-Thu 09:00-16:00 Europe/London"}},
		{name: "at the start", in: at(shiplog.KindDeploy, 2026, 11, 23, 9, 0), allow: true, parts: []string{"inside"}},
		{name: "at the end", in: at(shiplog.KindPromote, 2026, 11, 23, 16, 0),
			parts:     []string{"storage/prod is outside its deploy windows (Mon-Thu 09:00-16:00 Europe/London, Fri 09:00-12:00 Europe/London); the next opens at 2026-11-24T09:00:00Z", "rollback or an emergency deployment"},
			retryWant: 17 * time.Hour},
		{name: "early on a Tuesday", in: at(shiplog.KindDeploy, 2026, 11, 24, 8, 30), parts: []string{"next opens at 2026-11-24T09:00:00Z"}, retryWant: 30 * time.Minute},
		{name: "Friday afternoon", in: at(shiplog.KindDeploy, 2026, 11, 27, 13, 0), parts: []string{"next opens at 2026-11-30T09:00:00Z"}, retryWant: 3*24*time.Hour - 4*time.Hour},
		{name: "Friday morning", in: at(shiplog.KindDeploy, 2026, 11, 27, 11, 59), allow: true, parts: []string{"Fri 09:00-12:00"}},
		{name: "summer time: 09:00 in London is 08:00 UTC", in: at(shiplog.KindDeploy, 2026, 6, 15, 9, 0), allow: true, parts: []string{"inside"}},
		{name: "summer time: the next opening in UTC", in: at(shiplog.KindDeploy, 2026, 6, 15, 8, 0), parts: []string{"next opens at 2026-06-15T08:00:00Z"}, retryWant: time.Hour},
		{name: "a rollback goes outside, said so", in: at(shiplog.KindRollback, 2026, 11, 28, 3, 0), allow: true,
			parts: []string{"outside its deploy windows", "next opens at 2026-11-30T09:00:00Z", "a rollback goes outside them"}},
	})
}

func TestFreezeWindowGate(t *testing.T) {
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	weekend := shiplog.Window{Days: "Fri-Sun", Start: "17:00", End: "24:00", TZ: "America/New_York"}
	nights := shiplog.Window{Days: "Sat-Mon", Start: "00:00", End: "08:00", TZ: "America/New_York"}
	env := shiplog.Environment{ID: "prod", FreezeWindows: []shiplog.Window{weekend, nights}}
	at := func(kind string, m time.Month, d, hh, mm int) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: env, Kind: kind, Now: time.Date(2026, m, d, hh, mm, 0, 0, nyc)}
	}
	// 2026-11-27 is a Friday; New York is on EST (UTC-5).
	runGateCases(t, "freeze_window", []gateCase{
		{name: "none", in: shiplog.GateInput{ProjectID: "storage", Environment: shiplog.Environment{ID: "prod"}, Now: gateNow}, allow: true, parts: []string{"prod has no recurring freezes"}},
		{name: "Friday morning", in: at(shiplog.KindDeploy, 11, 27, 10, 0), allow: true, parts: []string{"storage/prod is outside its recurring freezes"}},
		{name: "Friday evening", in: at(shiplog.KindDeploy, 11, 27, 18, 0),
			parts:     []string{"storage/prod is inside its recurring freeze Fri-Sun 17:00-24:00 America/New_York until 2026-11-28T13:00:00Z", "rollback or an emergency deployment"},
			retryWant: 14 * time.Hour}, // Friday's evening runs into Saturday's night
		// Windows that follow on are one freeze: Saturday night runs into Sunday's and Monday's.
		{name: "Sunday evening runs into Monday morning", in: at(shiplog.KindDeploy, 11, 29, 20, 0),
			parts: []string{"until 2026-11-30T13:00:00Z"}, retryWant: 12 * time.Hour},
		{name: "Monday after the freeze", in: at(shiplog.KindDeploy, 11, 30, 8, 0), allow: true, parts: []string{"outside"}},
		{name: "a rollback goes inside, said so", in: at(shiplog.KindRollback, 11, 27, 18, 0), allow: true, parts: []string{"inside its recurring freeze", "a rollback goes inside it"}},
	})
}

func TestValidateWindows(t *testing.T) {
	project := func(ws ...shiplog.Window) shiplog.Project {
		return shiplog.Project{ID: "x", Name: "x", Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}, {ID: "prod", Name: "prod", Windows: ws, FreezeWindows: ws}},
			ImageRepositories: []shiplog.ImageRepository{{ID: "x/web", Services: []string{"web"}}}}
	}
	ok := shiplog.Window{Days: "Mon-Thu,Sat", Start: "09:00", End: "24:00", TZ: "UTC"}
	if err := project(ok).Validate(); err != nil {
		t.Errorf("a valid window: %v", err)
	}
	for _, tt := range []struct {
		name string
		w    shiplog.Window
		want string
	}{
		{"no days", shiplog.Window{Start: "09:00", End: "10:00", TZ: "UTC"}, `x.environments[1].windows[0].days: "" names no day`},
		{"a day misspelt", shiplog.Window{Days: "Mon-Thr", Start: "09:00", End: "10:00", TZ: "UTC"}, `windows[0].days: "Mon-Thr" has "Thr", which is not a day`},
		{"a time without minutes", shiplog.Window{Days: "Mon", Start: "9", End: "10:00", TZ: "UTC"}, `windows[0].start: "9" is not a time of day as HH:MM`},
		{"25 o'clock", shiplog.Window{Days: "Mon", Start: "09:00", End: "25:00", TZ: "UTC"}, `windows[0].end: "25:00" is not a time of day (00:00 to 23:59, or 24:00`},
		{"24:00 as a start", shiplog.Window{Days: "Mon", Start: "24:00", End: "24:00", TZ: "UTC"}, `windows[0].start: "24:00" is not a time of day (00:00 to 23:59)`},
		{"end before start", shiplog.Window{Days: "Mon", Start: "22:00", End: "02:00", TZ: "UTC"}, "windows[0].end: 02:00 is not after start 22:00"},
		{"no time zone", shiplog.Window{Days: "Mon", Start: "09:00", End: "10:00"}, "windows[0].tz: is required"},
		{"a made-up time zone", shiplog.Window{Days: "Mon", Start: "09:00", End: "10:00", TZ: "Europe/Londn"}, `windows[0].tz: "Europe/Londn" is not an IANA time zone`},
		{"Local", shiplog.Window{Days: "Mon", Start: "09:00", End: "10:00", TZ: "Local"}, `"Local" is not an IANA time zone`},
	} {
		err := project(tt.w, ok).Validate()
		want := tt.want
		if want[0] == 'w' {
			want = "x.environments[1]." + want
		}
		wantError(t, tt.name, err, shiplog.Invalid, want)
	}
	// Freeze windows are checked the same way, under their own name.
	p := project()
	p.Environments[1].FreezeWindows = []shiplog.Window{{Days: "Mon", Start: "09:00", End: "10:00", TZ: "Mars/Olympus"}}
	wantError(t, "a freeze window", p.Validate(), shiplog.Invalid, `x.environments[1].freeze_windows[0].tz: "Mars/Olympus"`)
}

// TestWindowsOnTheService: outside prod's window a deploy is refused, with when it opens; a
// rollback goes and records the exception; break glass records the gate it passed; inside the
// window deploys go.
func TestWindowsOnTheService(t *testing.T) {
	h := newHarness(t) // its clock starts on Saturday 2026-11-21, 10:00 UTC
	ctx := t.Context()
	if err := h.register(t, "windowed", `{"name": "Windowed", "environments": [{"id": "prod",
		"windows": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00", "tz": "Europe/London"}]}],
		"image_repositories": [{"id": "windowed/web"}]}`); err != nil {
		t.Fatal(err)
	}
	release := func(n int) shiplog.Release {
		t.Helper()
		if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("windowed", "latest", "web"): image("windowed/web", n)}); err != nil {
			t.Fatal(err)
		}
		r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "windowed", RequestedBy: alice})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := release(1)
	in := shiplog.DeployInput{ProjectID: "windowed", ReleaseID: r1.ID, Environment: "prod", RequestedBy: alice}
	before := h.snapshot(t, "windowed")
	_, err := h.svc.Deploy(ctx, in)
	wantError(t, "Deploy on a Saturday", err, shiplog.Conflict, "windowed/prod is outside its deploy windows (Mon-Thu 09:00-16:00 Europe/London); the next opens at 2026-11-23T09:00:00Z")
	h.wantUnchanged(t, "Deploy on a Saturday", "windowed", before)
	plan, err := h.svc.Plan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var window shiplog.GateDecision
	for _, g := range plan.Plan.Gates {
		if g.Gate == "window" {
			window = g
		}
	}
	if window.Allow || window.RetryAt != time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("the window gate's decision on Saturday: got %+v, want a refusal that opens on Monday at 09:00 UTC", window)
	}

	// Monday, 10:00 in London: inside the window.
	h.clock.Advance(48 * time.Hour)
	d1, err := h.svc.Deploy(ctx, in)
	if err != nil {
		t.Fatalf("deploy inside the window: %v", err)
	}
	if d1.Deployment.Exceptions != nil {
		t.Errorf("exceptions of a deploy inside the window: got %v, want none", d1.Deployment.Exceptions)
	}
	r2 := release(2)
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "windowed", ReleaseID: r2.ID, Environment: "prod", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}

	// Monday, 20:00: a deploy is refused, a rollback goes and says it went outside the window.
	h.clock.Advance(10 * time.Hour)
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "windowed", ReleaseID: r1.ID, Environment: "prod", RequestedBy: alice})
	wantError(t, "Deploy on Monday evening", err, shiplog.Conflict, "outside its deploy windows", "next opens at 2026-11-24T09:00:00Z")
	rb, err := h.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "windowed", Environment: "prod", Reason: "errors", RequestedBy: alice})
	if err != nil {
		t.Fatalf("rollback outside the window: %v", err)
	}
	diff(t, "exceptions of the rollback", rb.Deployment.Exceptions, []string{"window"})
	stored, err := h.svc.Deployment(ctx, "windowed", rb.Deployment.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "exceptions of the rollback as stored", stored.Exceptions, []string{"window"})

	// Break glass passes the window, and says so.
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "windowed", ReleaseID: r2.ID, Environment: "prod", RequestedBy: alice, OverrideReason: "hotfix"})
	if err != nil {
		t.Fatalf("break glass outside the window: %v", err)
	}
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "hotfix", By: alice, Gates: []string{"window"}})
}
