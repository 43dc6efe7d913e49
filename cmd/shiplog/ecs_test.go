package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestLocalECSEvents: the reproduction on the local stack, through the aws CLI. An ECS
// event from account 999999999999, region us-east-1, dated 2001-01-01, about
// service/bugfarm-prod/hatching leaves prod's deployment applied and says why; one that passes
// the rules (the local stack's own account and region, dated now) needs ECS, which the local
// stack has not: Unavailable, where it used to panic and drop the connection.
func TestLocalECSEvents(t *testing.T) {
	t.Parallel() // its own data file, port and process
	s := startStack(t, t.TempDir()+"/shiplog.db")
	entry := `{"name": "Bug farm", "environments": [{"id": "prod", "name": "Production", "ecs": {"cluster": "bugfarm-prod"}}],
		"image_repositories": [{"id": "bugfarm/hatching"}]}`
	if code := s.call("PUT", "/projects/bugfarm", "alice", []byte(entry), nil); code != 201 {
		t.Fatalf("PUT /projects/bugfarm: status %d, want 201", code)
	}
	if cli, out := s.invoke("ecr-push", pushEvent(t, "bugfarm/hatching", digest(1), time.Now().UTC().Format(time.RFC3339))); cli["FunctionError"] != nil {
		t.Fatalf("ecr-push: %v", out)
	}
	if cli, out := s.invoke("create-release", []byte(`{"project_id":"bugfarm"}`)); cli["FunctionError"] != nil {
		t.Fatalf("create-release: %v", out)
	}
	cli, out := s.invoke("deploy", []byte(`{"project_id":"bugfarm","release_id":"latest","environment":"prod"}`))
	if cli["FunctionError"] != nil {
		t.Fatalf("deploy: %v", out)
	}
	id := out["deployment"].(map[string]any)["deployment_id"].(string)
	status := func() string {
		t.Helper()
		var d shiplog.DeploymentRecord
		if code := s.call("GET", "/projects/bugfarm/deployments/"+id, "alice", nil, &d); code != 200 {
			t.Fatalf("GET deployment: status %d", code)
		}
		return d.Status
	}
	ecsEvent := func(account, region, at, name string) []byte {
		return []byte(fmt.Sprintf(`{"version": "0", "id": "e41a0c5d-8b2f-4f36-a7d9-03c6b9e1f258", "detail-type": "ECS Deployment State Change",
			"source": "aws.ecs", "account": %q, "time": %q, "region": %q,
			"resources": ["arn:aws:ecs:%s:%s:service/bugfarm-prod/hatching"],
			"detail": {"eventType": "ERROR", "eventName": %q, "deploymentId": "ecs-svc/4710394721049382715", "reason": "forged"}}`,
			account, at, region, region, account, name))
	}

	cli, out = s.invoke("ecs-events", ecsEvent("999999999999", "us-east-1", "2001-01-01T00:00:00Z", "SERVICE_DEPLOYMENT_FAILED"))
	b, _ := json.Marshal(out)
	if cli["FunctionError"] != nil || !strings.Contains(string(b), "account 999999999999, region us-east-1") {
		t.Errorf("the reproduction: got %s (cli %v), want it ignored, naming the account and region", b, cli)
	}
	if got := status(); got != shiplog.StatusApplied {
		t.Errorf("prod after the reproduction: got %s, want applied", got)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, name := range []string{"SERVICE_DEPLOYMENT_FAILED", "SERVICE_DEPLOYMENT_COMPLETED"} {
		cli, out = s.invoke("ecs-events", ecsEvent(localHome.Account, localHome.Region, now, name))
		if cli["FunctionError"] != "Unhandled" || out["errorType"] != "Unavailable" || !strings.Contains(fmt.Sprint(out["errorMessage"]), "no access to ECS") {
			t.Errorf("%s from the local stack's own account: got %v (cli %v), want Unavailable: no access to ECS", name, out, cli)
		}
	}
	if got := status(); got != shiplog.StatusApplied {
		t.Errorf("prod after the events: got %s, want applied", got)
	}
}
