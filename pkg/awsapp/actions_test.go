package awsapp_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// iamRecorder records the IAM actions an SDK client's calls need. Most operations are their own
// action; TransactWriteItems is authorized item by item, so it records each item's action.
type iamRecorder struct {
	mu      sync.Mutex
	actions map[string]bool
	indexes map[string]bool
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

func (r *iamRecorder) record(ctx context.Context, params any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := params.(*dynamodb.QueryInput); ok && q.IndexName != nil {
		r.indexes[*q.IndexName] = true
	}
	if tx, ok := params.(*dynamodb.TransactWriteItemsInput); ok {
		for _, it := range tx.TransactItems {
			switch {
			case it.Put != nil:
				r.actions["dynamodb:PutItem"] = true
			case it.Update != nil:
				r.actions["dynamodb:UpdateItem"] = true
			case it.Delete != nil:
				r.actions["dynamodb:DeleteItem"] = true
			case it.ConditionCheck != nil:
				r.actions["dynamodb:ConditionCheckItem"] = true
			}
		}
		return
	}
	r.actions[localaws.Action(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))] = true
}

func (r *iamRecorder) list() (actions, indexes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.actions)), slices.Sorted(maps.Keys(r.indexes))
}

const account = "123456789012" // moto's account

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
	tables := awsapp.Tables{Releases: localaws.UniqueName("releases"), State: localaws.UniqueName("state")}
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(m.Config(ctx)), tables.Releases, tables.State); err != nil {
		t.Fatal(err)
	}
	ecrClient := ecr.NewFromConfig(m.Config(ctx))
	repo := localaws.UniqueName("team") + "/app"
	if _, err := ecrClient.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	d1, d2 := image(t, ecrClient, repo, 1), image(t, ecrClient, repo, 2)
	project := localaws.UniqueName("proj")
	entry := fmt.Sprintf(`{"name":"P","tag_deployed_images":true,"environments":[{"id":"stage"},{"id":"prod"}],"image_repositories":[{"id":%q,"services":["web","worker"]}]}`, repo)
	manifest := fmt.Sprintf(`{%q:%s}`, project, entry)

	recorders := map[string]*iamRecorder{}
	functions := map[string]awslambda.Function{}
	var api http.Handler
	for _, name := range []string{awslambda.ECRPushName, awslambda.CreateReleaseName, awslambda.DeployName, awslambda.APIName} {
		rec := &iamRecorder{actions: map[string]bool{}, indexes: map[string]bool{}}
		recorders[name] = rec
		cfg := m.Config(ctx, rec.option())
		// As in each function's main: a registry only where the function calls ECR.
		var registry shiplog.Registry
		if callsService(name, "ecr") {
			registry = awsecr.NewFromConfig(cfg)
		}
		svc := awsapp.NewFromConfig(cfg, tables, registry, nil)
		if name == awslambda.APIName {
			api = httpapi.NewHandler(svc, nil)
			continue
		}
		functions[name] = awslambda.Functions(svc, nil)[name]
	}
	invoke := func(fn string, payload string, wantErr bool) {
		t.Helper()
		_, err := functions[fn].Invoke(ctx, []byte(payload))
		if (err != nil) != wantErr {
			t.Fatalf("%s %s: error %v, want error: %v", fn, payload, err, wantErr)
		}
	}
	call := func(method, path, body string, want int) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req = req.WithContext(httpapi.WithIdentity(req.Context(), shipper))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if w.Code != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body)
		}
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
	call("GET", "/projects/"+project+"/releases", "", 200)
	call("GET", "/projects/"+project+"/releases/latest", "", 200)
	call("POST", "/projects/"+project+"/environments/prod/deployments", `{"release_id":"latest"}`, 201)
	call("GET", "/projects/"+project+"/deployments?environment=prod", "", 200)
	call("GET", "/projects/"+project+"/environments", "", 200)

	for name, rec := range recorders {
		got, indexes := rec.list()
		if want := slices.Sorted(slices.Values(awsapp.FunctionIndexes[name])); !slices.Equal(indexes, want) {
			t.Errorf("%s queried the indexes %v; awsapp.FunctionIndexes says %v", name, indexes, want)
		}
		want := slices.Sorted(slices.Values(awsapp.FunctionActions[name]))
		for _, a := range got {
			if !slices.Contains(want, a) {
				t.Errorf("%s called %s, which awsapp.FunctionActions does not grant it", name, a)
			}
		}
		for _, a := range want {
			if !slices.Contains(got, a) {
				t.Errorf("awsapp.FunctionActions grants %s %s, which no path of its code called (called: %v)", name, a, got)
			}
		}
	}
	if len(awsapp.FunctionActions) != len(recorders) {
		t.Errorf("FunctionActions has %d functions, want %d", len(awsapp.FunctionActions), len(recorders))
	}
}

var shipper = shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice"}
