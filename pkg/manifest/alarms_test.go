package manifest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestParseAlarmsAndFindings: alarms (names or ARNs), bake (a duration), max_finding_severity
// and allow_unscanned, as docs/alarms.md shows them, and every way they can be wrong, each named
// by its path.
func TestParseAlarmsAndFindings(t *testing.T) {
	entry := func(fields string) []byte {
		return []byte(`{"name": "x", "environments": [{"id": "prod", ` + fields + `}], "image_repositories": [{"id": "x/web"}]}`)
	}
	// docs/alarms.md's example, as the page shows it.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "alarms.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, example, _ := strings.Cut(string(doc), "```json\n")
	example, _, _ = strings.Cut(example, "```")
	projects, err := manifest.Parse([]byte(example))
	if err != nil {
		t.Fatalf("docs/alarms.md's example: %v", err)
	}
	prod := projects[0].Environments[1]
	if len(prod.Alarms) != 2 || prod.Bake != 600 || prod.MaxFindingSeverity != "HIGH" || prod.AllowUnscanned {
		t.Errorf("docs/alarms.md's prod: got %+v", prod)
	}
	p, err := manifest.ParseProject("x", entry(`"alarms": ["web-5xx", "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-latency"],
		"bake": "10m", "max_finding_severity": "HIGH", "allow_unscanned": true, "region": "eu-west-1"`))
	if err != nil {
		t.Fatal(err)
	}
	env := p.Environments[0]
	diff(t, "alarms", env.Alarms, []string{"web-5xx", "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-latency"})
	if env.Bake != 600 || env.MaxFindingSeverity != "HIGH" || !env.AllowUnscanned {
		t.Errorf("bake %d, max_finding_severity %q, allow_unscanned %v; want 600, HIGH, true", env.Bake, env.MaxFindingSeverity, env.AllowUnscanned)
	}
	for _, tt := range []struct {
		name, fields string
		want         []string
	}{
		{"alarms not a list", `"alarms": "web-5xx"`, []string{"x.environments[0].alarms", "array"}},
		{"an alarm that is a number", `"alarms": [5]`, []string{"x.environments[0].alarms: got a JSON number, want a string"}},
		{"an empty alarm", `"alarms": [""]`, []string{`x.environments[0].alarms[0]: "" is empty`}},
		{"an alarm with a control character", `"alarms": ["a\u0007b"]`, []string{"x.environments[0].alarms[0]", "control character"}},
		{"an alarm too long", `"alarms": ["` + strings.Repeat("a", 256) + `"]`, []string{"x.environments[0].alarms[0]", "256 bytes long; CloudWatch's limit is 255"}},
		{"an ARN of another service", `"alarms": ["arn:aws:sns:eu-west-1:111122223333:alarm:x"]`, []string{"x.environments[0].alarms[0]", "is not a CloudWatch alarm ARN"}},
		{"an ARN of another account", `"alarms": ["arn:aws:cloudwatch:eu-west-1:444455556666:alarm:x"], "role_arn": "arn:aws:iam::111122223333:role/t"`,
			[]string{"x.environments[0].alarms[0]", "an alarm of account 444455556666, but the environment is in account 111122223333"}},
		{"an ARN of another region", `"alarms": ["arn:aws:cloudwatch:us-east-1:111122223333:alarm:x"], "region": "eu-west-1"`,
			[]string{"x.environments[0].alarms[0]", "an alarm of region us-east-1, but the environment is in region eu-west-1"}},
		{"an alarm twice", `"alarms": ["x", "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:x"]`, []string{`x.environments[0].alarms[1]: alarm "x" is named twice (also alarms[0])`}},
		{"too many alarms", `"alarms": ["a0","a1","a2","a3","a4","a5","a6","a7","a8","a9","b0","b1","b2","b3","b4","b5","b6","b7","b8","b9","c0"]`,
			[]string{"x.environments[0].alarms: names 21 alarms; the limit is 20"}},
		{"bake not a duration", `"alarms": ["a"], "bake": "10 minutes"`, []string{`x.environments[0].bake: "10 minutes" is not a duration`}},
		{"bake a number", `"alarms": ["a"], "bake": 600`, []string{"x.environments[0].bake", "string"}},
		{"bake zero", `"alarms": ["a"], "bake": "0s"`, []string{`x.environments[0].bake: "0s" must be a positive whole number of seconds; leave bake out`}},
		{"bake too long", `"alarms": ["a"], "bake": "25h"`, []string{"x.environments[0].bake: 90000s is longer than the limit of 24h0m0s"}},
		{"bake without alarms", `"bake": "10m"`, []string{"x.environments[0].bake: a bake watches the environment's alarms, and it names none"}},
		{"a severity misspelt", `"max_finding_severity": "high"`, []string{`x.environments[0].max_finding_severity: "high" is not one of CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED`}},
		{"a severity that is a number", `"max_finding_severity": 3`, []string{"x.environments[0].max_finding_severity", "string"}},
		{"allow_unscanned alone", `"allow_unscanned": true`, []string{"x.environments[0].allow_unscanned: is set without max_finding_severity"}},
		{"allow_unscanned a string", `"max_finding_severity": "HIGH", "allow_unscanned": "yes"`, []string{"x.environments[0].allow_unscanned: got a JSON string, want true or false"}},
		{"a misspelt field", `"alarm": ["a"]`, []string{"x.environments[0].alarm", "alarms"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.ParseProject("x", entry(tt.fields))
			wantError(t, "ParseProject", err, shiplog.Invalid, tt.want...)
		})
	}
}
