package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestRepositoryExample holds the repository's example .wellcome_project, which the README
// documents and `make run ARGS="--manifest .wellcome_project"` registers, to the format: it
// parses, and it shows every field shiplog reads, in every place it is read, and at least one of
// the fields it accepts for other tools.
func TestRepositoryExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".wellcome_project"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	// The keys the example uses at each place; a list's elements share a place.
	used := map[string][]string{}
	var walk func(place string, v any)
	walk = func(place string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !slices.Contains(used[place], k) {
					used[place] = append(used[place], k)
				}
				walk(place+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(place+"[]", e)
			}
		}
	}
	for _, p := range top {
		walk("{project}", p)
	}
	places := map[string]reflect.Type{
		"{project}":                                 reflect.TypeFor[entry](),
		"{project}.environments[]":                  reflect.TypeFor[environment](),
		"{project}.environments[].ecs":              reflect.TypeFor[ecsTarget](),
		"{project}.image_repositories[]":            reflect.TypeFor[repository](),
		"{project}.image_repositories[].services[]": reflect.TypeFor[service](),
	}
	// Time gates would refuse the walkthrough's deploys at some hours of the week, whatever the
	// example said: docs/delivery.md shows them, and TestParseWindows parses its examples.
	// Automation (auto_promote, auto_rollback) would deploy and roll back by itself in the
	// walkthrough: docs/automation.md shows it, and TestAutomationManifest parses its forms.
	// Approvals likewise would stop the walkthrough's deploys to prod until two people approved:
	// docs/approvals.md shows them, and TestParseApprovals parses its examples.
	leftOut := map[string]bool{"{project}.environments[].windows": true, "{project}.environments[].freeze_windows": true,
		"{project}.environments[].auto_promote": true, "{project}.environments[].auto_rollback": true,
		"{project}.environments[].approvals": true,
		// The local stack reads no CloudWatch alarms and no ECR scans, so their gates would
		// refuse every deploy of the walkthrough: docs/alarms.md shows them, and
		// TestParseAlarmsAndFindings parses its example.
		"{project}.environments[].alarms": true, "{project}.environments[].bake": true,
		"{project}.environments[].max_finding_severity": true, "{project}.environments[].allow_unscanned": true}
	others := 0
	for place, typ := range places {
		for _, f := range reflect.VisibleFields(typ) {
			if f.Anonymous {
				continue // its fields are listed too
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Tag.Get("strictjson") == "ignored":
				if slices.Contains(used[place], name) {
					others++
				}
			case leftOut[place+"."+name]:
			case slices.Contains(used[place], name):
			case f.Tag.Get("synonym") != "" && slices.Contains(used[place], f.Tag.Get("synonym")):
				// A synonym of a field the example shows (aws_region_name for region).
			case f.Tag.Get("synonym") == "" && slices.ContainsFunc(reflect.VisibleFields(typ), func(o reflect.StructField) bool {
				return o.Tag.Get("synonym") == name && slices.Contains(used[place], strings.Split(o.Tag.Get("json"), ",")[0])
			}):
				// Shown by its synonym.
			default:
				t.Errorf("the example does not show %s.%s", place, name)
			}
		}
	}
	if others == 0 {
		t.Errorf("the example shows none of the fields other tools read (OtherToolsFields)")
	}
	// A service named by a plain string, and a repository that names no services.
	var strService, noServices bool
	for _, p := range top {
		for _, r := range p.(map[string]any)["image_repositories"].([]any) {
			svcs, ok := r.(map[string]any)["services"].([]any)
			noServices = noServices || !ok
			for _, s := range svcs {
				_, isString := s.(string)
				strService = strService || isString
			}
		}
	}
	if !strService || !noServices {
		t.Errorf("the example should name a service by a string (%v) and leave out a repository's services (%v)", strService, noServices)
	}
}
