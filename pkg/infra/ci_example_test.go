package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shiplog/shiplog/pkg/awslambda"
)

// TestCIExample holds the GitHub Actions example to what the README says of it: an OIDC role, a
// job whose two invocations carry the commit as their idempotency key and fail on FunctionError,
// and nothing the stack must allow beyond its InvokeAllowList. TestCIRolePolicy and
// TestCITrustPolicy hold the role's two policies.
func TestCIExample(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "github-actions")
	raw, err := os.ReadFile(filepath.Join(dir, "release-and-deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Permissions map[string]string
		Env         map[string]string
		Jobs        map[string]struct {
			Steps []struct {
				Uses string
				Run  string
				With map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if wf.Permissions["id-token"] != "write" {
		t.Errorf("workflow permissions %v: want id-token: write (OIDC)", wf.Permissions)
	}
	var oidc bool
	invokes, checked, keyed := 0, 0, 0
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") && s.With["role-to-assume"] != "" {
				oidc = true
			}
			invokes += strings.Count(s.Run, "aws lambda invoke")
			checked += strings.Count(s.Run, "jq -e '.FunctionError'")
			if strings.Contains(s.Run, "aws lambda invoke") && strings.Contains(s.Run, "idempotency_key: ") && strings.Contains(s.Run, "$GITHUB_SHA") {
				keyed++
			}
		}
	}
	if !oidc {
		t.Error("workflow does not assume a role with aws-actions/configure-aws-credentials")
	}
	if live := strings.Count(string(raw), "aws lambda invoke --function-name \"$FUNCTION\" --qualifier live "); live != invokes {
		t.Errorf("workflow: %d of %d invocations name --qualifier live; want each (the unqualified function skips the canary)", live, invokes)
	}
	if invokes != 2 || checked != invokes {
		t.Errorf("workflow: %d aws lambda invoke, %d FunctionError checks; want create-release and deploy, each checked", invokes, checked)
	}
	if keyed != invokes {
		t.Errorf("workflow: %d of %d invocations carry an idempotency_key from the commit; want each", keyed, invokes)
	}

	// The example needs no privileged field, so it runs on a stack whose
	// InvokePrivilegedActions is empty (the default); and the header names the pair the stack's
	// InvokeAllowList must hold.
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			for _, field := range []string{"manifest", "override_reason", "hold", "report", "retire_environments"} {
				if strings.Contains(s.Run, field+":") {
					t.Errorf("workflow sends %s, which a stack allows only in InvokePrivilegedActions; the example must run without", field)
				}
			}
		}
	}
	pair := wf.Env["PROJECT_ID"] + "/" + wf.Env["ENVIRONMENT"]
	if _, err := awslambda.ParseInvokePolicy(pair, ""); err != nil || !strings.Contains(string(raw), "InvokeAllowList must name "+pair) {
		t.Errorf("workflow deploys %s (%v); want its header to say the stack's InvokeAllowList must name it", pair, err)
	}
}

// The example's sample ARNs.
const (
	ciCreateRelease = "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-CreateReleaseFunction-EXAMPLE"
	ciDeploy        = "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-DeployFunction-EXAMPLE"
)

// TestCIRolePolicy evaluates the example role policy as IAM would (an explicit Deny wins, "*" in
// a resource crosses ":" and "/"): the role invokes the stack's create-release and deploy, and
// nothing else. What they then do is the stack's InvokeAllowList; so the role must not be able to
// change that (the functions' configuration, the stack) either.
func TestCIRolePolicy(t *testing.T) {
	doc := readJSON(t, filepath.Join(repoRoot(t), "examples", "github-actions", "ci-role-policy.json"))
	sts := resolver{}.statements(t, "ci-role-policy.json", doc)
	tests := []struct {
		action, resource string
		want             bool
	}{
		// The alias live, which an update of shiplog shifts by canary and rolls back on alarm.
		{"lambda:InvokeFunction", ciCreateRelease + ":live", true},
		{"lambda:InvokeFunction", ciDeploy + ":live", true},
		// $LATEST runs an update before the canary has proven it; a version or another alias
		// could run other code or configuration than the stack's live one.
		{"lambda:InvokeFunction", ciCreateRelease, false},
		{"lambda:InvokeFunction", ciDeploy, false},
		{"lambda:InvokeFunction", ciDeploy + ":1", false},
		{"lambda:InvokeFunction", ciDeploy + ":$LATEST", false},
		{"lambda:InvokeFunction", ciDeploy + ":canary", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-ApiFunction-EXAMPLE", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-EcrPushFunction-EXAMPLE", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-EcsEventsFunction-EXAMPLE", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-EventsFunction-EXAMPLE", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:shiplog-staging-DeployFunction-EXAMPLE", false},
		{"lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:shiplog-DeployFunction-EXAMPLE", false},
		{"lambda:InvokeFunctionUrl", ciDeploy, false},
		{"lambda:UpdateFunctionConfiguration", ciDeploy, false},
		{"lambda:UpdateFunctionCode", ciDeploy, false},
		{"lambda:PublishVersion", ciDeploy, false},
		{"lambda:UpdateAlias", ciDeploy + ":live", false},
		{"lambda:AddPermission", ciDeploy, false},
		{"cloudformation:UpdateStack", "arn:aws:cloudformation:eu-west-1:123456789012:stack/shiplog/EXAMPLE", false},
		{"execute-api:Invoke", "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/$default/POST/projects/storage/environments/prod/emergency-deployments", false},
		{"ssm:PutParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/storage/images/prod/archivist", false},
		{"dynamodb:PutItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/shiplog-StateTable-EXAMPLE", false},
	}
	for _, tt := range tests {
		if got := allowed(sts, tt.action, tt.resource, nil); got != tt.want {
			t.Errorf("%s on %s: got allowed=%v, want %v", tt.action, tt.resource, got, tt.want)
		}
	}
	for _, st := range sts {
		for _, r := range st.resources {
			if strings.ContainsAny(r, "*?") {
				t.Errorf("statement %s: resource %s has a wildcard; name the two functions", st.sid, r)
			}
		}
	}
}

// TestCITrustPolicy evaluates the example trust policy against GitHub's OIDC tokens: only a run
// of the repository's main branch, with the audience configure-aws-credentials asks for, through
// the account's GitHub OIDC provider, may assume the role; not a pull request, another branch, a
// tag, another repository (a fork's or one whose name starts the same), nor an environment.
func TestCITrustPolicy(t *testing.T) {
	doc := readJSON(t, filepath.Join(repoRoot(t), "examples", "github-actions", "ci-trust-policy.json"))
	const (
		provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
		main     = "repo:my-org/storage:ref:refs/heads/main"
		aud      = "sts.amazonaws.com"
	)
	tests := []struct {
		name                          string
		principal, action, sub, audie string
		want                          bool
	}{
		{"main of the repository", provider, "sts:AssumeRoleWithWebIdentity", main, aud, true},
		{"another branch", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage:ref:refs/heads/feature", aud, false},
		{"a branch named like main", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage:ref:refs/heads/main-old", aud, false},
		{"a tag", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage:ref:refs/tags/main", aud, false},
		{"a pull request", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage:pull_request", aud, false},
		{"an environment", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage:environment:prod", aud, false},
		{"a fork", provider, "sts:AssumeRoleWithWebIdentity", "repo:someone/storage:ref:refs/heads/main", aud, false},
		{"a repository named like it", provider, "sts:AssumeRoleWithWebIdentity", "repo:my-org/storage-tools:ref:refs/heads/main", aud, false},
		{"another audience", provider, "sts:AssumeRoleWithWebIdentity", main, "https://github.com/my-org", false},
		{"another provider", "arn:aws:iam::123456789012:oidc-provider/gitlab.com", "sts:AssumeRoleWithWebIdentity", main, aud, false},
		{"another account's provider", "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com", "sts:AssumeRoleWithWebIdentity", main, aud, false},
		{"AssumeRole", provider, "sts:AssumeRole", main, aud, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trusts(t, doc, tt.principal, tt.action, map[string]string{
				"token.actions.githubusercontent.com:sub": tt.sub,
				"token.actions.githubusercontent.com:aud": tt.audie,
			})
			if got != tt.want {
				t.Errorf("got allowed=%v, want %v", got, tt.want)
			}
		})
	}
}

// trusts evaluates a trust policy for a federated principal's request: a statement applies when
// its Principal names the provider, its Action the action, and every condition key holds
// (StringEquals exactly, StringLike with IAM's * and ?; a key the request lacks fails, as IAM's
// does); an explicit Deny wins. A condition operator it does not know fails the test.
func trusts(t *testing.T, doc any, principal, action string, keys map[string]string) bool {
	t.Helper()
	ok := false
	for _, st := range statements(doc) {
		var principals, actions []string
		for _, p := range asSlice(asMap(st["Principal"])["Federated"]) {
			principals = append(principals, str(p))
		}
		for _, a := range asSlice(st["Action"]) {
			actions = append(actions, str(a))
		}
		if !slices.Contains(principals, principal) || !slices.Contains(actions, action) {
			continue
		}
		holds := true
		for op, c := range asMap(st["Condition"]) {
			for key, want := range asMap(c) {
				got, present := keys[key]
				var match bool
				for _, w := range asSlice(want) {
					switch op {
					case "StringEquals":
						match = match || (present && got == str(w))
					case "StringLike":
						match = match || (present && iamMatch(str(w), got))
					default:
						t.Fatalf("condition operator %s: the test does not understand it", op)
					}
				}
				holds = holds && match
			}
		}
		if !holds {
			continue
		}
		if st["Effect"] != "Allow" {
			return false
		}
		ok = true
	}
	return ok
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}
