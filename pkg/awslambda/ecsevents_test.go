package awslambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// recordingHandler stands in for the domain's HandleRuntimeEvent: it records the events the
// function hands it and answers outcome (or err).
type recordingHandler struct {
	got     []shiplog.RuntimeEvent
	outcome shiplog.RuntimeOutcome
	err     error
}

func (h *recordingHandler) HandleRuntimeEvent(_ context.Context, ev shiplog.RuntimeEvent) (shiplog.RuntimeOutcome, error) {
	h.got = append(h.got, ev)
	return h.outcome, h.err
}

// sampleAt is the time of the sample events, Unix seconds.
func sampleAt(t *testing.T, rfc3339 string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Unix()
}

func TestECSEvents(t *testing.T) {
	recorded := shiplog.RuntimeOutcome{Environments: []shiplog.EnvironmentOutcome{{ProjectID: "storage", Environment: "prod", DeploymentID: id(3), Status: "verified"}}}
	tests := []struct {
		name    string
		payload []byte
		want    *shiplog.RuntimeEvent // nil: not handed to the domain
		wantOut shiplog.RuntimeOutcome
		wantLog string
	}{
		{
			name:    "deployment completed",
			payload: readFile(t, "ecs-deployment-completed.json"),
			want: &shiplog.RuntimeEvent{ID: "7c3b1f9e-2d4a-4e8b-9a61-5f0c2e8d4b17", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Deployment: "ecs-svc/4710394721049382715", Outcome: shiplog.RolloutCompleted, Reason: "ECS deployment ecs-svc/4710394721049382715 completed.", At: sampleAt(t, "2026-11-20T09:31:40Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name:    "deployment failed",
			payload: readFile(t, "ecs-deployment-failed.json"),
			want: &shiplog.RuntimeEvent{ID: "e41a0c5d-8b2f-4f36-a7d9-03c6b9e1f258", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Deployment: "ecs-svc/4710394721049382715", Outcome: shiplog.RolloutFailed, Reason: "ECS deployment circuit breaker: task failed to start.", At: sampleAt(t, "2026-11-20T09:44:12Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name:    "rollback in progress: the reason says so, for the domain to judge",
			payload: readFile(t, "ecs-deployment-rollback.json"),
			want: &shiplog.RuntimeEvent{ID: "0b9d7e24-6c1a-4d58-b3f0-9e2a5c7d1e83", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Deployment: "ecs-svc/2204850112987423109", Outcome: shiplog.RolloutInProgress, Reason: "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/2204850112987423109.", At: sampleAt(t, "2026-11-20T09:44:13Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name:    "service steady state counts as completed",
			payload: readFile(t, "ecs-service-steady-state.json"),
			want: &shiplog.RuntimeEvent{ID: "5f2e8a13-9c4b-4b7d-8e06-d1a3f7c29b64", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Outcome: shiplog.RolloutCompleted, At: sampleAt(t, "2026-11-20T09:32:10Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name:    "other service actions are ignored",
			payload: readFile(t, "ecs-service-task-placement-failure.json"),
			wantOut: shiplog.RuntimeOutcome{Ignored: "ECS Service Action SERVICE_TASK_PLACEMENT_FAILURE says nothing about a deployment's rollout"},
			wantLog: "ECS event ignored",
		},
		{
			name: "an eventName ECS may add later is ignored",
			payload: event(t, "ecs-deployment-completed.json", func(ev map[string]any) {
				detail(ev)["eventName"] = "SERVICE_DEPLOYMENT_PAUSED"
			}),
			wantOut: shiplog.RuntimeOutcome{Ignored: "ECS Deployment State Change SERVICE_DEPLOYMENT_PAUSED says nothing about a deployment's rollout"},
			wantLog: "ECS event ignored",
		},
		{
			name: "unknown fields are ECS's to add",
			payload: event(t, "ecs-deployment-completed.json", func(ev map[string]any) {
				ev["replay-name"] = "r"
				detail(ev)["serviceRevisionArn"] = "arn:aws:ecs:eu-west-1:760097843905:service-revision/storage-prod/archivist/1"
			}),
			want: &shiplog.RuntimeEvent{ID: "7c3b1f9e-2d4a-4e8b-9a61-5f0c2e8d4b17", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Deployment: "ecs-svc/4710394721049382715", Outcome: shiplog.RolloutCompleted, Reason: "ECS deployment ecs-svc/4710394721049382715 completed.", At: sampleAt(t, "2026-11-20T09:31:40Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name: "an old-format service ARN takes the cluster from a service action's detail",
			payload: event(t, "ecs-service-steady-state.json", func(ev map[string]any) {
				ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:service/archivist"}
			}),
			want: &shiplog.RuntimeEvent{ID: "5f2e8a13-9c4b-4b7d-8e06-d1a3f7c29b64", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
				Outcome: shiplog.RolloutCompleted, At: sampleAt(t, "2026-11-20T09:32:10Z")},
			wantOut: recorded, wantLog: "ECS event recorded",
		},
		{
			name: "an old-format service ARN with no cluster anywhere is ignored",
			payload: event(t, "ecs-deployment-completed.json", func(ev map[string]any) {
				ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:service/archivist"}
			}),
			wantOut: shiplog.RuntimeOutcome{Ignored: "service ARN arn:aws:ecs:eu-west-1:760097843905:service/archivist is in ECS's old format, which names no cluster; opt the account into the long ARN format (serviceLongArnFormat)"},
			wantLog: "ECS event ignored",
		},
		{
			name: "the domain's own ignoring is logged",
			payload: event(t, "ecs-deployment-completed.json", func(ev map[string]any) {
				ev["resources"] = []any{"arn:aws-cn:ecs:cn-north-1:760097843905:service/other/web"}
				ev["region"] = "cn-north-1"
			}),
			want: &shiplog.RuntimeEvent{ID: "7c3b1f9e-2d4a-4e8b-9a61-5f0c2e8d4b17", Account: "760097843905", Region: "cn-north-1", Cluster: "other", Service: "web",
				Deployment: "ecs-svc/4710394721049382715", Outcome: shiplog.RolloutCompleted, Reason: "ECS deployment ecs-svc/4710394721049382715 completed.", At: sampleAt(t, "2026-11-20T09:31:40Z")},
			wantOut: shiplog.RuntimeOutcome{Ignored: "no registered environment runs ECS service other/web"},
			wantLog: "ECS event ignored",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{outcome: recorded}
			if tt.wantOut.Ignored != "" && tt.want != nil {
				h.outcome = tt.wantOut
			}
			e := newEnv(t)
			out, err := awslambda.ECSEvents(h, e.log).Invoke(context.Background(), tt.payload)
			if err != nil {
				t.Fatalf("Invoke: got error %v, want none (an error makes EventBridge retry)", err)
			}
			var wantEvents []shiplog.RuntimeEvent
			if tt.want != nil {
				wantEvents = []shiplog.RuntimeEvent{*tt.want}
			}
			if diff := cmp.Diff(wantEvents, h.got); diff != "" {
				t.Errorf("events handed to the domain (-want +got):\n%s", diff)
			}
			var got shiplog.RuntimeOutcome
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("response is not a runtime outcome: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tt.wantOut, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("log %q does not say %q", e.logs.String(), tt.wantLog)
			}
		})
	}
}

// TestECSEventsInvalid sends events that are not ECS deployment or service events, or are
// broken: each is refused as Invalid with a message naming the field, and reaches no domain code.
func TestECSEventsInvalid(t *testing.T) {
	completed := func(edit func(map[string]any)) []byte { return event(t, "ecs-deployment-completed.json", edit) }
	tests := []struct {
		name    string
		payload []byte
		want    string // in the message
	}{
		{"ECR push", readFile(t, "ecr-push-tagged.json"), `source "aws.ecr" and detail-type "ECR Image Action" are not an ECS deployment or service event`},
		{"ECS task state change", completed(func(ev map[string]any) { ev["detail-type"] = "ECS Task State Change" }), `detail-type "ECS Task State Change"`},
		{"another source", completed(func(ev map[string]any) { ev["source"] = "my.app" }), `source "my.app"`},
		{"API Gateway request", readFile(t, "apigw-v2-iam-post-deploy.json"), "not an ECS deployment or service event"},
		{"empty payload", []byte(""), "event: is empty; want an object"},
		{"null", []byte("null"), "event: got JSON null, want an object"},
		{"array", []byte("[]"), "event: got a JSON array, want an object"},
		{"malformed JSON", []byte(`{"source": "aws.ecs",`), "event: the JSON ends too early"},
		{"trailing }", append(readFile(t, "ecs-deployment-completed.json"), '}'), "event: unexpected data after the JSON value"},
		{"trailing ]", append(readFile(t, "ecs-deployment-completed.json"), ']'), "event: unexpected data after the JSON value"},
		{"time missing", completed(func(ev map[string]any) { delete(ev, "time") }), "event: time is required"},
		{"time not RFC 3339", completed(func(ev map[string]any) { ev["time"] = "2026-11-20 09:31:40" }), "time: is not an RFC 3339 time"},
		{"detail missing", completed(func(ev map[string]any) { delete(ev, "detail") }), "event: detail is required"},
		{"detail a string", completed(func(ev map[string]any) { ev["detail"] = "SERVICE_DEPLOYMENT_COMPLETED" }), "detail: got a JSON string, want an object with eventType, eventName"},
		{"detail null", completed(func(ev map[string]any) { ev["detail"] = nil }), "detail: got JSON null, want an object"},
		{"eventName missing", completed(func(ev map[string]any) { delete(detail(ev), "eventName") }), "detail.eventName: is required"},
		{"eventName a number", completed(func(ev map[string]any) { detail(ev)["eventName"] = 7 }), "detail.eventName: got a JSON number, want a string"},
		{"reason an object", completed(func(ev map[string]any) { detail(ev)["reason"] = map[string]any{} }), "detail.reason: got a JSON object, want a string"},
		{"no resources", completed(func(ev map[string]any) { ev["resources"] = []any{} }), "event: resources: is empty; want the ECS service's ARN"},
		{"resources missing", completed(func(ev map[string]any) { delete(ev, "resources") }), "event: resources: is empty"},
		{"resources a string", completed(func(ev map[string]any) {
			ev["resources"] = "arn:aws:ecs:eu-west-1:760097843905:service/storage-prod/archivist"
		}), "resources: got a JSON string, want an array"},
		{"a cluster ARN, not a service's", completed(func(ev map[string]any) {
			ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:cluster/storage-prod"}
		}), `resources[0]: "arn:aws:ecs:eu-west-1:760097843905:cluster/storage-prod" is not an ECS service ARN`},
		{"a service ARN with a bad name", completed(func(ev map[string]any) {
			ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:service/storage-prod/archi.vist"}
		}), "is not an ECS service ARN"},
		{"a service ARN with a path", completed(func(ev map[string]any) {
			ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:service/a/b/c"}
		}), "is not an ECS service ARN"},
		{"a short account", completed(func(ev map[string]any) {
			ev["resources"] = []any{"arn:aws:ecs:eu-west-1:7600:service/storage-prod/archivist"}
		}), "is not an ECS service ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{}
			e := newEnv(t)
			out, err := awslambda.ECSEvents(h, e.log).Invoke(context.Background(), tt.payload)
			ire := invocationError(t, err)
			if out != nil {
				t.Errorf("got output %s with the error, want none", out)
			}
			if ire.Type != "Invalid" {
				t.Errorf("errorType: got %q, want %q (message %q)", ire.Type, "Invalid", ire.Message)
			}
			if !strings.Contains(ire.Message, tt.want) {
				t.Errorf("errorMessage: got %q, want it to contain %q", ire.Message, tt.want)
			}
			checkNoGoNames(t, ire.Message)
			if len(h.got) != 0 {
				t.Errorf("handed %v to the domain, want nothing", h.got)
			}
		})
	}
}

// TestECSEventsDomainErrors: the domain's errors are the function's, by kind; an internal one is
// shown as "internal error" and logged with its cause.
func TestECSEventsDomainErrors(t *testing.T) {
	for _, tt := range []struct {
		err      error
		wantType string
		wantMsg  string
	}{
		{shiplog.Errorf(shiplog.Unavailable, "ECS is throttling or unavailable; retry later"), "Unavailable", "ECS is throttling or unavailable; retry later"},
		{shiplog.Wrap(shiplog.Internal, errors.New("access denied: ecs:DescribeServices"), "describe services"), "Internal", "internal error"},
	} {
		t.Run(tt.wantType, func(t *testing.T) {
			e := newEnv(t)
			h := &recordingHandler{err: tt.err}
			_, err := awslambda.ECSEvents(h, e.log).Invoke(context.Background(), readFile(t, "ecs-deployment-completed.json"))
			ire := invocationError(t, err)
			if ire.Type != tt.wantType || ire.Message != tt.wantMsg {
				t.Errorf("got %s %q, want %s %q", ire.Type, ire.Message, tt.wantType, tt.wantMsg)
			}
			if tt.wantType == "Internal" && !strings.Contains(e.logs.String(), "access denied: ecs:DescribeServices") {
				t.Errorf("log %q lacks the cause", e.logs.String())
			}
		})
	}
}

// TestECSEventsReachTheService: Functions serves ecs-events on the real Service, which answers
// what its HandleRuntimeEvent answers (until deployment status lands, that it is not handled yet).
func TestECSEventsReachTheService(t *testing.T) {
	e := newEnv(t).registered(t)
	fn, ok := e.functions()[awslambda.ECSEventsName]
	if !ok {
		t.Fatalf("awslambda.Functions has no %s", awslambda.ECSEventsName)
	}
	ev := readFile(t, "ecs-deployment-completed.json")
	out, err := fn.Invoke(context.Background(), ev)
	want, wantErr := e.svc.HandleRuntimeEvent(context.Background(), shiplog.RuntimeEvent{
		ID: "7c3b1f9e-2d4a-4e8b-9a61-5f0c2e8d4b17", Account: "760097843905", Region: "eu-west-1", Cluster: "storage-prod", Service: "archivist",
		Deployment: "ecs-svc/4710394721049382715",
		Outcome:    shiplog.RolloutCompleted, Reason: "ECS deployment ecs-svc/4710394721049382715 completed.", At: sampleAt(t, "2026-11-20T09:31:40Z"),
	})
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Invoke: error %v; the service's own answer: %v", err, wantErr)
	}
	if err != nil {
		if ire := invocationError(t, err); ire.Type != shiplog.KindOf(wantErr).String() {
			t.Errorf("errorType: got %s, want %s", ire.Type, shiplog.KindOf(wantErr))
		}
		return
	}
	var got shiplog.RuntimeOutcome
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcome (-service +function):\n%s", diff)
	}
}

// FuzzECSEvents sends arbitrary payloads to ecs-events over a domain that accepts every event:
// the answer is a runtime outcome, or an Invalid function error whose message is free of Go's
// type names; an accepted payload is refused with a "}" or "]" after it. (FuzzInvoke covers the
// functions on the real domain.)
func FuzzECSEvents(f *testing.F) {
	for _, name := range []string{"ecs-deployment-completed.json", "ecs-deployment-failed.json", "ecs-deployment-rollback.json",
		"ecs-service-steady-state.json", "ecs-service-task-placement-failure.json", "ecr-push-tagged.json"} {
		f.Add(readFileF(f, name))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		fn := awslambda.ECSEvents(&recordingHandler{outcome: shiplog.RuntimeOutcome{Environments: []shiplog.EnvironmentOutcome{{ProjectID: "p", Environment: "e", Status: "verified"}}}}, slog.New(slog.DiscardHandler))
		out, err := fn.Invoke(t.Context(), payload)
		if err == nil {
			var got shiplog.RuntimeOutcome
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("answer %q is not a runtime outcome: %v", out, err)
			}
			for _, tail := range []string{"}", "]"} {
				_, err := fn.Invoke(t.Context(), append(slices.Clip(payload), tail...))
				var ire messages.InvokeResponse_Error
				if !errors.As(err, &ire) || ire.Type != "Invalid" {
					t.Fatalf("%q + %q: got %v, want Invalid (trailing data)", payload, tail, err)
				}
			}
			return
		}
		var ire messages.InvokeResponse_Error
		if !errors.As(err, &ire) || ire.Type != "Invalid" {
			t.Fatalf("%q: got %v, want an Invalid function error", payload, err)
		}
		for _, goism := range []string{"json:", "Go value", "struct", "*shiplog.", "[]uint8", "UnmarshalJSON", "invalid character", "in literal", "looking for beginning", "events."} {
			if strings.Contains(ire.Message, goism) {
				t.Fatalf("%q: message %q shows Go's internals (%q)", payload, ire.Message, goism)
			}
		}
	})
}

func readFileF(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// bugfarmOnECS registers bugfarm, whose prod runs its hatching service as ECS service hatching
// of cluster bugfarm-prod in the stack's home, on a Service with no Runtime (as the local stack
// is), deploys a release there, and answers the deployment and ecs-events over that Service.
func bugfarmOnECS(t *testing.T) (*testEnv, shiplog.Deployment, awslambda.Function) {
	t.Helper()
	ctx := t.Context()
	e := newEnv(t)
	e.svc.Home = shiplog.Location{Account: "760097843905", Region: "eu-west-1"}
	p, err := manifest.ParseProject("bugfarm", []byte(`{"name": "Bug farm", "environments": [{"id": "prod", "name": "Production",
		"ecs": {"cluster": "bugfarm-prod"}}], "image_repositories": [{"id": "bugfarm/hatching"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	img := "760097843905.dkr.ecr.eu-west-1.amazonaws.com/bugfarm/hatching@sha256:" + strings.Repeat("a", 64)
	if err := e.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("bugfarm", "latest", "hatching"): img}); err != nil {
		t.Fatal(err)
	}
	rel, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "bugfarm"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "bugfarm", ReleaseID: rel.ID, Environment: "prod"})
	if err != nil || res.Deployment.Status != shiplog.StatusApplied {
		t.Fatalf("deploy: got %+v, %v, want it applied", res.Deployment, err)
	}
	return e, res.Deployment, e.functions()[awslambda.ECSEventsName]
}

// TestECSEventsForgedOrStale sends the reproduction and other events that must change
// nothing to ecs-events over the real Service, with no ECS access, as the local stack has it.
func TestECSEventsForgedOrStale(t *testing.T) {
	hatching := func(account, region, at, eventName string) []byte {
		return event(t, "ecs-deployment-failed.json", func(ev map[string]any) {
			ev["account"], ev["region"], ev["time"] = account, region, at
			ev["resources"] = []any{"arn:aws:ecs:" + region + ":" + account + ":service/bugfarm-prod/hatching"}
			detail(ev)["eventName"] = eventName
		})
	}
	after := now.Add(time.Minute).Format(time.RFC3339)
	tests := []struct {
		name     string
		payload  []byte
		wantErr  string // the function error's type; "" for an answer
		wantWhy  string // in the answer's, and the log's, reason
		wantLogs string
	}{
		{
			name:    "the issue's reproduction: account 999999999999, us-east-1, 2001-01-01",
			payload: hatching("999999999999", "us-east-1", "2001-01-01T00:00:00Z", "SERVICE_DEPLOYMENT_FAILED"),
			wantWhy: "in account 999999999999, region us-east-1; the environment's cluster bugfarm-prod is in account 760097843905, region eu-west-1",
		},
		{
			name:    "a real-looking event dated before the deployment",
			payload: hatching("760097843905", "eu-west-1", "2026-11-20T09:44:12Z", "SERVICE_DEPLOYMENT_FAILED"),
			wantWhy: "before deployment",
		},
		{
			name: "an envelope that disagrees with the service ARN",
			payload: event(t, "ecs-deployment-failed.json", func(ev map[string]any) {
				ev["account"], ev["time"] = "999999999999", after
				ev["resources"] = []any{"arn:aws:ecs:eu-west-1:760097843905:service/bugfarm-prod/hatching"}
			}),
			wantWhy: "the event says it is from account 999999999999",
		},
		{
			name:    "a genuine failure needs ECS to read the deployment it names",
			payload: hatching("760097843905", "eu-west-1", after, "SERVICE_DEPLOYMENT_FAILED"),
			wantErr: "Unavailable",
		},
		{
			name:    "a genuine completion needs ECS to read what runs (it panicked on a nil client)",
			payload: hatching("760097843905", "eu-west-1", after, "SERVICE_DEPLOYMENT_COMPLETED"),
			wantErr: "Unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, d, fn := bugfarmOnECS(t)
			out, err := fn.Invoke(t.Context(), tt.payload)
			if tt.wantErr != "" {
				if ire := invocationError(t, err); ire.Type != tt.wantErr || !strings.Contains(ire.Message, "no access to ECS") {
					t.Errorf("got %s %q, want %s saying there is no access to ECS", ire.Type, ire.Message, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				var got shiplog.RuntimeOutcome
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatal(err)
				}
				why := got.Ignored
				for _, o := range got.Environments {
					why += o.Ignored
				}
				if !strings.Contains(why, tt.wantWhy) {
					t.Errorf("answer %s: want it to say %q", out, tt.wantWhy)
				}
				if logs := e.logs.String(); !strings.Contains(logs, "ECS event ignored") || !strings.Contains(logs, tt.wantWhy) {
					t.Errorf("log %s: want the event ignored, saying %q", logs, tt.wantWhy)
				}
			}
			got, err := e.svc.Deployment(t.Context(), "bugfarm", d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != shiplog.StatusApplied || len(got.StatusHistory) != len(d.StatusHistory) {
				t.Errorf("deployment after the event: got %s (%d statuses), want applied (%d)", got.Status, len(got.StatusHistory), len(d.StatusHistory))
			}
		})
	}
}

// TestECSEventsTwoProjectsLogged: both environments that claim the service are in the answer
// and each has its own line in the log.
func TestECSEventsTwoProjectsLogged(t *testing.T) {
	h := &recordingHandler{outcome: shiplog.RuntimeOutcome{Environments: []shiplog.EnvironmentOutcome{
		{ProjectID: "storage", Environment: "prod", DeploymentID: id(3), Status: "failed"},
		{ProjectID: "twin", Environment: "prod", DeploymentID: id(4), Status: "applied", Ignored: "ECS deployment ecs-svc/1 does not run deployment " + id(4) + "'s images"},
	}}}
	e := newEnv(t)
	if _, err := awslambda.ECSEvents(h, e.log).Invoke(t.Context(), readFile(t, "ecs-deployment-failed.json")); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["event_id"] != nil {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 || lines[0]["project_id"] != "storage" || lines[0]["msg"] != "ECS event recorded" ||
		lines[1]["project_id"] != "twin" || lines[1]["msg"] != "ECS event ignored" || lines[1]["reason"] == nil {
		t.Errorf("log: got %v, want storage's recorded and twin's ignored with the reason", lines)
	}
}
