package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
)

// The API the example role policies name (docs/deploying.md, "The HTTP API and who may deploy where").
const sampleAPI = "arn:aws:execute-api:" + sampleRegion + ":" + sampleAccount + ":a1b2c3d4e5"

// examplePolicy reads an example identity policy of examples/ as IAM statements.
func examplePolicy(t *testing.T, path string) []statement {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", path))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Version != "2012-10-17" {
		t.Errorf("%s: Version %q, want 2012-10-17 (the one in which policy variables and wildcards mean what this test says)", path, doc.Version)
	}
	var out []statement
	for _, st := range doc.Statement {
		s := statement{sid: str(st["Sid"]), allow: st["Effect"] == "Allow"}
		if e := st["Effect"]; e != "Allow" && e != "Deny" {
			t.Errorf("%s: statement %s has Effect %v", path, s.sid, e)
		}
		for _, k := range []string{"NotAction", "NotResource", "Condition", "Principal"} {
			if _, ok := st[k]; ok {
				t.Errorf("%s: statement %s has %s, which the test does not evaluate", path, s.sid, k)
			}
		}
		for _, a := range asSlice(st["Action"]) {
			if strings.ContainsAny(str(a), "*?") {
				t.Errorf("%s: statement %s: action %s has a wildcard; name the action", path, s.sid, a)
			}
			s.actions = append(s.actions, str(a))
		}
		for _, r := range asSlice(st["Resource"]) {
			s.resources = append(s.resources, str(r))
		}
		out = append(out, s)
	}
	return out
}

// retired reports whether a route only answers 410 (it named no environment).
func retired(r httpapi.Route) bool {
	return !strings.Contains(r.Path, "{environment}") && strings.Contains(r.Path, "{deployment}/")
}

// TestRolePolicies evaluates the example role policies as IAM would (IAM's own matching: "*" and
// "?" match across "/", case-sensitive; an explicit Deny wins) for every route of the API, with
// ids chosen to confuse a pattern (a project called environments, a freeze called prod), against
// what each role is documented to do. Only a path that matches a route reaches IAM's question: API
// Gateway refuses any other before authorizing it.
func TestRolePolicies(t *testing.T) {
	type request struct {
		route  httpapi.Route
		method string
		path   string
		env    string // the environment the path names, if any
	}
	var requests []request
	ids := []string{"storage", "environments", "stage", "prod", "prod-eu"}
	for _, r := range httpapi.Routes {
		envs := []string{""}
		if strings.Contains(r.Path, "{environment}") {
			envs = []string{"stage", "prod", "prod-eu", "Prod", "stage-eu"}
		}
		for _, env := range envs {
			for _, id := range ids {
				path := strings.NewReplacer("{project}", id, "{environment}", env, "{label}", id, "{release}", id,
					"{deployment}", id, "{freeze}", id).Replace(r.Path)
				requests = append(requests, request{r, r.Method, path, env})
			}
		}
	}
	emergency := func(q request) bool { return strings.HasSuffix(q.route.Path, "/emergency-deployments") }
	reportOrVerify := func(q request) bool {
		return q.env != "" && (strings.HasSuffix(q.route.Path, "/status") || strings.HasSuffix(q.route.Path, "/verify"))
	}
	// What each role may do, as the table in docs/deploying.md says.
	roles := []struct {
		name, file string
		may        func(q request) bool
	}{
		{"deployer of stage", "iam/deployer-stage.json", func(q request) bool {
			return q.method == "GET" || q.route.Key() == "POST /projects/{project}/releases" || (q.env == "stage" && !emergency(q))
		}},
		{"approver", "iam/approver.json", func(q request) bool {
			return q.method == "GET" || (q.env == "prod") || emergency(q)
		}},
		// Approves releases for prod, and does nothing else (docs/approvals.md).
		{"approver of prod's releases", "iam/approver-prod.json", func(q request) bool {
			return q.method == "GET" || (q.env == "prod" && strings.HasSuffix(q.route.Path, "/approvals"))
		}},
		{"reporter", "iam/reporter.json", func(q request) bool {
			return q.method == "GET" || reportOrVerify(q)
		}},
		{"admin", "iam/admin.json", func(request) bool { return true }},
		{"CI", "github-actions/ci-role-policy.json", func(request) bool { return false }},
	}
	for _, role := range roles {
		t.Run(role.name, func(t *testing.T) {
			sts := examplePolicy(t, role.file)
			for _, q := range requests {
				arn := sampleAPI + "/$default/" + q.method + q.path
				want := role.may(q)
				if retired(q.route) {
					want = want && role.name == "admin" // they change nothing; only a wildcard reaches them
				}
				if got := allowed(sts, "execute-api:Invoke", arn, nil); got != want {
					t.Errorf("%s: %s %s allowed %v, want %v", role.file, q.method, q.path, got, want)
				}
			}
		})
	}

	// The cases a reviewer asks first, spelled out: a stage-only deployer never acts on prod.
	deployer := examplePolicy(t, "iam/deployer-stage.json")
	for _, tt := range []struct{ what, method, path string }{
		{"report prod's status", "POST", "/projects/storage/environments/prod/deployments/01JD0000000000000000000000/status"},
		{"verify prod", "POST", "/projects/storage/environments/prod/deployments/01JD0000000000000000000000/verify"},
		{"lift prod's freeze", "DELETE", "/projects/storage/environments/prod/freezes/release-week"},
		{"rewrite prod's freeze", "PUT", "/projects/storage/environments/prod/freezes/release-week"},
		{"lift a freeze of every environment", "DELETE", "/projects/storage/freezes/release-week"},
		{"make a prod emergency deployment", "POST", "/projects/storage/environments/prod/emergency-deployments"},
		{"make a stage emergency deployment", "POST", "/projects/storage/environments/stage/emergency-deployments"},
		{"deploy to prod", "POST", "/projects/storage/environments/prod/deployments"},
		{"unlock prod", "DELETE", "/projects/storage/environments/prod/lock"},
		{"rewrite every environment's gates", "PUT", "/projects/storage"},
		{"report through the retired route", "POST", "/projects/storage/deployments/01JD0000000000000000000000/status"},
		{"approve for prod", "POST", "/projects/storage/environments/prod/approvals"},
		{"withdraw an approval for prod", "DELETE", "/projects/storage/environments/prod/approvals"},
	} {
		if allowed(deployer, "execute-api:Invoke", sampleAPI+"/$default/"+tt.method+tt.path, nil) {
			t.Errorf("a stage-only deployer may %s: %s %s is allowed", tt.what, tt.method, tt.path)
		}
	}
	for _, tt := range []struct{ what, method, path string }{
		{"report stage's status", "POST", "/projects/storage/environments/stage/deployments/01JD0000000000000000000000/status"},
		{"lift stage's freeze", "DELETE", "/projects/storage/environments/stage/freezes/release-week"},
		{"deploy to stage", "POST", "/projects/storage/environments/stage/deployments"},
	} {
		if !allowed(deployer, "execute-api:Invoke", sampleAPI+"/$default/"+tt.method+tt.path, nil) {
			t.Errorf("a stage-only deployer may not %s: %s %s is denied", tt.what, tt.method, tt.path)
		}
	}

	// CI reaches the two functions of the invoke channel, by their alias live (which an update of
	// shiplog shifts by canary), nothing else.
	ci := examplePolicy(t, "github-actions/ci-role-policy.json")
	fn := func(name string) string {
		base, alias, _ := strings.Cut(name, ":")
		arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:shiplog-%s-EXAMPLE", sampleRegion, sampleAccount, base)
		if alias != "" {
			arn += ":" + alias
		}
		return arn
	}
	for name, want := range map[string]bool{"CreateReleaseFunction:live": true, "DeployFunction:live": true, "CreateReleaseFunction": false,
		"DeployFunction": false, "ApiFunction:live": false, "EcrPushFunction": false} {
		if got := allowed(ci, "lambda:InvokeFunction", fn(name), nil); got != want {
			t.Errorf("CI: lambda:InvokeFunction on %s allowed %v, want %v", name, got, want)
		}
	}

	// Every example policy is one docs/deploying.md (or, for approvals, docs/approvals.md) shows,
	// statement for statement.
	var readme []byte
	for _, doc := range []string{"deploying.md", "approvals.md"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", doc))
		if err != nil {
			t.Fatal(err)
		}
		readme = append(readme, data...)
	}
	var shown []any
	for i, block := range strings.Split(string(readme), "```") {
		body, ok := strings.CutPrefix(block, "json\n")
		if i%2 == 0 || !ok {
			continue
		}
		var doc struct{ Statement []any }
		if json.Unmarshal([]byte(body), &doc) == nil {
			shown = append(shown, doc.Statement...)
		}
	}
	for _, role := range roles {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", role.file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Statement []any }
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for _, st := range doc.Statement {
			if !slices.ContainsFunc(shown, func(v any) bool { return reflect.DeepEqual(v, st) }) {
				t.Errorf("docs/deploying.md shows no statement %v of %s", st, role.file)
			}
		}
	}
}
