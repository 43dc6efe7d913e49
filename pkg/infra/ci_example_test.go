package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestCIExample holds the GitHub Actions example to what the README says of it: an OIDC role, a
// job whose two invocations carry the commit as their idempotency key and fail on FunctionError,
// and a role policy of lambda:InvokeFunction on the two functions, nothing more.
func TestCIExample(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "github-actions")
	raw, err := os.ReadFile(filepath.Join(dir, "release-and-deploy.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Permissions map[string]string
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
	if invokes != 2 || checked != invokes {
		t.Errorf("workflow: %d aws lambda invoke, %d FunctionError checks; want create-release and deploy, each checked", invokes, checked)
	}
	if keyed != invokes {
		t.Errorf("workflow: %d of %d invocations carry an idempotency_key from the commit; want each", keyed, invokes)
	}

	data, err := os.ReadFile(filepath.Join(dir, "ci-role-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Effect   string
			Action   string
			Resource any
		}
	}
	if err := json.Unmarshal(data, &policy); err != nil {
		t.Fatalf("ci-role-policy.json: %v", err)
	}
	for _, st := range policy.Statement {
		var resources []string
		for _, r := range asSlice(st.Resource) {
			resources = append(resources, str(r))
		}
		switch st.Action {
		case "lambda:InvokeFunction":
			if len(resources) != 2 || !strings.Contains(resources[0], ":function:shiplog-CreateReleaseFunction-") || !strings.Contains(resources[1], ":function:shiplog-DeployFunction-") {
				t.Errorf("lambda:InvokeFunction on %v: want the create-release and deploy functions only", resources)
			}
		default:
			t.Errorf("ci-role-policy.json grants %s; want only lambda:InvokeFunction (the workflow reads nothing from the API)", st.Action)
		}
		if st.Effect != "Allow" {
			t.Errorf("statement %v is not Allow", st)
		}
	}
}
