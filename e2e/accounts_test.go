package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The three accounts of TestAcrossAccounts: tooling is moto's own (ECR and shiplog); stage lives
// in a second, in the same region; prod in a third, in another region.
const (
	stageAccount = "222222222222"
	prodAccount  = "333333333333"
	prodRegion   = "us-east-1"
)

// place is one account and region, as a test reaches it: through a role of the account, the way
// moto keeps accounts apart.
type place struct {
	account, region string
	cfg             aws.Config
}

func (s *stack) place(ctx context.Context, account, region string) place {
	cfg := s.moto.Config(ctx)
	cfg.Region = region
	if account != s.account {
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(s.moto.Config(ctx)),
			"arn:aws:iam::"+account+":role/e2e-inspector"))
	}
	return place{account: account, region: region, cfg: cfg}
}

func (p place) String() string { return "account " + p.account + ", region " + p.region }

// parameters returns every parameter of the place whose name begins with prefix.
func (p place) parameters(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	pages := ssm.NewGetParametersByPathPaginator(ssm.NewFromConfig(p.cfg), &ssm.GetParametersByPathInput{Path: aws.String("/"), Recursive: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		if err != nil {
			t.Fatalf("parameters of %s: %v", p, err)
		}
		for _, prm := range page.Parameters {
			if name := aws.ToString(prm.Name); strings.HasPrefix(name, prefix) {
				out[name] = aws.ToString(prm.Value)
			}
		}
	}
	return out
}

// TestAcrossAccounts runs the real functions with a project whose stage lives in a second account
// and prod in a third account and another region: images are pushed in tooling, a release names
// them, and each deploy writes its environment's parameters in that environment's account and
// region only; prod is refused until its images are replicated to prod's registry; drift and
// verification read the environment's account; a role of another account than the environment's
// is refused when the project is registered.
func TestAcrossAccounts(t *testing.T) {
	st.seed(t)
	s := st
	ctx := t.Context()
	tooling := s.place(ctx, s.account, localaws.Region)
	toolingProdRegion := s.place(ctx, s.account, prodRegion)
	stageAt := s.place(ctx, stageAccount, localaws.Region)
	prodAt := s.place(ctx, prodAccount, prodRegion)
	everywhere := []place{tooling, toolingProdRegion, stageAt, s.place(ctx, stageAccount, prodRegion), prodAt, s.place(ctx, prodAccount, localaws.Region)}

	const project = "bugfarm"
	entry := fmt.Sprintf(`{"name": "Bug farm", "environments": [
	    {"id": "stage", "role_arn": "arn:aws:iam::%s:role/shiplog-target"},
	    {"id": "prod", "account_id": %q, "role_arn": "arn:aws:iam::%s:role/shiplog-target", "external_id": "bugfarm-prod", "aws_region_name": %q,
	     "requires": ["stage"], "ecs": {"cluster": "bugfarm-prod"}}],
	  "image_repositories": [{"id": "uk.ac.wellcome/archivist"}, {"id": "uk.ac.wellcome/notifier"}]}`, stageAccount, prodAccount, prodAccount, prodRegion)

	// A role of another account than the environment's is refused, and nothing registered.
	bad := strings.Replace(entry, `"role_arn": "arn:aws:iam::`+prodAccount, `"role_arn": "arn:aws:iam::444444444444`, 1)
	fe := s.invokeFails(t, "create-release", []byte(fmt.Sprintf(`{"project_id":%q,"manifest":{%q:%s}}`, project, project, bad)))
	if fe.Type != "Invalid" || !strings.Contains(fe.Message, "environments[1].role_arn") || !strings.Contains(fe.Message, "is a role of account 444444444444, but the environment is in account "+prodAccount) {
		t.Errorf("a role of another account: got %s %q, want Invalid naming role_arn and both accounts", fe.Type, fe.Message)
	}
	if res := s.apiAs(t, "GET", "/projects/"+project, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("after the refused registration: GET /projects/%s answered %d, want 404", project, res.StatusCode)
	}

	// Register (the release is refused: nothing pushed yet), push in tooling, release.
	register := []byte(fmt.Sprintf(`{"project_id":%q,"manifest":{%q:%s},"requested_by":{"id":"ci","name":"Buildkite"}}`, project, project, entry))
	if fe := s.invokeFails(t, "create-release", register); fe.Type != "Conflict" {
		t.Fatalf("first create-release: %s %s, want Conflict (no image yet)", fe.Type, fe.Message)
	}
	for _, key := range []string{archivistV1, notifierV1} {
		s.invokeOK(t, "ecr-push", s.event(t, "ecr-push-tagged.json", key, t1), &map[string]any{})
	}
	var rel shiplog.Release
	s.invokeOK(t, "create-release", register, &rel)
	want := map[string]string{"archivist": s.images[archivistV1].uri, "notifier": s.images[notifierV1].uri}
	if fmt.Sprint(rel.Images) != fmt.Sprint(want) {
		t.Fatalf("release images: got %v, want %v", rel.Images, want)
	}
	stageParams := map[string]string{"/bugfarm/images/stage/archivist": want["archivist"], "/bugfarm/images/stage/notifier": want["notifier"]}
	prodParams := map[string]string{"/bugfarm/images/prod/archivist": want["archivist"], "/bugfarm/images/prod/notifier": want["notifier"]}
	// wantParams holds each place to the parameters of each environment it should have.
	wantParams := func(t *testing.T, at map[string]map[string]string) {
		t.Helper()
		for _, p := range everywhere {
			for _, env := range []string{"stage", "prod"} {
				got := p.parameters(t, "/bugfarm/images/"+env+"/")
				w := map[string]string{}
				for k, v := range at[p.String()] {
					if strings.HasPrefix(k, "/bugfarm/images/"+env+"/") {
						w[k] = v
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("%s's parameters in %s: got %v, want %v", env, p, got, w)
				}
			}
		}
	}

	// Stage, in the tooling account's region, pulls from tooling's registry (shared): its deploy
	// writes stage's parameters in stage's account only.
	var res shiplog.DeployResult
	s.invokeOK(t, "deploy", []byte(fmt.Sprintf(`{"project_id":%q,"release_id":%q,"environment":"stage","requested_by":{"id":"ci","name":"Buildkite"}}`, project, rel.ID)), &res)
	if res.Deployment.Status != shiplog.StatusApplied {
		t.Errorf("stage's deployment: status %q, want applied", res.Deployment.Status)
	}
	wantParams(t, map[string]map[string]string{stageAt.String(): stageParams})
	report := fmt.Sprintf(`{"project_id":%q,"report":{"deployment_id":%q,"status":"verified"},"requested_by":{"id":"ci"}}`, project, res.Deployment.ID)
	s.invokeOK(t, "deploy", []byte(report), &map[string]any{})

	// Prod, in another region, pulls from the replica in its own account and region, which has
	// neither image yet: refused, naming them and where they were looked for; nothing written.
	deployProd := []byte(fmt.Sprintf(`{"project_id":%q,"release_id":%q,"environment":"prod","requested_by":{"id":"ci","name":"Buildkite"}}`, project, rel.ID))
	fe = s.invokeFails(t, "deploy", deployProd)
	replicaOf := func(uri string) string {
		return prodAccount + ".dkr.ecr." + prodRegion + ".amazonaws.com/" + uri[strings.Index(uri, "/")+1:]
	}
	if fe.Type != "Conflict" {
		t.Errorf("deploy to prod before replication: errorType %q, want Conflict (%s)", fe.Type, fe.Message)
	}
	for _, part := range []string{"account " + prodAccount + ", region " + prodRegion, "archivist (" + want["archivist"], replicaOf(want["archivist"]), "notifier (", replicaOf(want["notifier"])} {
		if !strings.Contains(fe.Message, part) {
			t.Errorf("deploy to prod before replication: %q does not name %q", fe.Message, part)
		}
	}
	wantParams(t, map[string]map[string]string{stageAt.String(): stageParams})

	// Replicate one image: still refused, naming only the other.
	prodECR := ecr.NewFromConfig(prodAt.cfg)
	replicate := func(key string) {
		t.Helper()
		img := s.images[key]
		if _, err := prodECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(img.repository)}); err != nil {
			t.Fatal(err)
		}
		out, err := prodECR.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(img.repository), ImageManifest: aws.String(manifestFor(key)),
			ImageManifestMediaType: aws.String(ociManifest), ImageTag: aws.String(img.tag)})
		if err != nil {
			t.Fatal(err)
		}
		if d := aws.ToString(out.Image.ImageId.ImageDigest); d != img.digest {
			t.Fatalf("replica of %s: digest %s, want %s", key, d, img.digest)
		}
	}
	replicate(archivistV1)
	fe = s.invokeFails(t, "deploy", deployProd)
	if fe.Type != "Conflict" || strings.Contains(fe.Message, "archivist") || !strings.Contains(fe.Message, replicaOf(want["notifier"])) {
		t.Errorf("deploy to prod with archivist replicated: got %s %q, want Conflict naming notifier only", fe.Type, fe.Message)
	}
	wantParams(t, map[string]map[string]string{stageAt.String(): stageParams})
	// The API says so before any deploy is tried: prod needs what stage runs, and its replica,
	// read through prod's role, lacks the notifier.
	envs := s.environments(t, project)
	wantUnreplicated := []shiplog.Unreplicated{{Service: "notifier", Image: want["notifier"], LookedFor: replicaOf(want["notifier"]), From: "stage"}}
	if diff := cmp.Diff(wantUnreplicated, envs[1].Unreplicated); diff != "" || len(envs[0].Unreplicated) != 0 {
		t.Errorf("environments with archivist replicated: stage %+v; prod (-want +got):\n%s", envs[0].Unreplicated, diff)
	}

	// Both replicated: the deploy writes prod's parameters in prod's account and region only.
	replicate(notifierV1)
	s.invokeOK(t, "deploy", deployProd, &res)
	if res.Deployment.Status != shiplog.StatusApplied {
		t.Errorf("prod's deployment: status %q, want applied", res.Deployment.Status)
	}
	prodDeployment := res.Deployment.ID
	wantParams(t, map[string]map[string]string{stageAt.String(): stageParams, prodAt.String(): prodParams})

	// prod's cluster, in prod's account and region only, runs the release: drift and verification
	// read it there (the tooling account has no such cluster).
	prodECS := ecs.NewFromConfig(prodAt.cfg)
	if _, err := prodECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bugfarm-prod")}); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"archivist", "notifier"} {
		td, err := prodECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("bugfarm-" + svc),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(svc), Image: aws.String(want[svc]), Memory: aws.Int32(128)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prodECS.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("bugfarm-prod"), ServiceName: aws.String(svc),
			TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
	}
	// The API shows where each environment lives, and drift read there: none yet.
	envs = s.environments(t, project)
	for _, e := range envs {
		if len(e.Drift) != 0 || len(e.Unreplicated) != 0 {
			t.Errorf("%s: drift %+v, unreplicated %+v, want none", e.Environment.ID, e.Drift, e.Unreplicated)
		}
	}
	if got := envs[1].Environment.Placement; got.AccountID != prodAccount || got.Region != prodRegion || got.RoleARN == "" {
		t.Errorf("prod's placement in the API: got %+v, want account %s, region %s and its role", got, prodAccount, prodRegion)
	}
	// A hand edit in prod's account is prod's drift, and only prod's.
	if _, err := ssm.NewFromConfig(prodAt.cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/bugfarm/images/prod/notifier"),
		Value: aws.String("edited-by-hand"), Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	envs = s.environments(t, project)
	if len(envs[0].Drift) != 0 {
		t.Errorf("stage after an edit in prod's account: drift %+v, want none", envs[0].Drift)
	}
	if d := envs[1].Drift; len(d) < 1 || d[0].Service != "notifier" || d[0].Kind != shiplog.DriftParameterChanged || d[0].Actual != "edited-by-hand" {
		t.Errorf("prod after an edit in its account: drift %+v, want notifier parameter_changed to edited-by-hand", d)
	}

	// Verification reads ECS in prod's account and region.
	resp := s.apiAs(t, "POST", "/projects/"+project+"/environments/prod/deployments/"+prodDeployment+"/verify", "")
	var verified shiplog.VerifyResult
	if err := json.Unmarshal([]byte(resp.Body), &verified); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("verify prod: %d %s (%v)", resp.StatusCode, resp.Body, err)
	}
	if verified.Deployment.Status != shiplog.StatusVerified || len(verified.Checks) != 2 {
		t.Errorf("verify prod: got status %q and checks %+v, want verified by both services running in prod's account", verified.Deployment.Status, verified.Checks)
	}
}

// environments reads a project's environments through the API.
func (s *stack) environments(t *testing.T, project string) []shiplog.EnvironmentStatus {
	t.Helper()
	res := s.apiAs(t, "GET", "/projects/"+project+"/environments", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET environments: %d %s", res.StatusCode, res.Body)
	}
	var body struct {
		Items []shiplog.EnvironmentStatus `json:"items"`
	}
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil || len(body.Items) != 2 {
		t.Fatalf("GET environments: %s (%v)", res.Body, err)
	}
	return body.Items
}

// apiAs sends one request through the api function, as alice.
func (s *stack) apiAs(t *testing.T, method, path, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	return s.api(t, "api-post-deployment.json", func(ev map[string]any) {
		setPath(ev, method, path)
		ev["body"] = body
		ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
	})
}
