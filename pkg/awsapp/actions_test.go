package awsapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsdynamo/eventitems"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/awseventbridge"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awssqs"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// iamRecorder records the IAM actions an SDK client's calls need. Most operations are their own
// action; TransactWriteItems is authorized item by item, so it records each item's action.
// DynamoDB actions are recorded per table (and index) they touch, named as awsapp.FunctionTables
// names them.
type iamRecorder struct {
	tables awsapp.Tables
	mu     sync.Mutex
	// actions are the non-DynamoDB actions; tableActions maps a table or index to its actions.
	actions      map[string]bool
	tableActions map[string]map[string]bool
	// parameters are the SSM names (and paths) each SSM action was called with.
	parameters map[string][]string
}

func newRecorder(tables awsapp.Tables) *iamRecorder {
	return &iamRecorder{tables: tables, actions: map[string]bool{}, tableActions: map[string]map[string]bool{}, parameters: map[string][]string{}}
}

func (r *iamRecorder) option() func(*aws.Config) {
	return func(cfg *aws.Config) {
		cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iamRecorder",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					r.record(ctx, in.Parameters)
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	}
}

// table names a table as FunctionTables does, from its real name; an unknown table fails loudly.
func (r *iamRecorder) table(name *string, index *string) string {
	var t string
	switch aws.ToString(name) {
	case r.tables.Releases:
		t = awsapp.ReleasesTable
	case r.tables.State:
		t = awsapp.StateTable
	default:
		t = "unknown table " + aws.ToString(name)
	}
	if index != nil {
		return awsapp.IndexResource(t, *index)
	}
	return t
}

func (r *iamRecorder) recordTable(table, action string) {
	if r.tableActions[table] == nil {
		r.tableActions[table] = map[string]bool{}
	}
	r.tableActions[table][action] = true
}

func (r *iamRecorder) record(ctx context.Context, params any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	action := localaws.Action(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				r.recordTable(r.table(it.Put.TableName, nil), "dynamodb:PutItem")
			case it.Update != nil:
				r.recordTable(r.table(it.Update.TableName, nil), "dynamodb:UpdateItem")
			case it.Delete != nil:
				r.recordTable(r.table(it.Delete.TableName, nil), "dynamodb:DeleteItem")
			case it.ConditionCheck != nil:
				r.recordTable(r.table(it.ConditionCheck.TableName, nil), "dynamodb:ConditionCheckItem")
			}
		}
	case *dynamodb.BatchGetItemInput:
		for name := range in.RequestItems {
			r.recordTable(r.table(&name, nil), action)
		}
	case *dynamodb.QueryInput:
		r.recordTable(r.table(in.TableName, in.IndexName), action)
	case *dynamodb.GetItemInput:
		r.recordTable(r.table(in.TableName, nil), action)
	case *dynamodb.PutItemInput:
		r.recordTable(r.table(in.TableName, nil), action)
	case *dynamodb.UpdateItemInput:
		r.recordTable(r.table(in.TableName, nil), action)
	case *dynamodb.DeleteItemInput:
		r.recordTable(r.table(in.TableName, nil), action)
	case *ssm.GetParameterInput:
		r.actions[action] = true
		r.parameters[action] = append(r.parameters[action], aws.ToString(in.Name))
	case *ssm.GetParametersInput:
		r.actions[action] = true
		r.parameters[action] = append(r.parameters[action], in.Names...)
	case *ssm.GetParametersByPathInput:
		r.actions[action] = true
		r.parameters[action] = append(r.parameters[action], aws.ToString(in.Path))
	case *ssm.PutParameterInput:
		r.actions[action] = true
		r.parameters[action] = append(r.parameters[action], aws.ToString(in.Name))
	default:
		if strings.HasPrefix(action, "dynamodb:") {
			r.recordTable("a call the recorder does not know the table of", action)
			return
		}
		r.actions[action] = true
	}
}

func (r *iamRecorder) list() (actions []string, tables map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tables = map[string][]string{}
	for t, as := range r.tableActions {
		tables[t] = slices.Sorted(maps.Keys(as))
	}
	return slices.Sorted(maps.Keys(r.actions)), tables
}

const account = "123456789012" // moto's account

// farAccount is the account of an environment that lives elsewhere.
const farAccount = "210987654321"

// image puts a distinct image into an ECR repository and returns its digest.
func image(t *testing.T, client *ecr.Client, repo string, n int) string {
	t.Helper()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:%064x"},"layers":[]}`, n)
	out, err := client.PutImage(t.Context(), &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(m), ImageTag: aws.String(fmt.Sprintf("build-%d", n)),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Read the digest back rather than computing it: it is the registry's to say.
	return aws.ToString(out.Image.ImageId.ImageDigest)
}

func pushEvent(repo, digest, at string) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"e","detail-type":"ECR Image Action","source":"aws.ecr","account":%q,"time":%q,"region":"eu-west-1","resources":[],"detail":{"result":"SUCCESS","repository-name":%q,"image-digest":%q,"action-type":"PUSH","image-tag":"t"}}`, account, at, repo, digest)
}

// TestFunctionActions runs each function's code through every path it has against moto and
// holds the IAM actions its calls need to awsapp.FunctionActions, in both directions: a call
// outside the list would be denied in AWS, and an action on the list that no path uses is more
// privilege than the function needs.
func TestFunctionActions(t *testing.T) {
	m := localaws.SharedMoto(t)
	ctx := t.Context()
	// With a prefix, so that the recorded names show the prefix applied to every call.
	tables := awsapp.Tables{Releases: localaws.UniqueName("releases"), State: localaws.UniqueName("state"), ParameterPrefix: localaws.UniqueName("/stack")}
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(m.Config(ctx)), tables.Releases, tables.State); err != nil {
		t.Fatal(err)
	}
	ecrClient := ecr.NewFromConfig(m.Config(ctx))
	repo := localaws.UniqueName("team") + "/app"
	if _, err := ecrClient.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	d1, d2 := image(t, ecrClient, repo, 1), image(t, ecrClient, repo, 2)
	// prod runs on ECS the image its deployment will deploy (d2, the newest push), by digest, so
	// that ECS's events verify it.
	ecsClient := ecs.NewFromConfig(m.Config(ctx))
	cluster := localaws.UniqueName("cluster")
	if _, err := ecsClient.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	// far's account has a cluster of the same name (with no services).
	farCfg := m.Config(ctx)
	farCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(m.Config(ctx)), "arn:aws:iam::"+farAccount+":role/setup"))
	if _, err := ecs.NewFromConfig(farCfg).CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	ecsDeployments := map[string]string{} // service -> its ECS deployment, which ECS's events name
	for svc, im := range map[string]string{"web": account + ".dkr.ecr.eu-west-1.amazonaws.com/" + repo + "@" + d2, "worker-prod": account + ".dkr.ecr.eu-west-1.amazonaws.com/" + repo + "@" + d2} {
		td, err := ecsClient.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String(cluster + "-" + svc),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(svc), Image: aws.String(im), Memory: aws.Int32(128)}}})
		if err != nil {
			t.Fatal(err)
		}
		created, err := ecsClient.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc),
			TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(0)})
		if err != nil {
			t.Fatal(err)
		}
		if deps := created.Service.Deployments; len(deps) > 0 {
			ecsDeployments[svc] = aws.ToString(deps[0].Id)
		}
	}
	project := localaws.UniqueName("proj")
	// far lives in another account, reached through the role the target-account template makes
	// there (moto keeps the accounts apart for the assumed role's credentials).
	// prod and far name CloudWatch alarms (far's in its own account, read through the role), and
	// prod bakes and refuses CRITICAL findings (its images have no scan, which it allows): the
	// gates read CloudWatch and ECR, and an alarm event is checked against the alarm.
	alarm := localaws.UniqueName("alarm")
	for _, cfg := range []aws.Config{m.Config(ctx), farCfg} {
		if _, err := cloudwatch.NewFromConfig(cfg).PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(alarm), MetricName: aws.String("5XXError"), Namespace: aws.String("AWS/ApplicationELB"),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, EvaluationPeriods: aws.Int32(1), Period: aws.Int32(60),
			Statistic: cwtypes.StatisticSum, Threshold: aws.Float64(5),
		}); err != nil {
			t.Fatal(err)
		}
	}
	entry := fmt.Sprintf(`{"name":"P","tag_deployed_images":true,"environments":[{"id":"stage"},{"id":"prod","ecs":{"cluster":%q,"services":{"worker":"worker-prod"}},`+
		`"alarms":[%q],"bake":"1h","max_finding_severity":"CRITICAL","allow_unscanned":true},`+
		`{"id":"far","role_arn":"arn:aws:iam::%s:role/shiplog-target","ecs":{"cluster":%q},"alarms":[%q]}],"image_repositories":[{"id":%q,"services":["web","worker"]}]}`, cluster, alarm, farAccount, cluster, alarm, repo)
	manifest := fmt.Sprintf(`{%q:%s}`, project, entry)

	// GitHub enrichment is on, as the template's GitHubTokenParameter turns it on for deploy and
	// api: the token in a SecureString, the API a local fake.
	tokenParam := localaws.UniqueName("/teams/platform/github-token")
	if _, err := ssm.NewFromConfig(m.Config(ctx)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(tokenParam), Value: aws.String("github_pat_test"),
		Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	gh := newFakeGitHub(t)

	recorders := map[string]*iamRecorder{}
	functions := map[string]awslambda.Function{}
	services := map[string]*shiplog.Service{}
	var api http.Handler
	for _, name := range []string{awslambda.ECRPushName, awslambda.CreateReleaseName, awslambda.DeployName, awslambda.ECSEventsName, awslambda.APIName} {
		rec := newRecorder(tables)
		recorders[name] = rec
		cfg := m.Config(ctx, rec.option())
		// As in each function's main: a registry only where the function calls ECR, a runtime
		// where it calls ECS, and no parameter store for the function that only verifies.
		var registry shiplog.Registry
		if callsService(name, "ecr") {
			registry = awsecr.NewFromConfig(cfg)
		}
		var svc *shiplog.Service
		if name == awslambda.ECSEventsName {
			// As functions/ecs-events builds it: DynamoDB and ECS, no SSM.
			svc = shiplog.NewService(nil, awsdynamo.New(dynamodb.NewFromConfig(cfg), tables.Releases, tables.State), nil, nil)
			svc.Runtime = awsecs.NewFromConfig(cfg)
			svc.Home = shiplog.Location{Account: account, Region: "eu-west-1"}
			svc.Alarms = awscloudwatch.NewFromConfig(cfg)
			svc.Places = awssts.New(cfg, awssts.Clients{Runtime: awsecs.Runtimes, Alarms: awscloudwatch.Readers}, awssts.Home{Runtime: svc.Runtime, Alarms: svc.Alarms})
		} else {
			svc = awsapp.NewFromConfig(cfg, tables, registry, nil)
			if name == awslambda.ECRPushName {
				// As functions/ecr-push: no registry (it never deploys), ECR for annotations.
				svc.Registry = nil
				svc.Metadata = awsecr.NewFromConfig(cfg)
			}
			if callsService(name, "ecs") {
				svc.Runtime = awsecs.NewFromConfig(cfg)
			}
			// As deploy and api wire the gates' reads.
			if callsService(name, "cloudwatch") {
				svc.Alarms = awscloudwatch.NewFromConfig(cfg)
			}
			if slices.Contains(awsapp.FunctionActions[name], "ecr:DescribeImageScanFindings") {
				svc.Findings = awsecr.NewFromConfig(cfg)
			}
			// As each main wires it: the clients of other accounts are the function's own kinds.
			if callsService(name, "sts") {
				clients := awssts.Clients{Parameters: awsapp.ParametersIn(tables)}
				if registry != nil {
					clients.Registry = awsecr.Registries
				}
				if svc.Runtime != nil {
					clients.Runtime = awsecs.Runtimes
				}
				if svc.Alarms != nil {
					clients.Alarms = awscloudwatch.Readers
				}
				svc.Places = awssts.New(cfg, clients, awssts.Home{Parameters: svc.Params, Registry: svc.Registry, Runtime: svc.Runtime, Alarms: svc.Alarms})
			}
		}
		// As functions/deploy and functions/api wire it with SHIPLOG_GITHUB_TOKEN_PARAMETER set.
		if awsapp.FunctionParameters[name]["ssm:GetParameter"] == awsapp.GitHubToken {
			commits, err := awsapp.GitHubCommits(cfg, tokenParam, gh.URL)
			if err != nil {
				t.Fatal(err)
			}
			svc.Commits = commits
		}
		services[name] = svc
		if name == awslambda.APIName {
			api = httpapi.NewHandler(svc, nil)
			continue
		}
		functions[name] = awslambda.Functions(svc, nil, awslambda.AllowAll())[name]
	}
	invoke := func(fn string, payload string, wantErr bool) {
		t.Helper()
		_, err := functions[fn].Invoke(ctx, []byte(payload))
		if (err != nil) != wantErr {
			t.Fatalf("%s %s: error %v, want error: %v", fn, payload, err, wantErr)
		}
	}
	callWith := func(method, path, body, key string, want int) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if key != "" {
			req.Header.Set(httpapi.IdempotencyKeyHeader, key)
		}
		req = req.WithContext(httpapi.WithIdentity(req.Context(), shipper))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body)
		}
	}
	call := func(method, path, body string, want int) {
		t.Helper()
		callWith(method, path, body, "", want)
	}

	// A project with more repositories than one transaction takes is registered in several
	// steps; re-registering it without them deletes their mappings.
	var many []string
	for i := range 120 {
		many = append(many, fmt.Sprintf(`{"id":"%s-%d"}`, repo, i))
	}
	big := fmt.Sprintf(`{"name":"P","environments":[{"id":"stage"}],"image_repositories":[%s]}`, strings.Join(many, ","))

	// create-release registers the manifest (before any push, so the release is refused).
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"manifest":{%q:%s}}`, project, project, big), true)
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"manifest":%s}`, project, manifest), true)
	// deploy before any release: refused after finding the project exists.
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"stage"}`, project), true)
	// ecr-push: a new push, a duplicate, an older one.
	invoke(awslambda.ECRPushName, string(pushEvent(repo, d2, "2026-11-20T10:00:00Z")), false)
	invoke(awslambda.ECRPushName, string(pushEvent(repo, d2, "2026-11-20T10:00:00Z")), false)
	invoke(awslambda.ECRPushName, string(pushEvent(repo, d1, "2026-11-20T09:00:00Z")), false)
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q}`, project), false)
	// create-release with a key: the first records it, a retry reads it, another request is refused.
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"idempotency_key":"k1"}`, project), false)
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"idempotency_key":"k1"}`, project), false)
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"idempotency_key":"k1","description":"d"}`, project), true)
	// deploy: first (writes and settles), again (writes nothing), latest to prod.
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"stage"}`, project), false)
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"stage"}`, project), false)

	// api: every route.
	call("PUT", "/projects/"+project, big, 200)
	call("PUT", "/projects/"+project, entry, 200)
	call("GET", "/projects", "", 200)
	call("GET", "/projects/"+project, "", 200)
	call("GET", "/projects/"+project+"/images/latest", "", 200)
	call("POST", "/projects/"+project+"/releases", `{}`, 201)
	callWith("POST", "/projects/"+project+"/releases", `{}`, "k2", 201)
	callWith("POST", "/projects/"+project+"/releases", `{}`, "k2", 201)
	callWith("POST", "/projects/"+project+"/releases", `{"description":"d"}`, "k2", 409)
	call("GET", "/projects/"+project+"/releases", "", 200)
	call("GET", "/projects/"+project+"/releases/latest", "", 200)
	call("POST", "/projects/"+project+"/environments/prod/deployments", `{"release_id":"latest"}`, 201)
	// By id, the release is read with the project and the state (by "latest", the pointer is).
	newest, err := services[awslambda.APIName].Release(ctx, project, shiplog.LatestRelease)
	if err != nil {
		t.Fatal(err)
	}
	call("POST", "/projects/"+project+"/environments/prod/deployments", fmt.Sprintf(`{"release_id":%q}`, newest.ID), 201)
	call("GET", "/projects/"+project+"/deployments?environment=prod", "", 200)
	call("GET", "/projects/"+project+"/environments", "", 200)
	call("GET", "/projects/"+project+"/diff?from=environment:stage&to=label:latest", "", 200)
	call("PUT", "/projects/"+project+"/environments/prod/lock", `{"reason":"r"}`, 200)
	call("POST", "/projects/"+project+"/environments/prod/emergency-deployments", `{"release_id":"latest","reason":"r"}`, 201)
	call("DELETE", "/projects/"+project+"/environments/prod/lock", "", 200)
	call("POST", "/projects/"+project+"/environments/stage/rollback", `{"reason":"r"}`, 409)
	call("PUT", "/projects/"+project+"/freezes/f", `{"starts_at":1900000000,"ends_at":1900003600,"reason":"r"}`, 201)
	call("GET", "/projects/"+project+"/freezes", "", 200)
	call("DELETE", "/projects/"+project+"/freezes/f", "", 200)
	// deploy: a plan, a promotion to prod (which runs it already, from the API), a rollback of stage (refused: it has run one release).
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"stage","dry_run":true}`, project), false)
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"from_environment":"stage","environment":"prod"}`, project), false)
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"environment":"stage","rollback":true,"reason":"r"}`, project), true)
	// far: a deploy writes there through the role, and so does the API's; both read drift there,
	// and a release from far's label reads it there.
	invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"far"}`, project), false)
	call("POST", "/projects/"+project+"/environments/far/deployments", fmt.Sprintf(`{"release_id":%q}`, newest.ID), 201)
	call("GET", "/projects/"+project+"/images/far", "", 200)
	invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q,"label":"far"}`, project), false)

	// ecs-events: ECS says prod's services completed their deployments (again: at least once).
	for _, svc := range []string{"web", "worker-prod", "web"} {
		// Dated now (after the deployment was applied), naming the ECS deployment that rolls out
		// the deployed images, from the stack's own account and region: an event shiplog accepts.
		ev := fmt.Sprintf(`{"version":"0","id":"e","detail-type":"ECS Deployment State Change","source":"aws.ecs","account":%q,"time":%q,"region":"eu-west-1","resources":["arn:aws:ecs:eu-west-1:%s:service/%s/%s"],"detail":{"eventType":"INFO","eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":%q,"reason":"ECS deployment completed."}}`,
			account, time.Now().UTC().Format(time.RFC3339), account, cluster, svc, ecsDeployments[svc])
		if _, err := functions[awslambda.ECSEventsName].Invoke(ctx, []byte(ev)); err != nil {
			t.Fatalf("ecs-events %s: %v", svc, err)
		}
	}
	// ECS in far's account: read through the role (the event is from where far's cluster is;
	// the ECS deployment it names is not listed there, so it changes nothing).
	farEvent := fmt.Sprintf(`{"version":"0","id":"e","detail-type":"ECS Deployment State Change","source":"aws.ecs","account":%q,"time":%q,"region":"eu-west-1","resources":["arn:aws:ecs:eu-west-1:%s:service/%s/web"],"detail":{"eventType":"INFO","eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":"ecs-svc/1234567890123456789","reason":"ECS deployment completed."}}`,
		farAccount, time.Now().UTC().Format(time.RFC3339), farAccount, cluster)
	if out, err := functions[awslambda.ECSEventsName].Invoke(ctx, []byte(farEvent)); err != nil || !strings.Contains(string(out), "does not list deployment") {
		t.Fatalf("ecs-events from far's account: %s, %v; want far's ECS read, and the event ignored", out, err)
	}
	// api: a deployment's status, a report, and a check on ECS now.
	envs, err := services[awslambda.APIName].Environments(ctx, project)
	if err != nil || envs[1].Current == nil {
		t.Fatalf("environments: %v, %v", envs, err)
	}
	prodDeployment := envs[1].Current.DeploymentID
	// ECS's events, read against moto's ECS, verified prod's deployment.
	if envs[1].Status != shiplog.StatusVerified {
		t.Errorf("prod after ECS's completed deployments: got status %q, want verified", envs[1].Status)
	}
	call("GET", "/projects/"+project+"/deployments/"+prodDeployment, "", 200)
	call("POST", "/projects/"+project+"/environments/prod/deployments/"+prodDeployment+"/verify", "", 200)
	call("POST", "/projects/"+project+"/environments/prod/deployments/"+prodDeployment+"/status", `{"status":"verified"}`, 200)
	// ecs-events: prod's alarm enters ALARM within its bake; the function reads the alarm before
	// it fails the deployment.
	if _, err := cloudwatch.NewFromConfig(m.Config(ctx)).SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
		AlarmName: aws.String(alarm), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("5xx"),
	}); err != nil {
		t.Fatal(err)
	}
	alarmEv := fmt.Sprintf(`{"version":"0","id":"a","detail-type":"CloudWatch Alarm State Change","source":"aws.cloudwatch","account":%q,"time":%q,"region":"eu-west-1","resources":["arn:aws:cloudwatch:eu-west-1:%s:alarm:%s"],"detail":{"alarmName":%q,"state":{"value":"ALARM","reason":"5xx"}}}`,
		account, time.Now().UTC().Format(time.RFC3339), account, alarm, alarm)
	if out, err := functions[awslambda.ECSEventsName].Invoke(ctx, []byte(alarmEv)); err != nil || !strings.Contains(string(out), `"status":"failed"`) {
		t.Fatalf("ecs-events on prod's alarm: %s, %v; want prod's deployment failed", out, err)
	}
	for _, name := range []string{awslambda.ECSEventsName, awslambda.APIName} {
		// moto's DescribeTasks answers are unreadable by the SDK and its services run no tasks
		// (see pkg/awsecs's tests), so the tasks of a service whose image is named by tag are
		// never listed or described here; awsecs's fake-client test makes those calls.
		recorders[name].mu.Lock()
		recorders[name].actions["ecs:ListTasks"] = true
		recorders[name].actions["ecs:DescribeTasks"] = true
		recorders[name].mu.Unlock()
	}

	// deploy: the scheduler's tick, over a project whose stage is auto-promoted from the newest
	// build and rolled back automatically: the tick releases the build under latest (put there
	// as ecr-push would, not recorded) and deploys it; a second release (from the API, which
	// here, as ecs-events, leaves automation to the tick) the same; a failure reported, and the
	// next tick rolls stage back, held.
	auto := localaws.UniqueName("auto")
	call("PUT", "/projects/"+auto, fmt.Sprintf(`{"name":"A","environments":[{"id":"stage","auto_promote":{"from":"latest"},"auto_rollback":true},`+
		`{"id":"prod","requires":["stage"],"auto_promote":true}],"image_repositories":[{"id":%q,"services":["web"]}]}`, repo), 201)
	if _, err := ssm.NewFromConfig(m.Config(ctx)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(tables.ParameterPrefix + "/" + auto + "/images/latest/web"),
		Value: aws.String(account + ".dkr.ecr.eu-west-1.amazonaws.com/" + repo + "@" + d1), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	invoke(awslambda.DeployName, awslambda.TickPayload, false)
	call("POST", "/projects/"+auto+"/releases", `{}`, 201)
	invoke(awslambda.DeployName, awslambda.TickPayload, false)
	autoEnvs, err := services[awslambda.APIName].Environments(ctx, auto)
	if err != nil || autoEnvs[0].Current == nil || autoEnvs[0].Current.RequestedBy.ID != "shiplog" {
		t.Fatalf("auto's environments after two ticks: %+v, %v; want stage deployed by shiplog", autoEnvs, err)
	}
	failedRelease := autoEnvs[0].Current.ReleaseID
	call("POST", "/projects/"+auto+"/environments/stage/deployments/"+autoEnvs[0].Current.DeploymentID+"/status", `{"status":"failed"}`, 200)
	invoke(awslambda.DeployName, awslambda.TickPayload, false)
	autoEnvs, err = services[awslambda.APIName].Environments(ctx, auto)
	if err != nil || autoEnvs[0].Current.ReleaseID == failedRelease || autoEnvs[0].Lock == nil {
		t.Fatalf("auto's stage after the failure and a tick: %+v, %v; want it rolled back from %s, held", autoEnvs[0], err, failedRelease)
	}

	// events: the state table's stream (read as Lambda's poller reads it, with no recorder: the
	// code does not make those calls) handed to the function, which puts the events on the bus.
	rec := newRecorder(tables)
	recorders[awslambda.EventsName] = rec
	records, err := localaws.StreamRecords(ctx, m.Config(ctx), tables.State)
	if err != nil {
		t.Fatal(err)
	}
	publish := awslambda.Events(awseventbridge.New(eventbridge.NewFromConfig(m.Config(ctx, rec.option())), "default"), eventitems.FromStream, slog.New(slog.DiscardHandler))
	if res, err := publish(ctx, events.DynamoDBEvent{Records: records}); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("events on %d stream records: %v, failures %v", len(records), err, res.BatchItemFailures)
	}

	// notify: a real event of the run, in the envelope EventBridge's rule delivers, to two
	// destinations whose URLs (and the webhook's secret) are SecureString parameters under the
	// configuration's: one takes it, one refuses it (dead-lettered, on SQS); the event again (a
	// duplicate); and with a dead-letter queue that refuses too (the claim given up).
	var requested shiplog.Event
	for _, r := range records {
		if ev, ok, err := eventitems.FromStream(r); err != nil {
			t.Fatal(err)
		} else if ok && ev.Type == shiplog.EventDeploymentRequested {
			requested = ev
		}
	}
	if requested.ID == "" {
		t.Fatal("the run made no deployment.requested event")
	}
	taking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer taking.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer refusing.Close()
	notifyConfig := localaws.UniqueName("/shiplog/notify")
	ssmSetup := ssm.NewFromConfig(m.Config(ctx))
	for name, value := range map[string]string{
		notifyConfig: `{"destinations":{"team":{"type":"slack","url_parameter":"` + notifyConfig + `/team"},` +
			`"audit":{"type":"webhook","url_parameter":"` + notifyConfig + `/audit","secret_parameter":"` + notifyConfig + `/audit-secret"}},` +
			`"routes":[{"events":["deployment.*"],"to":["team","audit"]}]}`,
		notifyConfig + "/team":         taking.URL,
		notifyConfig + "/audit":        refusing.URL,
		notifyConfig + "/audit-secret": "s3cret",
	} {
		if _, err := ssmSetup.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
			t.Fatal(err)
		}
	}
	queue, err := sqs.NewFromConfig(m.Config(ctx)).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(localaws.UniqueName("notify-dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	rec = newRecorder(tables)
	recorders[awslambda.NotifyName] = rec
	notifyCfg := m.Config(ctx, rec.option())
	// As functions/notify builds it.
	notifier := func(queueURL string) awslambda.Function {
		loader := &notify.Loader{Params: awsssm.New(ssm.NewFromConfig(notifyCfg)), Name: notifyConfig}
		n := &notify.Notifier{Config: loader.Load, Claims: awsdynamo.New(dynamodb.NewFromConfig(notifyCfg), tables.Releases, tables.State),
			Dead: awssqs.New(sqs.NewFromConfig(notifyCfg), queueURL), Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
		return awslambda.Notify(n, slog.New(slog.DiscardHandler))
	}
	envelope := func(ev shiplog.Event) []byte {
		entry, err := awseventbridge.Entry(ev, "default")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Appendf(nil, `{"version":"0","id":"b","detail-type":%q,"source":%q,"account":%q,"time":"2026-11-20T10:00:00Z","region":"eu-west-1","resources":[],"detail":%s}`,
			aws.ToString(entry.DetailType), aws.ToString(entry.Source), account, aws.ToString(entry.Detail))
	}
	fn := notifier(aws.ToString(queue.QueueUrl))
	for i, want := range []string{`"audit":"dead-lettered: answered 500`, `"audit":"duplicate"`} {
		out, err := fn.Invoke(ctx, envelope(requested))
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("notify, delivery %d: %s, %v; want %s", i+1, out, err, want)
		}
	}
	another := requested
	another.ID += "x"
	// The invocation fails (Lambda retries it, then its own failure destination takes it) and
	// the claim is given up (the DeleteItem the recorder holds to FunctionTables).
	if out, err := notifier(aws.ToString(queue.QueueUrl)+"-gone").Invoke(ctx, envelope(another)); err == nil {
		t.Fatalf("notify with a dead-letter queue that refuses: %s; want an error", out)
	}

	// GitHub enrichment: the deploys above each deploy the one newest image (no source range),
	// so the commits of a range are read here through each deploying function's own service,
	// as a deploy with a range reads them (TestGitHubEnrichment runs that through a deploy): the
	// token's SecureString, then GitHub.
	for name, svc := range services {
		if svc.Commits == nil {
			continue
		}
		commits, _, err := svc.Commits.Commits(ctx, "https://github.com/example/app", strings.Repeat("1", 40), strings.Repeat("2", 40))
		if err != nil || len(commits) != 1 {
			t.Errorf("%s: the commits of a range: %v, %v; want one from the fake GitHub", name, commits, err)
		}
	}
	if calls := gh.took(); len(calls) == 0 {
		t.Error("no deploying function called the fake GitHub")
	}

	for name, rec := range recorders {
		got, gotTables := rec.list()
		checkBothWays(t, name, "awsapp.FunctionActions", got, awsapp.FunctionActions[name])
		for _, table := range slices.Sorted(maps.Keys(gotTables)) {
			if _, ok := awsapp.FunctionTables[name][table]; !ok {
				t.Errorf("%s called %v on %s, which awsapp.FunctionTables does not grant it", name, gotTables[table], table)
			}
		}
		for table, want := range awsapp.FunctionTables[name] {
			checkBothWays(t, name, fmt.Sprintf("awsapp.FunctionTables on %s", table), gotTables[table], want)
		}
		checkParameters(t, name, tables.ParameterPrefix, notifyConfig, tokenParam, rec)
	}
	if len(awsapp.FunctionActions) != len(recorders) || len(awsapp.FunctionTables) != len(recorders) {
		t.Errorf("FunctionActions has %d functions and FunctionTables %d, want %d", len(awsapp.FunctionActions), len(awsapp.FunctionTables), len(recorders))
	}
}

// checkParameters holds every SSM name a function used to the shape FunctionParameters gives
// its action: {prefix}/{project}/images/{label}/{service}, or {prefix}/{project}/images/{label}
// for a path, with a label the function may reach; or, for NotifyConfig, the notification
// configuration parameter notifyConfig or one under it; or, for GitHubToken, the token's
// parameter token alone.
func checkParameters(t *testing.T, function, prefix, notifyConfig, token string, rec *iamRecorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var ssmActions []string
	for _, a := range awsapp.FunctionActions[function] {
		if strings.HasPrefix(a, "ssm:") {
			ssmActions = append(ssmActions, a)
		}
	}
	if diff := cmp.Diff(sortedKeys(awsapp.FunctionParameters[function]), slices.Sorted(slices.Values(ssmActions))); diff != "" {
		t.Errorf("%s: awsapp.FunctionParameters actions (-FunctionParameters +FunctionActions):\n%s", function, diff)
	}
	for action, names := range rec.parameters {
		labels := awsapp.FunctionParameters[function][action]
		for _, name := range names {
			if labels == awsapp.GitHubToken {
				if name != token {
					t.Errorf("%s %s %s: not the GitHub token parameter %s", function, action, name, token)
				}
				continue
			}
			if labels == awsapp.NotifyConfig {
				if !awsapp.InNotifyConfig(name, notifyConfig) {
					t.Errorf("%s %s %s: neither the notification configuration %s nor a parameter under it", function, action, name, notifyConfig)
				}
				continue
			}
			rest, ok := strings.CutPrefix(name, prefix+"/")
			parts := strings.Split(rest, "/")
			wantParts := 4
			if action == "ssm:GetParametersByPath" {
				wantParts = 3
			}
			if !ok || len(parts) != wantParts || parts[1] != "images" || slices.Contains(parts, "") {
				t.Errorf("%s %s %s: not of the shape %s/{project}/images/{label}[/{service}]", function, action, name, prefix)
				continue
			}
			if !labels.Allows(parts[2]) {
				t.Errorf("%s %s %s: label %q is not one awsapp.FunctionParameters lets it reach", function, action, name, parts[2])
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// checkBothWays holds the actions a function called to the ones a list grants it: a call outside
// the list would be denied in AWS, and a grant no path uses is privilege the function does not need.
func checkBothWays(t *testing.T, function, list string, called, granted []string) {
	t.Helper()
	for _, a := range called {
		if !slices.Contains(granted, a) {
			t.Errorf("%s called %s, which %s does not grant it", function, a, list)
		}
	}
	for _, a := range granted {
		if !slices.Contains(called, a) {
			t.Errorf("%s grants %s %s, which no path of its code called (called: %v)", list, function, a, called)
		}
	}
}

var shipper = shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice"}
