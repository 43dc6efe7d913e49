package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// The zero-touch project: archivist alone, stage deployed by itself with each new release, prod
// by itself once a release soaked 2 seconds verified in stage, two of alice, bob and carol
// approved it (not its requester), inside a window (every day, all day, in London: the gate is
// evaluated and passes), and while its CloudWatch alarm is not in ALARM; prod's alarm entering
// ALARM within its 5-minute bake fails its deployment, which shiplog then rolls back by itself.
// Each environment names its ECS cluster on moto, so that ECS's events verify its deployments.
const (
	ztProject = "zerotouch"
	ztStage   = "zt-stage"
	ztProd    = "zt-prod"
	ztService = "archivist"
	ztAlarm   = "zt-prod-5xx"
	ztSoak    = 2 * time.Second
)

// The API callers, as API Gateway's IAM authorizer names them (the fixture's account).
const (
	aliceARN = "arn:aws:iam::123456789012:user/alice"
	bobARN   = "arn:aws:iam::123456789012:user/bob"
	carolARN = "arn:aws:iam::123456789012:user/carol"
)

var ztManifest = fmt.Sprintf(`{%q: {
	"name": "Zero touch",
	"environments": [
		{"id": "stage", "name": "Staging", "ecs": {"cluster": %q}, "auto_promote": true},
		{"id": "prod", "name": "Production", "ecs": {"cluster": %q},
		 "requires": [{"environment": "stage", "soak": "2s"}],
		 "approvals": {"required": 2, "from": [%q, %q, %q]},
		 "windows": [{"days": "Mon-Sun", "start": "00:00", "end": "24:00", "tz": "Europe/London"}],
		 "alarms": [%q], "bake": "5m",
		 "auto_promote": true, "auto_rollback": true}
	],
	"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": [%q]}]
}}`, ztProject, ztStage, ztProd, aliceARN, bobARN, carolARN, ztAlarm, ztService)

// archivistV3 is a third build of archivist, which only this test puts in ECR.
const archivistV3 = "archivist v3"

// zeroTouch is the state TestZeroTouch's steps share.
type zeroTouch struct {
	s    *stack
	ecs  *ecs.Client
	ssm  *ssm.Client
	cw   *cloudwatch.Client
	push time.Time // the next push's time: each push is a minute after the one before
	// beforePromotion, if set, is called in deliver once a release is approved, with what prod
	// waits for then.
	beforePromotion func(t *testing.T, p *shiplog.AutoPromotion)
}

// TestZeroTouch runs zero-touch delivery through the real bootstraps on moto, on the real clock:
// a push and a release by alice reach stage by themselves; ECS's event verifies stage; the
// release soaks; alice's own approval is refused, bob's and carol's count; inside prod's window
// the tick promotes it to prod, whose SSM parameter then holds its image; prod fails; shiplog
// prod's CloudWatch alarm enters ALARM (SetAlarmState on moto, its EventBridge event through
// ecs-events) within prod's bake, which fails prod's deployment; shiplog rolls prod back to the
// release it ran before, with a hold naming the alarm; the rolled-back release is not promoted
// again, even with the hold lifted, and a newer release is, once the alarm is OK again.
func TestZeroTouch(t *testing.T) {
	st.seed(t)
	ctx := t.Context()
	st.startExtra(t, "ecs-events", "SHIPLOG_ACCOUNT_ID="+st.account)
	cfg := st.moto.Config(ctx)
	z := &zeroTouch{s: st, ecs: ecs.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg),
		push: time.Now().Add(-time.Hour).Truncate(time.Second)}
	z.putImage(t, ecr.NewFromConfig(cfg), archivistV3, "ref.0c3d5e7f9a1b")
	z.ecsServices(t)
	z.alarm(t)

	// Registered through create-release, as CI does on its first run: refused (no build yet),
	// the project registered.
	fe := st.invokeFails(t, "create-release", fmt.Appendf(nil, `{"project_id":%q,"manifest":%s,"requested_by":{"id":"ci","name":"Buildkite"}}`, ztProject, ztManifest))
	if fe.Type != "Conflict" {
		t.Fatalf("registering create-release: %s %q, want Conflict (no image yet)", fe.Type, fe.Message)
	}

	// A tick with nothing built does nothing: its automation looks at the project and acts not.
	out := z.tick(t)
	if i := slices.IndexFunc(out, func(o shiplog.TickOutcome) bool { return o.Work == "automation" }); i < 0 || out[i] != (shiplog.TickOutcome{Work: "automation", Projects: 1}) {
		t.Fatalf("tick before any build: %+v, want automation looking at the project with no action", out)
	}
	for _, o := range out {
		if o.Actions != 0 {
			t.Fatalf("tick before any build: %+v, want no action", out)
		}
	}

	// Build 1 reaches prod; it is the release prod rolls back to later.
	r1 := z.deliver(t, archivistV1, true)
	z.verifyByECS(t, "prod", ztProd)

	// Build 2 reaches prod, and its alarm fires within the bake.
	r2 := z.deliver(t, archivistV2, false)
	failed := z.state(t, "prod").DeploymentID
	z.alarmFires(t, failed)

	// prod rolled back to r1 by shiplog, held with the failure as reason: on the next tick
	// (ecs-events, which recorded the failure, writes no parameters).
	z.tick(t)
	prod := z.environments(t)["prod"]
	back := prod.Current
	if back == nil || back.DeploymentID == failed || back.ReleaseID != r1 {
		t.Fatalf("prod after its failure and a tick: %s, want a rollback to %s", summary(prod), r1)
	}
	if back.RequestedBy.ID != "shiplog" || prod.Lock == nil || prod.Lock.Rollback != back.DeploymentID ||
		!strings.Contains(prod.Lock.Reason, failed) || !strings.Contains(prod.Lock.Reason, ztAlarm) || !strings.Contains(prod.Lock.Reason, alarmReason) {
		t.Fatalf("prod after the failure: %+v held by %+v; want a rollback by shiplog held with a reason naming %s, alarm %s and its reason", back, prod.Lock, failed, ztAlarm)
	}
	d := z.deployment(t, back.DeploymentID)
	if d.Kind != shiplog.KindRollback || d.Reverts != failed {
		t.Errorf("the automatic deployment %s: kind %q reverting %q, want a rollback of %s", d.ID, d.Kind, d.Reverts, failed)
	}
	z.parameterIs(t, "prod", st.images[archivistV1].uri)

	// Held: the tick deploys nothing to prod. Unheld (alice lifts the hold): r2 was rolled back
	// there, so it is still not promoted.
	z.tick(t)
	if c := z.state(t, "prod"); c.DeploymentID != back.DeploymentID {
		t.Fatalf("the tick deployed %s (release %s) to a held prod", c.DeploymentID, c.ReleaseID)
	}
	if res := z.api(t, aliceARN, "DELETE", "/projects/"+ztProject+"/environments/prod/lock", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE lock: %d %s", res.StatusCode, res.Body)
	}
	z.tick(t)
	envs := z.environments(t)
	if c := envs["prod"].Current; c.DeploymentID != back.DeploymentID {
		t.Fatalf("prod was deployed again (%s of release %s) after the hold was lifted; %s was rolled back there", c.DeploymentID, c.ReleaseID, r2)
	}
	if p := envs["prod"].Pending; p == nil || p.ReleaseID != r2 || !strings.Contains(p.Idle, "rolled back") {
		t.Errorf("prod pending %+v, want %s idle as rolled back", p, r2)
	}
	z.parameterIs(t, "prod", st.images[archivistV1].uri)

	// A newer build goes all the way, once the alarm is OK: until then the alarms gate holds it.
	z.beforePromotion = func(t *testing.T, p *shiplog.AutoPromotion) {
		if !slices.ContainsFunc(p.Waiting, func(g shiplog.GateDecision) bool { return g.Gate == "alarms" && strings.Contains(g.Message, ztAlarm) }) {
			t.Fatalf("prod pending %+v with its alarm in ALARM, want the alarms gate refusing, naming %s", p, ztAlarm)
		}
		z.setAlarm(t, cwtypes.StateValueOk, "5xx rate back under 1%")
	}
	r3 := z.deliver(t, archivistV3, false)
	if r3 == r2 || r3 == r1 {
		t.Fatalf("build 3 delivered release %s, an earlier one", r3)
	}
}

// deliver takes one build from its push to prod: the push through ecr-push, a release by alice
// through the API (stage deploys it by itself), ECS's event verifying stage, the soak,
// approvals through the API (alice's refused when refuseSelf), and the tick promoting it to prod.
// It answers the release.
func (z *zeroTouch) deliver(t *testing.T, key string, refuseSelf bool) string {
	t.Helper()
	img := z.s.images[key]
	var pushed pushOutcome
	z.s.invokeOK(t, "ecr-push", z.s.event(t, "ecr-push-tagged.json", key, z.push.UTC().Format(time.RFC3339)), &pushed)
	z.push = z.push.Add(time.Minute)
	latest := shiplog.ParameterName(ztProject, shiplog.LatestLabel, ztService)
	if pushed.Image != img.uri || !slices.Equal(pushed.Updated, []string{latest}) {
		t.Fatalf("push of %s: %+v, want %s updated to %s", key, pushed, latest, img.uri)
	}

	// alice creates the release through the API (a direct invocation may not claim an IAM
	// identity): she is its requester, whose approval does not count.
	res := z.api(t, aliceARN, "POST", "/projects/"+ztProject+"/releases", fmt.Sprintf(`{"description":%q}`, key))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST releases: %d %s", res.StatusCode, res.Body)
	}
	var rel shiplog.Release
	decodeString(t, res.Body, &rel)
	if rel.Images[ztService] != img.uri || rel.RequestedBy.ID != aliceARN {
		t.Fatalf("release of %s: images %v requested by %+v, want %s by alice", key, rel.Images, rel.RequestedBy, img.uri)
	}

	// Stage takes it by itself (in create-release's request; the tick would too).
	envs := z.waitFor(t, "stage deploying "+rel.ID, func(envs map[string]shiplog.EnvironmentStatus) bool {
		c := envs["stage"].Current
		return c != nil && c.ReleaseID == rel.ID
	})
	if c := envs["stage"].Current; c.RequestedBy.ID != "shiplog" {
		t.Fatalf("stage runs %s, requested by %+v, want shiplog", rel.ID, c.RequestedBy)
	}
	z.parameterIs(t, "stage", img.uri)
	if c := envs["prod"].Current; c != nil && c.ReleaseID == rel.ID {
		t.Fatalf("prod runs %s before stage verified it", rel.ID)
	}

	z.verifyByECS(t, "stage", ztStage)

	// Verified in stage, the release waits in prod for the approvals (and the soak, if it has
	// not ended yet): never for the window, which is open.
	p := z.environments(t)["prod"].Pending
	if p == nil || p.ReleaseID != rel.ID || p.From != "stage" {
		t.Fatalf("prod pending %+v, want %s from stage", p, rel.ID)
	}
	var waiting []string
	for _, g := range p.Waiting {
		waiting = append(waiting, g.Gate)
	}
	if !slices.Contains(waiting, "approvals") || slices.Contains(waiting, "window") {
		t.Fatalf("prod waits for %v, want approvals and not the window", waiting)
	}
	time.Sleep(ztSoak) // the soak, on the real clock: the tick does not deploy without approvals
	z.tick(t)
	if c := z.state(t, "prod"); c != nil && c.ReleaseID == rel.ID {
		t.Fatalf("prod was deployed %s without approvals", rel.ID)
	}

	path := "/projects/" + ztProject + "/environments/prod/approvals"
	body := fmt.Sprintf(`{"release_id":%q}`, rel.ID)
	if refuseSelf {
		res := z.api(t, aliceARN, "POST", path, body)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.Body, "alice") {
			t.Fatalf("alice approving her own release: %d %s, want 403 naming her", res.StatusCode, res.Body)
		}
	}
	for i, who := range []string{bobARN, carolARN} {
		res := z.api(t, who, "POST", path, body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("approval by %s: %d %s", who, res.StatusCode, res.Body)
		}
		var a shiplog.ApprovalStatus
		decodeString(t, res.Body, &a)
		if len(a.Counted) != i+1 || a.Approved != (i == 1) {
			t.Fatalf("after %s's approval: counted %v, approved %v", who, a.Counted, a.Approved)
		}
	}

	if z.beforePromotion != nil {
		z.tick(t)
		z.beforePromotion(t, z.environments(t)["prod"].Pending)
	}

	// The tick promotes it (the soak has ended; the window is open).
	envs = z.waitFor(t, "prod promoted to "+rel.ID, func(envs map[string]shiplog.EnvironmentStatus) bool {
		c := envs["prod"].Current
		return c != nil && c.ReleaseID == rel.ID
	})
	prod := envs["prod"].Current
	d := z.deployment(t, prod.DeploymentID)
	if prod.RequestedBy.ID != "shiplog" || d.Kind != shiplog.KindPromote || d.PromotedFrom != "stage" {
		t.Fatalf("prod's deployment %s: kind %q from %q by %+v, want a promotion from stage by shiplog", d.ID, d.Kind, d.PromotedFrom, prod.RequestedBy)
	}
	z.parameterIs(t, "prod", img.uri)
	return rel.ID
}

// alarmReason is what CloudWatch says when prod's alarm fires; the hold must repeat it.
const alarmReason = "Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0)."

// alarm creates prod's alarm on moto, OK.
func (z *zeroTouch) alarm(t *testing.T) {
	t.Helper()
	if _, err := z.cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(ztAlarm), Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_Target_5XX_Count"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatalf("PutMetricAlarm %s: %v", ztAlarm, err)
	}
	z.setAlarm(t, cwtypes.StateValueOk, "Threshold Crossed: no datapoint was greater than the threshold (5.0).")
}

func (z *zeroTouch) setAlarm(t *testing.T, state cwtypes.StateValue, reason string) {
	t.Helper()
	if _, err := z.cw.SetAlarmState(t.Context(), &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(ztAlarm), StateValue: state, StateReason: aws.String(reason)}); err != nil {
		t.Fatalf("SetAlarmState %s %s: %v", ztAlarm, state, err)
	}
}

// alarmFires puts prod's alarm in ALARM on moto and sends ecs-events CloudWatch's "CloudWatch
// Alarm State Change" event, built from what DescribeAlarms then says of the alarm, as
// EventBridge delivers it: prod's deployment, in its bake, fails.
func (z *zeroTouch) alarmFires(t *testing.T, deployment string) {
	t.Helper()
	z.setAlarm(t, cwtypes.StateValueAlarm, alarmReason)
	out, err := z.cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{ztAlarm}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms %s: %+v, %v", ztAlarm, out, err)
	}
	a := out.MetricAlarms[0]
	if a.StateValue != cwtypes.StateValueAlarm || a.StateUpdatedTimestamp == nil {
		t.Fatalf("alarm %s after SetAlarmState: %s since %v, want ALARM with a time", ztAlarm, a.StateValue, a.StateUpdatedTimestamp)
	}
	changed := a.StateUpdatedTimestamp.UTC()
	ev := map[string]any{
		"version": "0", "id": fmt.Sprintf("zt-alarm-%d", payloadSeq.Add(1)), "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
		"account": z.s.account, "time": changed.Format(time.RFC3339), "region": localaws.Region,
		"resources": []string{aws.ToString(a.AlarmArn)},
		"detail": map[string]any{
			"alarmName":     aws.ToString(a.AlarmName),
			"previousState": map[string]any{"value": "OK", "reason": "", "timestamp": changed.Add(-time.Minute).Format("2006-01-02T15:04:05.000-0700")},
			"state": map[string]any{"value": string(a.StateValue), "reason": aws.ToString(a.StateReason),
				"timestamp": changed.Format("2006-01-02T15:04:05.000-0700")},
		},
	}
	b, _ := json.Marshal(ev)
	var outcome shiplog.RuntimeOutcome
	z.s.invokeOK(t, "ecs-events", b, &outcome)
	if len(outcome.Environments) != 1 || outcome.Environments[0].DeploymentID != deployment || outcome.Environments[0].Status != shiplog.StatusFailed {
		t.Fatalf("the alarm's event: %+v, want prod's deployment %s failed", outcome, deployment)
	}
	d := z.deployment(t, deployment)
	if last := d.StatusHistory[len(d.StatusHistory)-1]; d.Status != shiplog.StatusFailed || !strings.Contains(last.Detail, ztAlarm) || !strings.Contains(last.Detail, alarmReason) {
		t.Fatalf("prod's deployment %s after the alarm: %s, last entry %+v; want failed naming the alarm and its reason", deployment, d.Status, last)
	}
}

// tick runs the deploy function on EventBridge Scheduler's payload.
func (z *zeroTouch) tick(t *testing.T) []shiplog.TickOutcome {
	t.Helper()
	var out struct {
		Tick []shiplog.TickOutcome `json:"tick"`
	}
	z.s.invokeOK(t, "deploy", []byte(awslambda.TickPayload), &out)
	for _, o := range out.Tick {
		if o.Error != "" {
			t.Fatalf("tick: %s failed: %s", o.Work, o.Error)
		}
	}
	return out.Tick
}

// waitFor ticks until ok holds of the project's environments, or fails the test once patience
// runs out: the soak runs on the real clock, so how many ticks that takes depends on the machine.
func (z *zeroTouch) waitFor(t *testing.T, what string, ok func(map[string]shiplog.EnvironmentStatus) bool) map[string]shiplog.EnvironmentStatus {
	t.Helper()
	deadline := time.Now().Add(min(shiplogtest.Patience(t), 2*time.Minute))
	for {
		envs := z.environments(t)
		if ok(envs) {
			return envs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still stage %s; prod %s", what, summary(envs["stage"]), summary(envs["prod"]))
		}
		z.tick(t)
		time.Sleep(200 * time.Millisecond)
	}
}

// summary is what an environment runs and waits for, for a test's failure.
func summary(e shiplog.EnvironmentStatus) string {
	var b strings.Builder
	if c := e.Current; c != nil {
		fmt.Fprintf(&b, "runs release %s (deployment %s, %s, by %s)", c.ReleaseID, c.DeploymentID, c.Status, c.RequestedBy.ID)
	} else {
		b.WriteString("runs nothing")
	}
	if e.Lock != nil {
		fmt.Fprintf(&b, ", locked: %q", e.Lock.Reason)
	}
	if p := e.Pending; p != nil {
		fmt.Fprintf(&b, ", candidate %q", p.ReleaseID)
		for _, g := range p.Waiting {
			fmt.Fprintf(&b, ", waits for %s: %s", g.Gate, g.Message)
		}
		if p.Idle != "" {
			fmt.Fprintf(&b, ", idle: %s", p.Idle)
		}
	}
	return b.String()
}

// environments reads the project's environments through the API, by id.
func (z *zeroTouch) environments(t *testing.T) map[string]shiplog.EnvironmentStatus {
	t.Helper()
	res := z.api(t, aliceARN, "GET", "/projects/"+ztProject+"/environments", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET environments: %d %s", res.StatusCode, res.Body)
	}
	var body struct {
		Items []shiplog.EnvironmentStatus `json:"items"`
	}
	decodeString(t, res.Body, &body)
	out := map[string]shiplog.EnvironmentStatus{}
	for _, e := range body.Items {
		out[e.Environment.ID] = e
	}
	return out
}

func (z *zeroTouch) state(t *testing.T, env string) *shiplog.EnvironmentState {
	t.Helper()
	return z.environments(t)[env].Current
}

// deployment reads one deployment through the API.
func (z *zeroTouch) deployment(t *testing.T, id string) shiplog.DeploymentRecord {
	t.Helper()
	res := z.api(t, aliceARN, "GET", "/projects/"+ztProject+"/deployments/"+id, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET deployment %s: %d %s", id, res.StatusCode, res.Body)
	}
	var d shiplog.DeploymentRecord
	decodeString(t, res.Body, &d)
	return d
}

// api sends one request through the api function as the IAM user arn.
func (z *zeroTouch) api(t *testing.T, arn, method, path, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return z.s.api(t, "api-post-deployment.json", func(ev map[string]any) {
		setPath(ev, method, path)
		ev["body"] = body
		ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
		ev["requestContext"].(map[string]any)["authorizer"].(map[string]any)["iam"].(map[string]any)["userArn"] = arn
	})
}

// parameterIs checks the SSM parameter the environment's pipeline reads for archivist.
func (z *zeroTouch) parameterIs(t *testing.T, env, want string) {
	t.Helper()
	name := shiplog.ParameterName(ztProject, env, ztService)
	out, err := z.ssm.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("GetParameter %s: %v", name, err)
	}
	if got := aws.ToString(out.Parameter.Value); got != want {
		t.Fatalf("%s = %s, want %s", name, got, want)
	}
}

// putImage puts one more build of archivist in moto's ECR, for this test alone.
func (z *zeroTouch) putImage(t *testing.T, client *ecr.Client, key, tag string) {
	t.Helper()
	repo := z.s.images[archivistV1].repository
	out, err := client.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageTag: aws.String(tag),
		ImageManifest: aws.String(manifestFor(key)), ImageManifestMediaType: aws.String(ociManifest)})
	if err != nil {
		t.Fatalf("ecr PutImage %s: %v", key, err)
	}
	digest := aws.ToString(out.Image.ImageId.ImageDigest)
	z.s.images[key] = image{repository: repo, tag: tag, digest: digest, mediaType: ociManifest,
		uri: fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", z.s.account, localaws.Region, repo, digest)}
}

// ecsServices creates each environment's cluster on moto, and its archivist service running an
// image no release has.
func (z *zeroTouch) ecsServices(t *testing.T) {
	t.Helper()
	for _, cluster := range []string{ztStage, ztProd} {
		if _, err := z.ecs.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
			t.Fatalf("CreateCluster %s: %v", cluster, err)
		}
		z.rollOut(t, cluster, "public.ecr.aws/docker/library/busybox@sha256:"+strings.Repeat("0", 64), false)
	}
}

// rollOut makes cluster's archivist service run img, with a completed ECS deployment of it, and
// answers that deployment's id. moto's UpdateService changes the service's task definition but
// not its deployment's (which stays the one it was created with), so a rollout here replaces the
// service: deleted, then created again with the new definition.
func (z *zeroTouch) rollOut(t *testing.T, cluster, img string, exists bool) string {
	t.Helper()
	ctx := t.Context()
	out, err := z.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String(cluster + "-" + ztService),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(ztService), Image: aws.String(img), Memory: aws.Int32(128)}}})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	if exists {
		if _, err := z.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(cluster), Service: aws.String(ztService), Force: aws.Bool(true)}); err != nil {
			t.Fatalf("DeleteService %s/%s: %v", cluster, ztService, err)
		}
	}
	created, err := z.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(ztService),
		TaskDefinition: out.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(0)})
	if err != nil {
		t.Fatalf("CreateService %s/%s: %v", cluster, ztService, err)
	}
	for _, d := range created.Service.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id)
		}
	}
	t.Fatalf("service %s/%s has no primary deployment: %+v", cluster, ztService, created.Service.Deployments)
	return ""
}

// verifyByECS rolls the environment's deployed image out on moto's ECS, as its pipeline's
// terraform apply does, and sends ecs-events ECS's "deployment completed" event for it, as
// EventBridge delivers it: the deployment becomes verified.
func (z *zeroTouch) verifyByECS(t *testing.T, env, cluster string) {
	t.Helper()
	st := z.state(t, env)
	ecsDeployment := z.rollOut(t, cluster, st.Images[ztService], true)
	var outcome shiplog.RuntimeOutcome
	z.s.invokeOK(t, "ecs-events", z.ecsEvent(cluster, "SERVICE_DEPLOYMENT_COMPLETED", ecsDeployment), &outcome)
	if len(outcome.Environments) != 1 || outcome.Environments[0].DeploymentID != st.DeploymentID || outcome.Environments[0].Status != shiplog.StatusVerified {
		t.Fatalf("ECS's completed event for %s (ECS deployment %q): %+v, want %s verified", env, ecsDeployment, outcome, st.DeploymentID)
	}
	if got := z.state(t, env); got.DeploymentID != st.DeploymentID || got.Status != shiplog.StatusVerified {
		t.Fatalf("%s after ECS's event: deployment %s %s, want %s verified", env, got.DeploymentID, got.Status, st.DeploymentID)
	}
}

// ecsEvent is an "ECS Deployment State Change" event about the archivist service of cluster, as
// EventBridge delivers it, dated now.
func (z *zeroTouch) ecsEvent(cluster, name, ecsDeployment string) []byte {
	now := time.Now().UTC().Format(time.RFC3339)
	ev := map[string]any{
		"version": "0", "id": fmt.Sprintf("zt-%d", payloadSeq.Add(1)), "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
		"account": z.s.account, "time": now, "region": localaws.Region,
		"resources": []string{fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", localaws.Region, z.s.account, cluster, ztService)},
		"detail": map[string]any{"eventType": "INFO", "eventName": name, "deploymentId": ecsDeployment, "updatedAt": now,
			"reason": "ECS deployment " + ecsDeployment + " completed."},
	}
	b, _ := json.Marshal(ev)
	return b
}

// startExtra builds and starts one more function under aws-lambda-rie for this test (the stack
// starts only those the flow drives), with the stack's environment and extra, and stops it at
// the test's end.
func (s *stack) startExtra(t *testing.T, fn string, extra ...string) {
	t.Helper()
	if _, ok := s.functions[fn]; ok {
		return
	}
	rie, err := riePath(s.root)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(s.dir, fn, "bootstrap")
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := build(ctx, s.root, fn, bootstrap); err != nil {
		t.Fatal(err)
	}
	f, err := startFunction(fn, rie, bootstrap, append(s.functionEnv(fn), extra...))
	if err != nil {
		t.Fatal(err)
	}
	s.functions[fn] = f
	t.Cleanup(func() {
		f.stop()
		delete(s.functions, fn)
	})
}
