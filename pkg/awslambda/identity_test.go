package awslambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestInvokeRefusesIdentitiesItCannotProve sends, in every payload of the invoke channel that
// names a requester, the identities shiplog and AWS use for themselves: a direct invocation
// asserts requested_by, so one naming itself "ecs" or an IAM role would be recorded as ECS's
// own verdict or as an authenticated caller. Each is refused and writes nothing.
func TestInvokeRefusesIdentitiesItCannotProve(t *testing.T) {
	impostors := []struct {
		name, requester, want string
	}{
		{"shiplog's own id", `{"id": "shiplog"}`, `requested_by.id: "shiplog" is`},
		{"ECS's id", `{"id": "ecs", "name": "Amazon ECS"}`, `requested_by.id: "ecs" is`},
		{"ECR's id", `{"id": "ecr"}`, `requested_by.id: "ecr" is`},
		{"ECS's id in capitals", `{"id": "ECS"}`, `requested_by.id: "ECS" is`},
		{"ECS's name", `{"id": "ci", "name": "Amazon ECS"}`, `requested_by.name: "Amazon ECS" is`},
		{"shiplog's name", `{"id": "ci", "name": "shiplog"}`, `requested_by.name: "shiplog" is`},
		{"an IAM role ARN", `{"id": "arn:aws:iam::123456789012:role/ci"}`, "requested_by.id: \"arn:aws:iam::123456789012:role/ci\" is shaped like an ARN"},
		{"an assumed-role ARN", `{"id": "arn:aws:sts::123456789012:assumed-role/Deployer/alice", "name": "alice"}`, "is shaped like an ARN"},
		{"a GovCloud user ARN", `{"id": "arn:aws-us-gov:iam::123456789012:user/bob"}`, "is shaped like an ARN"},
		{"an ARN as the name", `{"id": "ci", "name": "arn:aws:iam::123456789012:root"}`, "requested_by.name: "},
		{"a service principal", `{"id": "ecs.amazonaws.com"}`, `requested_by.id: "ecs.amazonaws.com" is shaped like an AWS service principal`},
		{"a China service principal", `{"id": "lambda.amazonaws.com.cn"}`, "service principal"},
		{"a service principal in capitals", `{"id": "ECS-TASKS.AMAZONAWS.COM"}`, "service principal"},
	}
	payloads := []struct {
		name, fn, payload string
	}{
		{"create-release", awslambda.CreateReleaseName, `{"project_id": "storage", "requested_by": %s}`},
		{"create-release with a manifest", awslambda.CreateReleaseName, `{"project_id": "storage", "requested_by": %s, "manifest": ` + storageOnly + `}`},
		{"deploy", awslambda.DeployName, `{"project_id": "storage", "release_id": "latest", "environment": "prod", "requested_by": %s}`},
		{"deploy dry run", awslambda.DeployName, `{"project_id": "storage", "release_id": "latest", "environment": "prod", "dry_run": true, "requested_by": %s}`},
		{"promote", awslambda.DeployName, `{"project_id": "storage", "from_environment": "stage", "environment": "prod", "requested_by": %s}`},
		{"break glass", awslambda.DeployName, `{"project_id": "storage", "release_id": "latest", "environment": "prod", "override_reason": "hotfix", "requested_by": %s}`},
		{"rollback", awslambda.DeployName, `{"project_id": "storage", "environment": "stage", "rollback": true, "reason": "broken", "requested_by": %s}`},
		{"report failed", awslambda.DeployName, `{"project_id": "storage", "requested_by": %s, "report": {"deployment_id": "{deployment}", "status": "failed", "detail": "tasks stopped"}}`},
		{"report verified", awslambda.DeployName, `{"project_id": "storage", "requested_by": %s, "report": {"deployment_id": "{deployment}", "status": "verified"}}`},
	}
	ctx := context.Background()
	e := newEnv(t).registered(t).withImages(t)
	var last shiplog.DeployResult
	for i := range 2 {
		if _, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", Description: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		var err error
		if last, err = e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage"}); err != nil {
			t.Fatal(err)
		}
	}
	fns := e.functions()
	for _, p := range payloads {
		for _, who := range impostors {
			t.Run(p.name+"/"+who.name, func(t *testing.T) {
				payload := strings.ReplaceAll(fmt.Sprintf(p.payload, who.requester), "{deployment}", last.Deployment.ID)
				before := e.snapshot(t)
				out, err := fns[p.fn].Invoke(ctx, []byte(payload))
				checkRefused(t, out, err, badInput{want: who.want, wantType: "Invalid"})
				e.unchanged(t, before)
			})
		}
	}
}

// TestInvokeRecordsAnAssertedIdentityAsSuch checks that what the invoke channel still accepts is
// recorded as asserted via invoke, on the record and on its event.
func TestInvokeRecordsAnAssertedIdentityAsSuch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t).registered(t).withImages(t)
	fns := e.functions()
	out, err := fns[awslambda.CreateReleaseName].Invoke(ctx, []byte(`{"project_id": "storage", "requested_by": {"id": "ci", "name": "GitHub Actions"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var rel shiplog.Release
	if err := json.Unmarshal(out, &rel); err != nil {
		t.Fatal(err)
	}
	want := shiplog.Person{ID: "ci", Name: "GitHub Actions", Via: shiplog.ViaInvoke}
	if rel.RequestedBy != want {
		t.Errorf("requested_by: got %+v, want %+v", rel.RequestedBy, want)
	}
	evs, err := e.svc.Events(ctx, "storage", shiplog.EventFilter{Type: shiplog.EventReleaseCreated}, shiplog.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 1 || evs.Items[0].By != want {
		t.Errorf("release.created events: got %+v, want one by %+v", evs.Items, want)
	}
}
