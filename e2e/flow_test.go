package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// When the images were pushed: v1 of everything at t1 (the sample event's time), archivist v2
// at t2.
const (
	t1 = "2026-11-20T09:15:02Z"
	t2 = "2026-11-21T10:00:00Z"
)

var (
	ci    = shiplog.Person{ID: "ci", Name: "Buildkite", Via: shiplog.ViaInvoke}
	alice = shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice", Via: shiplog.ViaAPI} // the API fixtures' IAM caller
	// anonymous is the requester of an invocation that names none.
	anonymous = shiplog.Person{ID: shiplog.AnonymousPerson.ID, Name: shiplog.AnonymousPerson.Name, Via: shiplog.ViaInvoke}
	stage     = shiplog.Environment{ID: "stage", Name: "Staging"}
	prod      = shiplog.Environment{ID: "prod", Name: "Production"}
)

// allServices are the storage project's services, sorted.
var allServices = []string{"archivist", "bag-register", "bag_verifier_post_replication", "bag_verifier_pre_replication", "notifier"}

// flow is the state the steps of TestEndToEnd share.
type flow struct {
	s      *stack
	m      *model
	r1, r2 string // release ids
}

// TestEndToEnd drives the whole flow through the real functions, step by step; each step
// depends on the ones before it, so the first that fails ends the test. After every step the
// SSM parameters, the DynamoDB items and the ECR tags must be exactly what the model says.
func TestEndToEnd(t *testing.T) {
	st.seed(t)
	f := &flow{s: st, m: newModel(st)}
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"create-release registers the manifest and refuses an incomplete release", f.register},
		{"ecr-push ignores untagged, failed and delete events", f.ignoredPushes},
		{"ecr-push of tagged images sets latest", f.taggedPushes},
		{"create-release snapshots latest", f.createRelease},
		{"deploy to stage", f.deployStage},
		{"redeploy to stage writes no parameter", f.redeployStage},
		{"a newer push moves latest and a late older one does not", f.newerPush},
		{"deploy latest to prod", f.deployLatestProd},
		{"api GET environments", f.apiEnvironments},
		{"api POST deployment writes only what changed", f.apiDeploy},
		{"api answers errors with HTTP statuses", f.apiErrors},
		{"the pipeline reports stage verified through the deploy function", f.reportVerified},
		{"promote stage to prod through the deploy function", f.promote},
		{"a lock refuses deploys; an emergency deploy passes it and records why", f.lockAndBreakGlass},
		{"api rollback of stage with a hold", f.rollbackHold},
		{"deploy of a release whose image left ECR is refused and writes nothing", f.missingImage},
		{"function errors come back as Unhandled with the kind as errorType", f.functionErrors},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.fn) {
			t.Fatalf("step %q failed; the later steps depend on it", step.name)
		}
	}
}

// register sends the whole manifest through create-release, as CI does on its first run, and checks
// the release is refused (no image yet) but the released project is registered, and only it: the
// file's other entries are other teams' to register.
func (f *flow) register(t *testing.T) {
	manifest := testdata(t, "wellcome_project.json")
	payload := fmt.Sprintf(`{"project_id":"storage","manifest":%s,"requested_by":{"id":"ci","name":"Buildkite"}}`, manifest)
	fe := f.s.invokeFails(t, "create-release", []byte(payload))
	if fe.Type != "Conflict" {
		t.Errorf("errorType %q, want Conflict (%s)", fe.Type, fe.Message)
	}
	for _, want := range []string{"/storage/images/latest/", strings.Join(allServices, ", ")} {
		if !strings.Contains(fe.Message, want) {
			t.Errorf("errorMessage %q does not mention %q", fe.Message, want)
		}
	}

	var projects, verifier queryResult
	f.s.do(t, f.s.partition("projects", &projects), f.s.partition("repo#uk.ac.wellcome/bag_verifier", &verifier))
	var ids []string
	for _, p := range projects.Items {
		ids = append(ids, skOf(p))
	}
	if want := []string{"storage"}; !slices.Equal(ids, want) {
		t.Errorf("registered projects: got %v, want %v", ids, want)
	}
	for _, p := range projects.Items {
		if skOf(p) != "storage" {
			continue
		}
		want := item{
			"project_id":   S("storage"),
			"name":         S("Storage service"),
			"environments": L(environmentM(stage), environmentM(prod)),
			"image_repositories": L(
				M(item{"id": S("uk.ac.wellcome/archivist"), "services": stringList("archivist")}),
				M(item{"id": S("uk.ac.wellcome/bag-register"), "services": stringList("bag-register")}),
				M(item{"id": S("uk.ac.wellcome/bag_verifier"), "services": stringList("bag_verifier_pre_replication", "bag_verifier_post_replication")}),
				M(item{"id": S("uk.ac.wellcome/notifier"), "services": stringList("notifier")}),
			),
			"tag_deployed_images": BOOL(true),
		}
		got := item{}
		for k := range want {
			got[k] = p[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("project item storage (-want +got):\n%s", diff)
		}
	}
	wantVerifier := []item{{
		"pk": S("repo#uk.ac.wellcome/bag_verifier"), "sk": S("storage"),
		"repository": S("uk.ac.wellcome/bag_verifier"), "project_id": S("storage"),
		"services": stringList("bag_verifier_post_replication", "bag_verifier_pre_replication"),
	}}
	if diff := cmp.Diff(wantVerifier, verifier.Items); diff != "" {
		t.Errorf("repository item of bag_verifier (-want +got):\n%s", diff)
	}
	// The refused release left no release, no parameter and nothing in the project's partition but
	// the registration's event.
	f.m.logged(shiplog.EventProjectRegistered)
	f.s.check(t, f.m, skipImages)
}

// pushOutcome is ecr-push's answer.
type pushOutcome struct {
	Image   string   `json:"image"`
	Updated []string `json:"updated"`
	Ignored string   `json:"ignored"`
	Skipped []string `json:"skipped"`
}

// ignoredPushes sends the sample events that must change nothing.
func (f *flow) ignoredPushes(t *testing.T) {
	for _, tt := range []struct{ sample, image string }{
		{"ecr-push-untagged.json", archivistPlatform},
		{"ecr-push-failed.json", archivistV1},
		{"ecr-delete.json", archivistV1},
	} {
		var out pushOutcome
		f.s.invokeOK(t, "ecr-push", f.s.event(t, tt.sample, tt.image, t1), &out)
		if out.Ignored == "" || len(out.Updated) != 0 || out.Image != "" {
			t.Errorf("%s: got %+v, want it ignored with nothing updated", tt.sample, out)
		}
	}
	f.s.check(t, f.m, skipImages)
}

// taggedPushes sends a tagged push per repository; bag_verifier feeds two services.
func (f *flow) taggedPushes(t *testing.T) {
	for _, key := range []string{archivistV1, bagRegisterV1, bagVerifierV1, notifierV1} {
		img := f.s.images[key]
		var out pushOutcome
		f.s.invokeOK(t, "ecr-push", f.s.event(t, "ecr-push-tagged.json", key, t1), &out)
		var want []string
		for _, svc := range servicesOf(img.repository) {
			name := shiplog.ParameterName("storage", shiplog.LatestLabel, svc)
			want = append(want, name)
			f.m.write(name, img.uri)
			f.m.recorded(shiplog.ImageRecord{ProjectID: "storage", ServiceID: svc, URI: img.uri, PushedAt: unix(t1), Source: tagSource(img.tag)})
			f.m.logged(shiplog.EventImageRecorded)
		}
		if out.Image != img.uri || !sameSet(out.Updated, want) || out.Ignored != "" {
			t.Errorf("push %s: got %+v, want image %s updating %v", key, out, img.uri, want)
		}
	}
	f.s.check(t, f.m, skipImages)
}

// createRelease snapshots the latest images as release 1.
func (f *flow) createRelease(t *testing.T) {
	before := time.Now().Unix()
	var raw map[string]json.RawMessage
	f.s.invokeOK(t, "create-release", []byte(`{"project_id":"storage","description":"first","requested_by":{"id":"ci","name":"Buildkite"}}`), &raw)
	after := time.Now().Unix()
	var got shiplog.Release
	decode(t, raw, &got)
	if _, ok := raw["last_date_deployed"]; ok {
		t.Errorf("a new release has last_date_deployed: %s", raw["last_date_deployed"])
	}
	want := f.release(t, got, before, after, ci, "first", archivistV1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("release (-want +got):\n%s", diff)
	}
	f.r1 = got.ID
	f.m.releases = append(f.m.releases, want)
	f.m.logged(shiplog.EventReleaseCreated)
	f.s.check(t, f.m, skipImages)
}

// release is the release create-release must have returned: its id and creation time are the
// function's to choose, within bounds; the rest is known.
func (f *flow) release(t *testing.T, got shiplog.Release, before, after int64, by shiplog.Person, description, archivist string) shiplog.Release {
	t.Helper()
	if len(got.ID) != 26 {
		t.Errorf("release_id %q: want a 26-character ULID", got.ID)
	}
	if got.CreatedAt < before || got.CreatedAt > after {
		t.Errorf("created_at %d: want between %d and %d", got.CreatedAt, before, after)
	}
	var entry, manifest map[string]any
	if err := json.Unmarshal([]byte(got.Manifest), &entry); err != nil {
		t.Errorf("release_manifest %q is not JSON: %v", got.Manifest, err)
	}
	if err := json.Unmarshal(testdata(t, "wellcome_project.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(manifest["storage"], entry); diff != "" {
		t.Errorf("release_manifest is not the storage entry of the manifest (-want +got):\n%s", diff)
	}
	images := f.s.storageImages(archivist)
	// Each image's push time, where the recorded push is that image.
	pushedAt := map[string]int64{}
	// And its source, as its push learnt it (from its tag here).
	var sources map[string]shiplog.ImageSource
	for svc, uri := range images {
		if p, ok := f.m.pushes[svc]; ok && p.URI == uri {
			pushedAt[svc] = p.PushedAt
			if p.Source != nil {
				if sources == nil {
					sources = map[string]shiplog.ImageSource{}
				}
				sources[svc] = *p.Source
			}
		}
	}
	return shiplog.Release{
		ID:          got.ID,
		ProjectID:   "storage",
		ProjectName: "Storage service",
		CreatedAt:   got.CreatedAt,
		Manifest:    got.Manifest,
		RequestedBy: by,
		Images:      images,
		Label:       shiplog.LatestLabel,
		Description: description,
		Deployments: []shiplog.Deployment{},
		PushedAt:    pushedAt,
		Sources:     sources,
	}
}

// deployStage deploys release 1 to stage: every parameter is new.
func (f *flow) deployStage(t *testing.T) {
	d := f.deploy(t, fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"stage","description":"ship it","requested_by":{"id":"ci","name":"Buildkite"}}`, f.r1),
		f.r1, stage, ci, "ship it")
	f.m.deploy(t, d, f.r1, allServices)
	f.s.check(t, f.m, withImages)
}

// redeployStage deploys release 1 to stage again: a deployment is recorded, no parameter is
// written.
func (f *flow) redeployStage(t *testing.T) {
	var before parametersResult
	f.s.do(t, f.s.parameters("/storage/", &before))
	d := f.deploy(t, fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"stage","description":"again","requested_by":{"id":"ci","name":"Buildkite"}}`, f.r1),
		f.r1, stage, ci, "again")
	f.m.deploy(t, d, f.r1, nil) // no parameter changes
	after := f.s.check(t, f.m, withImages)
	// Versions in the model say so already; this also holds values, dates and ARNs still.
	if diff := cmp.Diff(before.byName(), after.Parameters); diff != "" {
		t.Errorf("redeploying the same release changed parameters (-before +after):\n%s", diff)
	}
}

// deploy invokes the deploy function and checks the deployment it returns.
func (f *flow) deploy(t *testing.T, payload, releaseID string, env shiplog.Environment, by shiplog.Person, description string) shiplog.Deployment {
	t.Helper()
	start := time.Now().Unix()
	var res shiplog.DeployResult
	f.s.invokeOK(t, "deploy", []byte(payload), &res)
	return f.checkDeployResult(t, res, start, releaseID, env, by, description)
}

func (f *flow) checkDeployResult(t *testing.T, res shiplog.DeployResult, start int64, releaseID string, env shiplog.Environment, by shiplog.Person, description string) shiplog.Deployment {
	t.Helper()
	d := res.Deployment
	if len(d.ID) != 26 {
		t.Errorf("deployment_id %q: want a 26-character ULID", d.ID)
	}
	if now := time.Now().Unix(); d.CreatedAt < start || d.CreatedAt > now {
		t.Errorf("deployment created_at %d: want between %d and %d", d.CreatedAt, start, now)
	}
	// What changed is held by the model's parameters and items; here only that it is said.
	if d.Changes == nil {
		t.Errorf("deployment %s: no changes recorded", d.ID)
	}
	// requested when recorded, applied when its parameters are written (at once if none change).
	applied := "every parameter written"
	if d.Changes != nil && len(d.Changes.ParametersWritten) == 0 {
		applied = "no parameter to write"
	}
	var appliedAt int64
	if len(d.StatusHistory) == 2 {
		appliedAt = d.StatusHistory[1].At
	}
	if appliedAt < d.CreatedAt || appliedAt > time.Now().Unix() {
		t.Errorf("deployment %s: applied at %d, want between its creation %d and now", d.ID, appliedAt, d.CreatedAt)
	}
	want := shiplog.Deployment{ID: d.ID, Environment: env, CreatedAt: d.CreatedAt, RequestedBy: by, Description: description,
		Kind: shiplog.KindDeploy, Changes: d.Changes, Status: shiplog.StatusApplied, StatusHistory: []shiplog.StatusEntry{
			{Status: shiplog.StatusRequested, At: d.CreatedAt, By: by},
			{Status: shiplog.StatusApplied, At: appliedAt, By: shiplog.Person{ID: "shiplog", Name: "shiplog"}, Detail: applied},
		}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("deployment (-want +got):\n%s", diff)
	}
	r := f.m.release(releaseID)
	if r == nil {
		t.Fatalf("model: no release %s", releaseID)
	}
	wantRelease := *r
	wantRelease.Deployments = []shiplog.Deployment{} // a deploy answers the release without its history
	wantRelease.LastDateDeployed = d.CreatedAt
	wantRelease.DeploymentCount++
	if diff := cmp.Diff(wantRelease, res.Release); diff != "" {
		t.Errorf("deployed release (-want +got):\n%s", diff)
	}
	return want
}

// newerPush pushes archivist v2, then replays v1's event.
func (f *flow) newerPush(t *testing.T) {
	v2 := f.s.images[archivistV2]
	latest := shiplog.ParameterName("storage", shiplog.LatestLabel, "archivist")
	var out pushOutcome
	f.s.invokeOK(t, "ecr-push", f.s.event(t, "ecr-push-tagged.json", archivistV2, t2), &out)
	if out.Image != v2.uri || !sameSet(out.Updated, []string{latest}) {
		t.Errorf("push of v2: got %+v, want %s updated to %s", out, latest, v2.uri)
	}
	f.m.write(latest, v2.uri)
	f.m.recorded(shiplog.ImageRecord{ProjectID: "storage", ServiceID: "archivist", URI: v2.uri, PushedAt: unix(t2), Source: tagSource(v2.tag)})
	f.m.logged(shiplog.EventImageRecorded)

	// EventBridge delivers at least once and in no order: v1's event again, after v2's.
	out = pushOutcome{}
	f.s.invokeOK(t, "ecr-push", f.s.event(t, "ecr-push-tagged.json", archivistV1, t1), &out)
	if len(out.Updated) != 0 || !sameSet(out.Skipped, []string{latest}) {
		t.Errorf("late push of v1: got %+v, want %s skipped and nothing updated", out, latest)
	}
	f.s.check(t, f.m, skipImages)
}

// deployLatestProd creates release 2 (archivist v2) with no requester and deploys "latest" to prod.
func (f *flow) deployLatestProd(t *testing.T) {
	before := time.Now().Unix()
	var got shiplog.Release
	f.s.invokeOK(t, "create-release", []byte(`{"project_id":"storage","description":"second"}`), &got)
	want := f.release(t, got, before, time.Now().Unix(), anonymous, "second", archivistV2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("release (-want +got):\n%s", diff)
	}
	if got.ID <= f.r1 {
		t.Errorf("release_id %s does not sort after the earlier release %s", got.ID, f.r1)
	}
	f.r2 = got.ID
	f.m.releases = append(f.m.releases, want)
	f.m.logged(shiplog.EventReleaseCreated)

	d := f.deploy(t, `{"project_id":"storage","release_id":"latest","environment":"prod"}`, f.r2, prod, anonymous, "")
	f.m.deploy(t, d, f.r2, allServices)
	f.s.check(t, f.m, withImages)
}

// apiEnvironments asks the api function what each environment runs.
func (f *flow) apiEnvironments(t *testing.T) {
	res := f.s.api(t, "api-get-environments.json", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET environments: status %d, want 200: %s", res.StatusCode, res.Body)
	}
	if ct := res.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Items []shiplog.EnvironmentStatus `json:"items"`
	}
	decodeString(t, res.Body, &body)
	// Nothing has drifted: every parameter is what the deploys wrote.
	want := []shiplog.EnvironmentStatus{{Environment: stage, Drift: []shiplog.Drift{}}, {Environment: prod, Drift: []shiplog.Drift{}}}
	for i := range want {
		if state, ok := f.m.envs[want[i].Environment.ID]; ok {
			// The store's bookkeeping for the DORA lead time is not in the API's state.
			state.Pushed, state.PushedTracked = nil, false
			want[i].Current = &state
			want[i].Status = state.Status
		}
	}
	if diff := cmp.Diff(want, body.Items); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}

// apiDeploy deploys release 2 to stage through the api function, as the IAM user alice.
func (f *flow) apiDeploy(t *testing.T) {
	start := time.Now().Unix()
	res := f.s.api(t, "api-post-deployment.json", func(ev map[string]any) {
		body := fmt.Sprintf(`{"release_id":%q,"description":"from the API"}`, f.r2)
		ev["body"] = body
		ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
	})
	if res.StatusCode != 201 {
		t.Fatalf("POST deployment: status %d, want 201: %s", res.StatusCode, res.Body)
	}
	var out shiplog.DeployResult
	decodeString(t, res.Body, &out)
	d := f.checkDeployResult(t, out, start, f.r2, stage, alice, "from the API")
	// Stage had release 1; release 2 differs only in archivist.
	f.m.deploy(t, d, f.r2, []string{"archivist"})
	f.s.check(t, f.m, withImages)
}

// apiCall sends one request through the api function, as alice.
func (f *flow) apiCall(t *testing.T, method, path, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return f.s.api(t, "api-post-deployment.json", func(ev map[string]any) {
		setPath(ev, method, path)
		ev["body"] = body
		ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
	})
}

// reportVerified reports stage's deployment verified, as CI does after terraform apply, through
// the deploy function; the same report again changes nothing.
func (f *flow) reportVerified(t *testing.T) {
	dep := f.m.envs["stage"].DeploymentID
	payload := []byte(fmt.Sprintf(`{"project_id":"storage","report":{"deployment_id":%q,"status":"verified","detail":"smoke tests passed"},"requested_by":{"id":"ci","name":"Buildkite"}}`, dep))
	var got shiplog.DeploymentRecord
	f.s.invokeOK(t, "deploy", payload, &got)
	if got.ID != dep || got.Status != shiplog.StatusVerified || len(got.StatusHistory) == 0 {
		t.Fatalf("report: got %+v, want deployment %s verified", got, dep)
	}
	last := got.StatusHistory[len(got.StatusHistory)-1]
	want := shiplog.StatusEntry{Status: shiplog.StatusVerified, At: last.At, By: ci, Detail: "smoke tests passed"}
	if last != want || last.At < got.CreatedAt {
		t.Errorf("the report's entry: got %+v, want %+v", last, want)
	}
	f.m.report(t, "stage", want)
	before := f.s.check(t, f.m, skipImages)
	f.s.invokeOK(t, "deploy", payload, &got)
	if diff := cmp.Diff(before, f.s.check(t, f.m, skipImages)); diff != "" {
		t.Errorf("the same report again changed the stores (-before +after):\n%s", diff)
	}
}

// promote deploys what stage runs (release 2, which prod runs too) to prod.
func (f *flow) promote(t *testing.T) {
	var res shiplog.DeployResult
	f.s.invokeOK(t, "deploy", []byte(`{"project_id":"storage","from_environment":"stage","environment":"prod","description":"QA passed","requested_by":{"id":"ci","name":"Buildkite"}}`), &res)
	d := res.Deployment
	if d.Kind != shiplog.KindPromote || d.PromotedFrom != "stage" || res.Release.ID != f.r2 || d.Status != shiplog.StatusApplied || d.RequestedBy != ci {
		t.Errorf("promotion: got %+v of release %s, want a promotion from stage of %s by ci, applied", d, res.Release.ID, f.r2)
	}
	f.m.deploy(t, d, f.r2, nil) // prod runs release 2 already: no parameter to write
	f.s.check(t, f.m, withImages)
}

// lockAndBreakGlass locks prod through the API: a deploy is refused; an emergency deploy passes
// the lock and records who broke glass and why; then prod is unlocked.
func (f *flow) lockAndBreakGlass(t *testing.T) {
	res := f.apiCall(t, "PUT", "/projects/storage/environments/prod/lock", `{"reason":"incident 7"}`)
	if res.StatusCode != 200 {
		t.Fatalf("PUT lock: status %d: %s", res.StatusCode, res.Body)
	}
	var locked struct {
		Lock shiplog.EnvironmentLock `json:"lock"`
	}
	decodeString(t, res.Body, &locked)
	wantLock := shiplog.EnvironmentLock{Environment: "prod", Reason: "incident 7", LockedBy: alice, LockedAt: locked.Lock.LockedAt}
	if locked.Lock != wantLock {
		t.Errorf("lock: got %+v, want %+v", locked.Lock, wantLock)
	}
	f.m.lock("prod", &wantLock)
	before := f.s.check(t, f.m, skipImages)

	fe := f.s.invokeFails(t, "deploy", []byte(fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"prod"}`, f.r2)))
	if fe.Type != "Conflict" || !strings.Contains(fe.Message, "locked") || !strings.Contains(fe.Message, "incident 7") {
		t.Errorf("deploy to a locked prod: got %s %q, want a Conflict saying who locked it and why", fe.Type, fe.Message)
	}
	if diff := cmp.Diff(before, f.s.check(t, f.m, skipImages)); diff != "" {
		t.Errorf("the refused deploy changed the stores (-before +after):\n%s", diff)
	}

	res = f.apiCall(t, "POST", "/projects/storage/environments/prod/emergency-deployments", fmt.Sprintf(`{"release_id":%q,"reason":"hotfix for incident 7"}`, f.r2))
	if res.StatusCode != 201 {
		t.Fatalf("POST emergency-deployments: status %d: %s", res.StatusCode, res.Body)
	}
	var out shiplog.DeployResult
	decodeString(t, res.Body, &out)
	d := out.Deployment
	if d.Override == nil || !cmp.Equal(*d.Override, shiplog.Override{Reason: "hotfix for incident 7", By: alice, Gates: []string{"lock"}}) || d.RequestedBy != alice {
		t.Errorf("emergency deployment: got override %+v by %+v, want alice's with the reason", d.Override, d.RequestedBy)
	}
	f.m.deploy(t, d, f.r2, nil)
	f.s.check(t, f.m, skipImages)

	res = f.apiCall(t, "DELETE", "/projects/storage/environments/prod/lock", "")
	if res.StatusCode != 200 {
		t.Fatalf("DELETE lock: status %d: %s", res.StatusCode, res.Body)
	}
	f.m.lock("prod", nil)
	f.s.check(t, f.m, withImages)
}

// rollbackHold rolls stage back from release 2 to release 1 through the API, holding it there.
func (f *flow) rollbackHold(t *testing.T) {
	reverted := f.m.envs["stage"].DeploymentID
	res := f.apiCall(t, "POST", "/projects/storage/environments/stage/rollback", `{"reason":"archivist errors","hold":true}`)
	if res.StatusCode != 201 {
		t.Fatalf("POST rollback: status %d: %s", res.StatusCode, res.Body)
	}
	var out shiplog.DeployResult
	decodeString(t, res.Body, &out)
	d := out.Deployment
	if d.Kind != shiplog.KindRollback || d.Reverts != reverted || out.Release.ID != f.r1 || d.Description != "archivist errors" {
		t.Errorf("rollback: got %+v of release %s, want a rollback of %s to release %s", d, out.Release.ID, reverted, f.r1)
	}
	f.m.hold = &shiplog.EnvironmentLock{Environment: "stage", Reason: "archivist errors", LockedBy: alice, LockedAt: d.CreatedAt, Rollback: d.ID}
	f.m.logged(shiplog.EventEnvironmentLocked)
	f.m.deploy(t, d, f.r1, []string{"archivist"}) // release 1 differs from 2 in archivist only
	f.s.check(t, f.m, withImages)
}

// apiErrors sends requests the API refuses: errors are HTTP answers, not function errors.
func (f *flow) apiErrors(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(ev map[string]any)
		wantStatus int
		wantKind   string
	}{
		{"unknown project", func(ev map[string]any) { setPath(ev, "GET", "/projects/nope/environments") }, 404, "NotFound"},
		{"unknown route", func(ev map[string]any) { setPath(ev, "GET", "/nothing/here") }, 404, "NotFound"},
		{"unknown environment", func(ev map[string]any) {
			setPath(ev, "POST", "/projects/storage/environments/prd/deployments")
			ev["body"] = `{"release_id":"latest"}`
		}, 404, "NotFound"},
		{"malformed body", func(ev map[string]any) {
			setPath(ev, "POST", "/projects/storage/environments/stage/deployments")
			ev["body"] = `{"release_id":`
		}, 400, "Invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.s.api(t, "api-post-deployment.json", tt.edit)
			var body struct {
				Error struct{ Kind, Message string } `json:"error"`
			}
			decodeString(t, res.Body, &body)
			if res.StatusCode != tt.wantStatus || body.Error.Kind != tt.wantKind || body.Error.Message == "" {
				t.Errorf("got %d %+v, want %d with kind %s and a message", res.StatusCode, body.Error, tt.wantStatus, tt.wantKind)
			}
		})
	}
	f.s.check(t, f.m, withImages)
}

// missingImage deletes archivist v1 from ECR and deploys release 1, which needs it, to prod.
func (f *flow) missingImage(t *testing.T) {
	v1 := f.s.images[archivistV1]
	var deleted struct {
		ImageIds []struct{ ImageDigest string } `json:"imageIds"`
		Failures []any                          `json:"failures"`
	}
	f.s.do(t, f.s.onMoto(&deleted, "ecr", "batch-delete-image", "--repository-name", v1.repository, "--image-ids", "imageDigest="+v1.digest))
	if len(deleted.ImageIds) == 0 || deleted.ImageIds[0].ImageDigest != v1.digest || len(deleted.Failures) != 0 {
		t.Fatalf("batch-delete-image %s: got %+v", v1.digest, deleted)
	}
	delete(f.m.tags[v1.repository], v1.digest)

	// The deletion is in the model, so this also checks that ECR no longer has the image.
	before := f.s.check(t, f.m, withImages)
	fe := f.s.invokeFails(t, "deploy", []byte(fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"prod"}`, f.r1)))
	if fe.Type != "Conflict" {
		t.Errorf("errorType %q, want Conflict (%s)", fe.Type, fe.Message)
	}
	for _, want := range []string{f.r1, "archivist (" + v1.uri + ")"} {
		if !strings.Contains(fe.Message, want) {
			t.Errorf("errorMessage %q does not name %q", fe.Message, want)
		}
	}
	for _, present := range []string{"bag-register", "bag_verifier", "notifier"} {
		if strings.Contains(fe.Message, present) {
			t.Errorf("errorMessage %q names %s, whose image is still in ECR", fe.Message, present)
		}
	}
	if diff := cmp.Diff(before, f.s.check(t, f.m, withImages)); diff != "" {
		t.Errorf("the refused deploy changed the stores (-before +after):\n%s", diff)
	}
}

// functionErrors sends invocations that each function refuses.
func (f *flow) functionErrors(t *testing.T) {
	tests := []struct {
		name, function, payload, wantType, wantIn string
	}{
		{"malformed JSON", "create-release", `{"project_id":`, "Invalid", "JSON"},
		{"unknown project", "create-release", `{"project_id":"nope"}`, "NotFound", "nope"},
		{"label without images", "create-release", `{"project_id":"storage","label":"stable"}`, "NotFound", "/storage/images/stable/"},
		{"unknown environment", "deploy", fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"prd"}`, f.r2), "NotFound", "stage, prod"},
		{"unknown release", "deploy", `{"project_id":"storage","release_id":"01JUNKJUNKJUNKJUNKJUNKJUNK","environment":"stage"}`, "NotFound", "01JUNKJUNKJUNKJUNKJUNKJUNK"},
		{"event without repository", "ecr-push", `{"source":"aws.ecr","detail-type":"ECR Image Action","time":"2026-11-20T09:15:02Z","detail":{"action-type":"PUSH","result":"SUCCESS","image-tag":"x"}}`, "Invalid", "repository-name"},
	}
	before := f.s.check(t, f.m, withImages)
	for _, tt := range tests {
		t.Run(tt.function+" "+tt.name, func(t *testing.T) {
			fe := f.s.invokeFails(t, tt.function, []byte(tt.payload))
			if fe.Type != tt.wantType || !strings.Contains(fe.Message, tt.wantIn) {
				t.Errorf("got %s %q, want %s mentioning %q", fe.Type, fe.Message, tt.wantType, tt.wantIn)
			}
		})
	}
	if diff := cmp.Diff(before, f.s.check(t, f.m, withImages)); diff != "" {
		t.Errorf("refused invocations changed the stores (-before +after):\n%s", diff)
	}
}

// api invokes the api function with an API Gateway HTTP API (payload 2.0) event read from
// testdata and changed by edit.
func (s *stack) api(t *testing.T, fixture string, edit func(ev map[string]any)) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(testdata(t, fixture), &ev); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(ev)
	}
	payload, _ := json.Marshal(ev)
	var res events.APIGatewayV2HTTPResponse
	s.invokeOK(t, "api", payload, &res)
	return res
}

// setPath points an HTTP API event at another route.
func setPath(ev map[string]any, method, path string) {
	ev["rawPath"] = path
	h := ev["requestContext"].(map[string]any)["http"].(map[string]any)
	h["method"], h["path"] = method, path
	ev["routeKey"] = "ANY /{proxy+}"
	ev["requestContext"].(map[string]any)["routeKey"] = "ANY /{proxy+}"
	delete(ev, "pathParameters")
}

// event is a sample EventBridge event from testdata, about one of the images in ECR.
func (s *stack) event(t *testing.T, sample, key, at string) []byte {
	t.Helper()
	img, ok := s.images[key]
	if !ok {
		t.Fatalf("no image %q", key)
	}
	var ev map[string]any
	if err := json.Unmarshal(testdata(t, sample), &ev); err != nil {
		t.Fatal(err)
	}
	ev["account"], ev["region"], ev["time"] = s.account, localaws.Region, at
	detail := ev["detail"].(map[string]any)
	detail["repository-name"] = img.repository
	for field, value := range map[string]string{"image-digest": img.digest, "image-tag": img.tag, "manifest-media-type": img.mediaType} {
		if _, ok := detail[field]; ok {
			detail[field] = value
		}
	}
	b, _ := json.Marshal(ev)
	return b
}

// storageImages are the storage project's images with archivist at the given build.
func (s *stack) storageImages(archivist string) map[string]string {
	return map[string]string{
		"archivist":                     s.images[archivist].uri,
		"bag-register":                  s.images[bagRegisterV1].uri,
		"bag_verifier_pre_replication":  s.images[bagVerifierV1].uri,
		"bag_verifier_post_replication": s.images[bagVerifierV1].uri,
		"notifier":                      s.images[notifierV1].uri,
	}
}

// servicesOf are the storage services a repository feeds.
func servicesOf(repository string) []string {
	switch repository {
	case "uk.ac.wellcome/bag_verifier":
		return []string{"bag_verifier_pre_replication", "bag_verifier_post_replication"}
	}
	return []string{repository[strings.LastIndex(repository, "/")+1:]}
}

// splitURI returns an image URI's repository and digest.
func splitURI(t *testing.T, uri string) (string, string) {
	t.Helper()
	_, rest, ok1 := strings.Cut(uri, ".amazonaws.com/")
	repo, digest, ok2 := strings.Cut(rest, "@")
	if !ok1 || !ok2 {
		t.Fatalf("%q is not a digest-pinned ECR image URI", uri)
	}
	return repo, digest
}

func unix(ts string) int64 {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, raw map[string]json.RawMessage, v any) {
	t.Helper()
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func decodeString(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// tagSource is what ecr-push learns of an image's source from its tag alone (moto's images carry
// no OCI annotations): nil when the tag says nothing.
func tagSource(tag string) *shiplog.ImageSource {
	src := shiplog.TagSource(tag)
	if src == (shiplog.ImageSource{}) {
		return nil
	}
	return &src
}
