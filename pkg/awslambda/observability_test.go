package awslambda_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/emf"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// jsonLines decodes every line of out, failing the test on one that is not a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not a JSON object: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// emfLines checks that every line of out is an EMF line (emf.Validate) and answers each as the
// metric it carries: its name, its dimension sets, and its members.
type emfLine struct {
	Metric     string
	Dimensions [][]string
	Values     map[string]any
}

func emfLines(t *testing.T, out string) []emfLine {
	t.Helper()
	var got []emfLine
	for _, m := range jsonLines(t, out) {
		b, _ := json.Marshal(m)
		if err := emf.Validate(b); err != nil {
			t.Errorf("line %s: %v", b, err)
			continue
		}
		var meta struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		}
		raw, _ := json.Marshal(m["_aws"])
		_ = json.Unmarshal(raw, &meta)
		d := meta.CloudWatchMetrics[0]
		if d.Namespace != emf.Namespace {
			t.Errorf("line %s: namespace %q, want %q", b, d.Namespace, emf.Namespace)
		}
		delete(m, "_aws")
		got = append(got, emfLine{Metric: d.Metrics[0].Name, Dimensions: d.Dimensions, Values: m})
	}
	return got
}

// TestDeployLogsCarryTheRequest: every line a deploy through the deploy function writes, refused
// or done, names Lambda's request id, the project, the environment, and the deployment once
// there is one; a refusal writes the refusing gate's metric.
func TestDeployLogsCarryTheRequest(t *testing.T) {
	e := newEnv(t).withImages(t)
	logs, metrics := &syncBuffer{}, &syncBuffer{}
	log := awslambda.NewLoggerTo(logs)
	e.svc.Log = log
	e.svc.Observer = awslambda.NewMetricsOn(emf.NewAt(metrics, func() time.Time { return now }), log)
	fns := awslambda.Functions(e.svc, log, awslambda.AllowAll())
	invoke := func(requestID, fn, payload string) ([]byte, error) {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
		return fns[fn].Invoke(ctx, []byte(payload))
	}
	if _, err := invoke("req-release", awslambda.CreateReleaseName, `{"project_id": "storage", "manifest": `+manifestObject(t)+`}`); err != nil {
		t.Fatalf("create-release: %v", err)
	}
	out, err := invoke("req-deploy", awslambda.DeployName, `{"project_id": "storage", "release_id": "latest", "environment": "stage"}`)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	var res shiplog.DeployResult
	if err := json.Unmarshal(out, &res); err != nil || res.Deployment.ID == "" {
		t.Fatalf("deploy answered %s (%v)", out, err)
	}
	if _, err := e.svc.Lock(context.Background(), shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "incident"}); err != nil {
		t.Fatal(err)
	}
	if _, err := invoke("req-refused", awslambda.DeployName, `{"project_id": "storage", "release_id": "latest", "environment": "stage"}`); err == nil {
		t.Fatal("a deploy to a locked environment was not refused")
	}

	want := map[string]map[string]any{
		"req-release": {"project": "storage"},
		"req-deploy":  {"project": "storage", "environment": "stage", "deployment": res.Deployment.ID},
		"req-refused": {"project": "storage", "environment": "stage"},
	}
	seen := map[string][]string{}
	for _, l := range jsonLines(t, logs.String()) {
		id, _ := l["requestId"].(string)
		w, ok := want[id]
		if !ok {
			t.Errorf("line without a known requestId: %v", l)
			continue
		}
		seen[id] = append(seen[id], l["message"].(string))
		for k, v := range w {
			if l[k] != v {
				t.Errorf("request %s, line %q: %s is %v, want %v", id, l["message"], k, l[k], v)
			}
		}
		if _, ok := w["deployment"]; !ok && l["deployment"] != nil {
			t.Errorf("request %s, line %q: names deployment %v, yet made none", id, l["message"], l["deployment"])
		}
	}
	if diff := cmp.Diff(map[string][]string{
		"req-release": {"invocation done"},
		"req-deploy":  {"invocation done"},
		"req-refused": {"invocation refused"},
	}, seen); diff != "" {
		t.Errorf("lines by request (-want +got):\n%s", diff)
	}

	got := emfLines(t, metrics.String())
	wantMetrics := []emfLine{
		{awslambda.MetricDeploymentsRefused, [][]string{{"Project", "Environment", "Gate"}},
			map[string]any{"Project": "storage", "Environment": "stage", "Gate": "lock", "Kind": "deploy", "DeploymentsRefused": 1.0, "requestId": "req-refused"}},
		{awslambda.MetricDeploymentOutcomes, [][]string{{"Project", "Environment", "Outcome"}},
			map[string]any{"Project": "storage", "Environment": "stage", "Outcome": "refused", "DeploymentOutcomes": 1.0, "requestId": "req-refused"}},
	}
	if diff := cmp.Diff(wantMetrics, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// TestAPILogsCarryTheRequest: a line the api function writes for a request names API Gateway's
// request id, Lambda's, and what the path names.
func TestAPILogsCarryTheRequest(t *testing.T) {
	e := newEnv(t).registered(t)
	logs := &syncBuffer{}
	log := awslambda.NewLoggerTo(logs)
	e.svc.Log = log
	// A store failure is an internal error, which the handler logs.
	h := awslambda.HTTPAPI(httpapi.NewHandler(e.svc, log))
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "lambda-1"})
	resp, err := h(ctx, events.APIGatewayV2HTTPRequest{
		RawPath: "/projects/storage/environments/prod/deployments/01JTEST0000000000000000001/verify",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "apigw-1", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::123456789012:user/alice"}},
		},
	})
	if err != nil || resp.StatusCode < 500 {
		t.Fatalf("got %d %s (%v), want a server error from the closed store", resp.StatusCode, resp.Body, err)
	}
	lines := jsonLines(t, logs.String())
	if len(lines) == 0 {
		t.Fatal("the failed request logged nothing")
	}
	for _, l := range lines {
		for k, v := range map[string]string{"requestId": "lambda-1", "apiRequestId": "apigw-1", "project": "storage",
			"environment": "prod", "deployment": "01JTEST0000000000000000001"} {
			if l[k] != v {
				t.Errorf("line %q: %s is %v, want %s", l["message"], k, l[k], v)
			}
		}
	}
}

// TestEventsWriteDeploymentMetrics: the events function writes, for each deployment event it
// publishes, the metrics of docs/operating.md, and none for other events or unpublished ones.
func TestEventsWriteDeploymentMetrics(t *testing.T) {
	created := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	dep := ulid.MustNew(ulid.Timestamp(created), strings.NewReader(strings.Repeat("x", 16))).String()
	evs := map[string]shiplog.Event{
		"1": {ID: "e1", Type: shiplog.EventDeploymentRequested, ProjectID: "storage", Environment: "prod", DeploymentID: dep, Detail: map[string]string{"kind": "rollback"}},
		"2": {ID: "e2", Type: shiplog.EventDeploymentApplied, ProjectID: "storage", Environment: "prod", DeploymentID: dep},
		"3": {ID: "e3", Type: shiplog.EventDeploymentVerified, ProjectID: "storage", Environment: "prod", DeploymentID: dep, At: created.Unix() + 90},
		"4": {ID: "e4", Type: shiplog.EventDeploymentFailed, ProjectID: "storage", Environment: "prod", DeploymentID: dep},
		"5": {ID: "e5", Type: shiplog.EventImageRecorded, ProjectID: "storage", Service: "archivist"},
		"6": {ID: "e6", Type: shiplog.EventDeploymentFailed, ProjectID: "storage", Environment: "stage", DeploymentID: "unpublished"},
	}
	decode := func(r events.DynamoDBEventRecord) (shiplog.Event, bool, error) {
		ev, ok := evs[r.Change.SequenceNumber]
		return ev, ok, nil
	}
	var in events.DynamoDBEvent
	for _, seq := range []string{"1", "2", "3", "4", "5", "6"} {
		in.Records = append(in.Records, events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: seq}})
	}
	metrics := &syncBuffer{}
	log := awslambda.NewLoggerTo(&syncBuffer{})
	fn := awslambda.EventsWithMetrics(failing{"unpublished"}, decode, log, awslambda.NewMetricsOn(emf.NewAt(metrics, time.Now), log))
	out, err := fn(context.Background(), in)
	if err != nil || len(out.BatchItemFailures) != 1 {
		t.Fatalf("got %+v, %v; want the unpublished event's record failed", out, err)
	}
	pe := [][]string{{"Project", "Environment"}}
	v := func(kv ...any) map[string]any {
		m := map[string]any{"Project": "storage", "Environment": "prod", "DeploymentId": dep}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	outcome := func(o string) emfLine {
		return emfLine{awslambda.MetricDeploymentOutcomes, [][]string{{"Project", "Environment", "Outcome"}}, v("Outcome", o, "DeploymentOutcomes", 1.0)}
	}
	want := []emfLine{
		{awslambda.MetricDeployments, [][]string{{"Project", "Environment"}, {"Project", "Environment", "Kind"}}, v("Kind", "rollback", "Deployments", 1.0)},
		outcome("applied"),
		{awslambda.MetricVerificationLatency, pe, v("VerificationLatency", 90.0)},
		outcome("verified"),
		{awslambda.MetricDeploymentsFailed, [][]string{{"Project", "Environment"}, {"Environment"}}, v("DeploymentsFailed", 1.0)},
		outcome("failed"),
	}
	if diff := cmp.Diff(want, emfLines(t, metrics.String())); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// TestLeadTimeMetric: a recorded deployment writes one LeadTime per image it runs first.
func TestLeadTimeMetric(t *testing.T) {
	metrics := &syncBuffer{}
	m := awslambda.NewMetricsOn(emf.NewAt(metrics, time.Now), nil)
	m.DeploymentRecorded(context.Background(), "storage", shiplog.Deployment{
		ID: "d1", CreatedAt: 5000, Environment: shiplog.Environment{ID: "prod"},
		Leads: &shiplog.Leads{Images: []shiplog.ImageLead{{URI: "a", PushedAt: 1400}, {URI: "b", PushedAt: 5060}}},
	})
	m.DeploymentRecorded(context.Background(), "storage", shiplog.Deployment{ID: "d2", CreatedAt: 5000, Environment: shiplog.Environment{ID: "prod"}})
	pe := [][]string{{"Project", "Environment"}}
	want := []emfLine{
		{awslambda.MetricLeadTime, pe, map[string]any{"Project": "storage", "Environment": "prod", "DeploymentId": "d1", "Image": "a", "LeadTime": 3600.0}},
		// Pushed after the deployment by the clocks' skew: 0, as the DORA figures count it.
		{awslambda.MetricLeadTime, pe, map[string]any{"Project": "storage", "Environment": "prod", "DeploymentId": "d1", "Image": "b", "LeadTime": 0.0}},
	}
	if diff := cmp.Diff(want, emfLines(t, metrics.String())); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// failing publishes every event but those of the named deployment.
type failing struct{ deployment string }

func (f failing) Publish(_ context.Context, evs []shiplog.Event) []error {
	errs := make([]error, len(evs))
	for i, ev := range evs {
		if ev.DeploymentID == f.deployment {
			errs[i] = context.DeadlineExceeded
		}
	}
	return errs
}

// TestOperatingDocListsEveryMetric: docs/operating.md's metrics table has a row for each metric.
func TestOperatingDocListsEveryMetric(t *testing.T) {
	doc := string(readFile(t, "../../../docs/operating.md"))
	for _, m := range []string{awslambda.MetricDeployments, awslambda.MetricDeploymentOutcomes, awslambda.MetricDeploymentsFailed,
		awslambda.MetricDeploymentsRefused, awslambda.MetricVerificationLatency, awslambda.MetricLeadTime} {
		if !strings.Contains(doc, "\n| `"+m+"` |") {
			t.Errorf("docs/operating.md has no row for the metric %s", m)
		}
	}
}
