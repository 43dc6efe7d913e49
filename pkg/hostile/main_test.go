package hostile_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"go.etcd.io/bbolt"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// now is the service's clock: fixed, so that the seeded state and the cases agree on what is past
// and what is to come; the time the test starts, since DynamoDB Local deletes the items whose
// time to live (idempotency keys, a day) has passed on its own clock.
var now = time.Now().UTC().Truncate(time.Second)

// home is where the seeded environments' clusters are (named without an ARN), and where ECS
// events must come from.
var home = shiplog.Location{Account: "760097843905", Region: "eu-west-1"}

// stack is shiplog on one store, reached as callers reach it: the HTTP API as the local stack
// serves it (LocalIdentity) and as the api function serves it (API Gateway's payload), and the
// Invoke API over the functions. state reads everything the store holds.
type stack struct {
	svc       *shiplog.Service
	local     http.Handler
	api       func(context.Context, apiRequest) (int, http.Header, []byte)
	invoke    http.Handler
	functions []string // the functions the Invoke API serves
	runtime   *refusingRuntime
	state     func(t *testing.T) map[string]string
	// writeCalls, if set, returns the calls that could have written (anything but a read) that
	// the service's clients made since the last call to it: a request that made none cannot have
	// changed the store, so its full read can wait for the next periodic one.
	writeCalls func() []string
}

// backend opens a stack on a fresh store.
type backend struct {
	name string
	open func(t *testing.T) *stack
}

var backends = []backend{
	{"bbolt", openBolt},
	{"dynamodb-local", openDynamo},
}

// newStack builds the service and its handlers as cmd/shiplog and the functions' mains do, on the
// given stores.
func newStack(t *testing.T, params shiplog.ParameterStore, store shiplog.Store, atomic shiplog.AtomicParameters, state func(*testing.T) map[string]string) *stack {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := shiplog.NewService(params, store, nil, log)
	svc.Atomic = atomic
	svc.Now = func() time.Time { return now }
	svc.NewID = sequentialIDs()
	svc.Home = home
	rt := &refusingRuntime{}
	svc.Runtime = rt
	functions := map[string]lambda.Handler{}
	var names []string
	// A stack that allows the invoke channel everything, so that each case meets the rules it
	// is about; what the stack's policy refuses is pkg/awslambda's TestInvokePolicyEnforced.
	for name, fn := range awslambda.Functions(svc, log, awslambda.AllowAll()) {
		functions[name] = fn
		names = append(names, name)
	}
	slices.Sort(names)
	h := httpapi.NewHandler(svc, log)
	apiFn := awslambda.HTTPAPI(h)
	return &stack{
		svc:       svc,
		local:     httpapi.LocalIdentity(h, shiplog.Person{}),
		api:       func(ctx context.Context, r apiRequest) (int, http.Header, []byte) { return r.serve(ctx, apiFn) },
		invoke:    awslambda.InvokeAPI(functions),
		functions: names,
		runtime:   rt,
		state:     state,
	}
}

// sequentialIDs returns ids that sort in the order they are made, like ULIDs.
func sequentialIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("01JHOSTILE%016d", n.Add(1)) }
}

// openBolt is the local stack's store: one bbolt file holding the parameters too.
func openBolt(t *testing.T) *stack {
	path := filepath.Join(t.TempDir(), "shiplog.db")
	store, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return newStack(t, store, store, store.AtomicParameters(), func(t *testing.T) map[string]string { return boltItems(t, path) })
}

// boltItems reads every key of every bucket of the file at path, through a copy: the store holds
// the file open (and locked) while it runs, and between two requests the file is a committed
// state.
func boltItems(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(cp, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open a copy of the store: %v", err)
	}
	defer db.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bbolt.Bucket) error
	walk = func(prefix string, b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+fmt.Sprintf("%q", k)] = string(v)
			return nil
		})
	}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error { return walk(string(name)+"/", b) })
	})
	if err != nil {
		t.Fatalf("read the store: %v", err)
	}
	return out
}

// openDynamo is the functions' stores: DynamoDB (on DynamoDB Local, fresh tables) and SSM (on
// moto, under a prefix of its own).
func openDynamo(t *testing.T) *stack {
	ctx := context.Background()
	// moto starts, and loads its SSM backend (seconds, at the first SSM call), while DynamoDB Local
	// starts: a moto of this test's own, as the shared servers start one at a time.
	type started struct {
		m   *localaws.Moto
		err error
	}
	motoc := make(chan started, 1)
	go func() {
		m, err := localaws.LaunchMoto()
		if err == nil {
			_, _ = ssm.NewFromConfig(m.Config(ctx)).GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/warm-up/")})
		}
		motoc <- started{m, err}
	}()
	ddbCfg := localaws.SharedDynamoDBLocal(t).Config(ctx)
	moto := <-motoc
	if moto.err != nil {
		t.Fatal(moto.err)
	}
	t.Cleanup(func() { moto.m.Close() })
	motoCfg := moto.m.Config(ctx)
	admin := dynamodb.NewFromConfig(ddbCfg)
	releases, state := localaws.UniqueName("releases"), localaws.UniqueName("state")
	if err := awsdynamo.CreateTables(ctx, admin, releases, state); err != nil {
		t.Fatalf("create tables: %v", err)
	}
	prefix := localaws.UniqueName("/hostile")
	ssmClient := ssm.NewFromConfig(motoCfg)
	// The service's own clients, whose calls the recorder sees.
	rec := localaws.NewCallRecorder()
	params := awsssm.New(ssm.NewFromConfig(motoCfg, func(o *ssm.Options) { o.APIOptions = append(o.APIOptions, rec.AddTo) })).WithPrefix(prefix)
	store := awsdynamo.New(dynamodb.NewFromConfig(ddbCfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, rec.AddTo) }), releases, state)
	read := func(t *testing.T) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, table := range []string{releases, state} {
			p := dynamodb.NewScanPaginator(admin, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("scan %s: %v", table, err)
				}
				for _, it := range page.Items {
					var m map[string]any
					if err := attributevalue.UnmarshalMap(it, &m); err != nil {
						t.Fatal(err)
					}
					b, err := json.Marshal(m) // sorted keys
					if err != nil {
						t.Fatal(err)
					}
					out[table+"/"+itemKey(m)] = string(b)
				}
			}
		}
		pp := ssm.NewGetParametersByPathPaginator(ssmClient, &ssm.GetParametersByPathInput{Path: aws.String(prefix + "/"), Recursive: aws.Bool(true)})
		for pp.HasMorePages() {
			page, err := pp.NextPage(ctx)
			if err != nil {
				t.Fatalf("read parameters: %v", err)
			}
			for _, p := range page.Parameters {
				out["ssm/"+aws.ToString(p.Name)] = fmt.Sprintf("%s (version %d)", aws.ToString(p.Value), p.Version)
			}
		}
		return out
	}
	s := newStack(t, params, store, nil, read)
	s.writeCalls = func() []string {
		defer rec.Reset()
		var out []string
		for _, c := range rec.Calls() {
			if !slices.Contains(readActions, c) {
				out = append(out, c)
			}
		}
		return out
	}
	return s
}

// readActions are the calls of the service's clients that only read.
var readActions = []string{
	"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
	"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
}

// itemKey names an item by its key attributes, whichever table it is in.
func itemKey(m map[string]any) string {
	var parts []string
	for _, k := range []string{"pk", "sk", "release_id"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if len(parts) == 0 {
		b, _ := json.Marshal(m)
		return string(b)
	}
	return strings.Join(parts, ",")
}

// refusingRuntime is ECS as the seeded state sees it: it lists no ECS deployment and runs none of
// the services, so no event or check can find a rollout of the deployed images. It counts calls,
// for the cases to show which requests got as far as asking ECS.
type refusingRuntime struct{ calls atomic.Int64 }

func (r *refusingRuntime) Running(_ context.Context, _ string, services []string) (map[string]shiplog.ServiceRun, error) {
	r.calls.Add(1)
	out := map[string]shiplog.ServiceRun{}
	for _, s := range services {
		out[s] = shiplog.ServiceRun{Found: false}
	}
	return out, nil
}

func (r *refusingRuntime) Deployment(context.Context, string, string, string) (shiplog.ServiceDeployment, error) {
	r.calls.Add(1)
	return shiplog.ServiceDeployment{Found: false}, nil
}

// seeded are the ids of the seeded state, which the cases name.
type seeded struct {
	r1, r2, r3     string // bugfarm's releases, and other's
	d1, d2, d3, d4 string // bugfarm stage (superseded by d4), bugfarm prod, other stage, bugfarm stage (current)
}

const (
	project = "bugfarm"
	other   = "other"
	key     = "ci-run-1" // the idempotency key of r1
	// stageFreeze is bugfarm's freeze of stage alone, to come; xmas is its freeze of prod alone.
	stageFreeze = "stage-window"
)

var alice = shiplog.Person{ID: "alice", Name: "Alice", Via: shiplog.ViaAPI}

// The manifest entries of the two projects: bugfarm's environments run on ECS clusters in home.
const (
	bugfarmEntry = `{"name": "Bug farm", "environments": [
		{"id": "stage", "name": "Staging", "ecs": {"cluster": "bugfarm-stage"}},
		{"id": "prod", "name": "Production", "ecs": {"cluster": "bugfarm-prod"}}],
	"image_repositories": [{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}]}`
	otherEntry = `{"name": "Other", "environments": [{"id": "stage"}, {"id": "prod"}],
	"image_repositories": [{"id": "other/app"}]}`
)

// seed writes a realistic state through the service: two projects, pushes, releases (one with an
// idempotency key), deployments to both environments (one verified, one superseded), a lock on
// prod, and freezes to come (of prod, of stage, and of all other's environments).
func seed(t *testing.T, s *stack) seeded {
	t.Helper()
	ctx := context.Background()
	svc := s.svc
	var projects []shiplog.Project
	for id, entry := range map[string]string{project: bugfarmEntry, other: otherEntry} {
		p, err := manifest.ParseProject(id, []byte(entry))
		if err != nil {
			t.Fatalf("parse %s: %v", id, err)
		}
		projects = append(projects, p)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects, By: alice}); err != nil {
		t.Fatalf("register: %v", err)
	}
	// The runtime index is completed once, by the first ECS event a store gets (an upgrade for
	// projects registered before it): done here, as in any shiplog that has had one, so that the
	// cases see the store as it then stands.
	if _, _, err := svc.Store.RuntimeMatches(ctx, "bugfarm-stage", "hatching"); err != nil {
		t.Fatalf("complete the runtime index: %v", err)
	}
	push := func(repo string, n int) {
		t.Helper()
		_, err := svc.RecordPush(ctx, shiplog.ImagePush{Account: home.Account, Region: home.Region, Repository: repo,
			Digest: fmt.Sprintf("sha256:%064x", n), Tag: fmt.Sprintf("build-%d", n), Action: "PUSH", Result: "SUCCESS",
			Time: now.Add(time.Duration(n-100) * time.Minute)})
		if err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}
	release := func(projectID, key string) string {
		t.Helper()
		r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: projectID, Description: "seeded", RequestedBy: alice, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("release %s: %v", projectID, err)
		}
		return r.ID
	}
	deploy := func(projectID, releaseID, env string) string {
		t.Helper()
		d, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: projectID, ReleaseID: releaseID, Environment: env, RequestedBy: alice})
		if err != nil {
			t.Fatalf("deploy %s to %s/%s: %v", releaseID, projectID, env, err)
		}
		return d.Deployment.ID
	}
	var ids seeded
	push("bugfarm/hatching", 1)
	push("bugfarm/feeding", 2)
	push("other/app", 3)
	ids.r1 = release(project, key)
	ids.r3 = release(other, "")
	push("bugfarm/hatching", 4)
	ids.r2 = release(project, "")
	ids.d1 = deploy(project, ids.r1, "stage")
	ids.d2 = deploy(project, ids.r1, "prod")
	if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: project, DeploymentID: ids.d2, Status: shiplog.StatusVerified, By: alice}); err != nil {
		t.Fatalf("report: %v", err)
	}
	ids.d3 = deploy(other, ids.r3, "stage")
	ids.d4 = deploy(project, ids.r2, "stage")
	if _, err := svc.Lock(ctx, shiplog.LockInput{ProjectID: project, Environment: "prod", Reason: "incident 42", RequestedBy: alice}); err != nil {
		t.Fatalf("lock: %v", err)
	}
	for _, f := range []shiplog.FreezeInput{
		{ProjectID: project, ID: "xmas", Environments: []string{"prod"}, StartsAt: now.Add(30 * 24 * time.Hour).Unix(), EndsAt: now.Add(40 * 24 * time.Hour).Unix(), Reason: "holidays", RequestedBy: alice},
		{ProjectID: project, ID: stageFreeze, Environments: []string{"stage"}, StartsAt: now.Add(20 * 24 * time.Hour).Unix(), EndsAt: now.Add(21 * 24 * time.Hour).Unix(), Reason: "load test", RequestedBy: alice},
		{ProjectID: other, ID: "audit", StartsAt: now.Add(24 * time.Hour).Unix(), EndsAt: now.Add(48 * time.Hour).Unix(), Reason: "audit", RequestedBy: alice},
	} {
		if _, err := svc.PutFreeze(ctx, f); err != nil {
			t.Fatalf("freeze %s: %v", f.ID, err)
		}
	}
	return ids
}

// apiRequest is an HTTP request as API Gateway hands it to the api function.
type apiRequest struct {
	method, rawPath, rawQuery string
	header                    http.Header
	body                      []byte
	identity                  bool // an IAM caller, as API Gateway authenticates
}

// serve hands the request to the api function as API Gateway would, and answers its response.
func (r apiRequest) serve(ctx context.Context, fn func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)) (int, http.Header, []byte) {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: r.rawPath, RawQueryString: r.rawQuery,
		Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "api.example.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.method, Path: r.rawPath, SourceIP: "192.0.2.1"},
		},
	}
	for k, vs := range r.header {
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if utf8.Valid(r.body) {
		ev.Body = string(r.body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(r.body), true
	}
	if r.identity {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: "arn:aws:iam::760097843905:user/alice"},
		}
	}
	res, err := fn(ctx, ev)
	if err != nil {
		return 0, nil, []byte("function error: " + err.Error())
	}
	h := http.Header{}
	for k, v := range res.Headers {
		h.Set(k, v)
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
			return 0, nil, []byte("undecodable body: " + err.Error())
		}
	}
	return res.StatusCode, h, body
}
