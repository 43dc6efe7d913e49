package manifest_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestParseRequiresSoak: a requires entry is an environment id, or an object naming the
// environment and how long a release must soak there.
func TestParseRequiresSoak(t *testing.T) {
	entry := func(requires string) []byte {
		return []byte(`{"name": "x", "environments": [{"id": "stage"}, {"id": "qa"}, {"id": "prod", "requires": ` + requires + `}], "image_repositories": [{"id": "x/web"}]}`)
	}
	for _, tt := range []struct {
		name     string
		requires string
		want     shiplog.Environment
	}{
		{"an id keeps today's meaning", `["stage"]`, shiplog.Environment{ID: "prod", Name: "prod", Requires: []string{"stage"}}},
		{"an object without soak", `[{"environment": "stage"}]`, shiplog.Environment{ID: "prod", Name: "prod", Requires: []string{"stage"}}},
		{"a soak", `[{"environment": "stage", "soak": "30m"}]`, shiplog.Environment{ID: "prod", Name: "prod", Requires: []string{"stage"}, Soak: map[string]int64{"stage": 1800}}},
		{"both forms", `["qa", {"environment": "stage", "soak": "1h30m"}]`, shiplog.Environment{ID: "prod", Name: "prod", Requires: []string{"qa", "stage"}, Soak: map[string]int64{"stage": 5400}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := manifest.ParseProject("x", entry(tt.requires))
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "prod", p.Environments[2], tt.want)
		})
	}
	for _, tt := range []struct {
		name, requires string
		want           []string
	}{
		{"a number", `[5]`, []string{`x.environments[2].requires[0]: got 5, want an environment id ("stage") or {"environment": "stage", "soak": "30m"}`}},
		{"null", `[null]`, []string{`x.environments[2].requires[0]: got null, want an environment id`}},
		{"no environment", `[{"soak": "30m"}]`, []string{"x.environments[2].requires[0].environment: is required"}},
		{"a misspelt field", `[{"environment": "stage", "soke": "30m"}]`, []string{"x.environments[2].requires[0].soke", "soak"}},
		{"not a duration", `[{"environment": "stage", "soak": "30 minutes"}]`, []string{`x.environments[2].requires[0].soak: "30 minutes" is not a duration`, `"30m"`}},
		{"days are not a unit", `[{"environment": "stage", "soak": "2d"}]`, []string{`requires[0].soak: "2d" is not a duration`}},
		{"a soak that is a number", `[{"environment": "stage", "soak": 1800}]`, []string{"x.environments[2].requires[0].soak", "string"}},
		{"zero", `[{"environment": "stage", "soak": "0s"}]`, []string{`requires[0].soak: "0s" must be a positive whole number of seconds`}},
		{"negative", `[{"environment": "stage", "soak": "-5m"}]`, []string{`"-5m" must be a positive`}},
		{"a fraction of a second", `[{"environment": "stage", "soak": "1.5s"}]`, []string{`"1.5s" must be a positive whole number of seconds`}},
		{"too long", `[{"environment": "stage", "soak": "721h"}]`, []string{"x.environments[2].requires[0].soak: 2595600s is longer than the limit of 720h0m0s", "freeze"}},
		{"an unknown environment", `[{"environment": "stg", "soak": "30m"}]`, []string{`x.environments[2].requires[0]: "stg" is not an environment of x`}},
		{"twice", `["stage", {"environment": "stage", "soak": "30m"}]`, []string{`requires[1]: "stage" is listed twice`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.ParseProject("x", entry(tt.requires))
			wantError(t, "ParseProject", err, shiplog.Invalid, tt.want...)
		})
	}
}

// TestParseWindows: windows and freeze_windows are lists of {days, start, end, tz}, every field
// required and none unknown; what each says is checked by shiplog.Project.Validate, named by its
// path.
func TestParseWindows(t *testing.T) {
	entry := func(fields string) []byte {
		return []byte(`{"name": "x", "environments": [{"id": "prod", ` + fields + `}], "image_repositories": [{"id": "x/web"}]}`)
	}
	p, err := manifest.ParseProject("x", entry(`"windows": [{"days": "Mon-Thu", "start": "09:00", "end": "16:00", "tz": "Europe/London"}],
		"freeze_windows": [{"days": "Fri-Sun", "start": "17:00", "end": "24:00", "tz": "Europe/London"}, {"days": "Sat-Mon", "start": "00:00", "end": "08:00", "tz": "Europe/London"}]`))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "windows", p.Environments[0].Windows, []shiplog.Window{{Days: "Mon-Thu", Start: "09:00", End: "16:00", TZ: "Europe/London"}})
	diff(t, "freeze windows", p.Environments[0].FreezeWindows, []shiplog.Window{
		{Days: "Fri-Sun", Start: "17:00", End: "24:00", TZ: "Europe/London"}, {Days: "Sat-Mon", Start: "00:00", End: "08:00", TZ: "Europe/London"}})
	for _, tt := range []struct {
		name, fields string
		want         []string
	}{
		{"not a list", `"windows": {"days": "Mon"}`, []string{"x.environments[0].windows", "array"}},
		{"a string", `"windows": ["Mon-Thu 09:00-16:00"]`, []string{"x.environments[0].windows[0]: got a JSON string, want an object"}},
		{"no tz", `"windows": [{"days": "Mon", "start": "09:00", "end": "16:00"}]`, []string{"x.environments[0].windows[0].tz: is required", `"tz": "Europe/London"`}},
		{"no days", `"freeze_windows": [{"start": "09:00", "end": "16:00", "tz": "UTC"}]`, []string{"x.environments[0].freeze_windows[0].days: is required"}},
		{"a misspelt field", `"windows": [{"day": "Mon", "start": "09:00", "end": "16:00", "tz": "UTC"}]`, []string{"x.environments[0].windows[0].day", "days"}},
		{"a time that is a number", `"windows": [{"days": "Mon", "start": 9, "end": "16:00", "tz": "UTC"}]`, []string{"x.environments[0].windows[0].start", "string"}},
		{"a bad day", `"windows": [{"days": "Mon-Fry", "start": "09:00", "end": "16:00", "tz": "UTC"}]`, []string{`x.environments[0].windows[0].days: "Mon-Fry" has "Fry", which is not a day`}},
		{"a bad zone", `"freeze_windows": [{"days": "Mon", "start": "09:00", "end": "16:00", "tz": "London"}]`, []string{`x.environments[0].freeze_windows[0].tz: "London" is not an IANA time zone`}},
		{"crossing midnight", `"windows": [{"days": "Mon", "start": "22:00", "end": "02:00", "tz": "UTC"}]`, []string{"x.environments[0].windows[0].end: 02:00 is not after start 22:00", "as two"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.ParseProject("x", entry(tt.fields))
			wantError(t, "ParseProject", err, shiplog.Invalid, tt.want...)
		})
	}
}
