package awsapp

// The cost benchmarks of issue 3: how many SDK calls a create-release and a deploy make, and how
// many DynamoDB items listing the newest 20 releases and deployments reads, through the real
// service (NewFromConfig) against moto. Each one reports its counts with b.ReportMetric, logs a
// table, and fails when a count goes over its floor, so that a regression fails `make bench`.
//
// It is an internal test file (package awsapp, not awsapp_test) so that its helpers cannot clash
// with the external tests' names, and it defines no TestMain: the package's own, if any, stops the
// shared moto; without one, moto dies with the test binary.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// servicesPerRepository is how many services one ECR repository feeds in the benchmark projects.
// moto caps a TransactWriteItems at 25 items (DynamoDB's old limit; it is 100 now), and
// registering a project writes its repo# items in one transaction, so a project of 100 services
// with a repository each could not be registered on moto.
const servicesPerRepository = 10

// ssmPageSize is the most parameters one GetParametersByPath returns.
const ssmPageSize = 10

// itemReads counts the DynamoDB items that the responses of a client's reads carry: Query's Count
// and ScannedCount, and the items of GetItem and BatchGetItem. ReturnConsumedCapacity would be the
// natural measure, but moto answers it with a constant, so the responses are counted instead.
type itemReads struct {
	mu                    sync.Mutex
	queried, scanned, got int
}

func (r *itemReads) option() func(*aws.Config) {
	return func(cfg *aws.Config) {
		cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
			// Initialize is the outermost step: the result here is the operation's typed output.
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.itemReads",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					if err == nil {
						r.record(out.Result)
					}
					return out, md, err
				}), middleware.Before)
		})
	}
}

func (r *itemReads) record(result any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch out := result.(type) {
	case *dynamodb.QueryOutput:
		r.queried += int(out.Count)
		r.scanned += int(out.ScannedCount)
	case *dynamodb.GetItemOutput:
		if out.Item != nil {
			r.got++
		}
	case *dynamodb.BatchGetItemOutput:
		for _, items := range out.Responses {
			r.got += len(items)
		}
	}
}

func (r *itemReads) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queried, r.scanned, r.got = 0, 0, 0
}

func (r *itemReads) counts() (queried, scanned, got int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queried, r.scanned, r.got
}

// benchEnv is the service on fresh tables in the shared moto, with recorders on every client the
// service uses, and unrecorded clients to arrange things with.
type benchEnv struct {
	svc    *shiplog.Service
	calls  *localaws.CallRecorder
	reads  *itemReads
	tables Tables
	ddb    *dynamodb.Client // unrecorded
	ecr    *ecr.Client      // unrecorded
	params *awsssm.Store    // unrecorded
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	m := localaws.SharedMoto(b)
	admin := m.Config(ctx)
	env := &benchEnv{
		calls:  localaws.NewCallRecorder(),
		reads:  &itemReads{},
		tables: Tables{Releases: localaws.UniqueName("bench-releases"), State: localaws.UniqueName("bench-state")},
		ddb:    dynamodb.NewFromConfig(admin),
		ecr:    ecr.NewFromConfig(admin),
		params: awsssm.New(ssm.NewFromConfig(admin)),
	}
	if err := awsdynamo.CreateTables(ctx, env.ddb, env.tables.Releases, env.tables.State); err != nil {
		b.Fatal(err)
	}
	cfg := m.Config(ctx, env.calls.Option(), env.reads.option())
	env.svc = NewFromConfig(cfg, env.tables, awsecr.NewFromConfig(cfg), nil)
	return env
}

// reset forgets the calls and reads made so far: what follows is what is measured.
func (env *benchEnv) reset() {
	env.calls.Reset()
	env.reads.reset()
}

// benchProject is a registered project of S services, servicesPerRepository to a repository.
type benchProject struct {
	id       string
	services []string
	repoOf   map[string]string // service -> repository
	repos    []string
}

// project registers a project of s services with the given environments, through the service.
func (env *benchEnv) project(b *testing.B, s int, environments ...string) benchProject {
	b.Helper()
	return env.projectOf(b, s, servicesPerRepository, false, environments...)
}

// projectOf registers a project of s services, perRepo to a repository, that tags its deployed
// images if tagged, with the given environments, through the service.
func (env *benchEnv) projectOf(b *testing.B, s, perRepo int, tagged bool, environments ...string) benchProject {
	b.Helper()
	ctx := context.Background()
	p := benchProject{id: localaws.UniqueName("bench"), repoOf: map[string]string{}}
	prefix := localaws.UniqueName("shiplog-bench")
	var repoEntries []string
	for start := 0; start < s; start += perRepo {
		repo := fmt.Sprintf("%s/group-%03d", prefix, start/perRepo)
		if _, err := env.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
			b.Fatalf("CreateRepository %s: %v", repo, err)
		}
		var quoted []string
		for i := start; i < min(start+perRepo, s); i++ {
			svc := fmt.Sprintf("svc-%03d", i)
			p.services = append(p.services, svc)
			p.repoOf[svc] = repo
			quoted = append(quoted, fmt.Sprintf("%q", svc))
		}
		p.repos = append(p.repos, repo)
		repoEntries = append(repoEntries, fmt.Sprintf(`{"id":%q,"services":[%s]}`, repo, strings.Join(quoted, ",")))
	}
	var envEntries []string
	for _, e := range environments {
		envEntries = append(envEntries, fmt.Sprintf(`{"id":%q,"name":%q}`, e, e))
	}
	entry := fmt.Sprintf(`{"name":"Benchmark","environments":[%s],"image_repositories":[%s],"tag_deployed_images":%t}`,
		strings.Join(envEntries, ","), strings.Join(repoEntries, ","), tagged)
	project, err := manifest.ParseProject(p.id, []byte(entry))
	if err == nil {
		_, err = env.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{project}})
	}
	if err != nil {
		b.Fatalf("register project %s: %v", p.id, err)
	}
	return p
}

var imageSeq atomic.Int64

// pushImages puts a new, distinct image for every service of p into its repository, as a
// docker push would, and returns their digest-pinned URIs by service.
func (env *benchEnv) pushImages(b *testing.B, p benchProject) map[string]string {
	b.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	uris := make(map[string]string, len(p.services))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, svc := range p.services {
		repo := p.repoOf[svc]
		n := imageSeq.Add(1)
		g.Go(func() error {
			const mediaType = "application/vnd.docker.distribution.manifest.v2+json"
			body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1000,"digest":"sha256:%064x"},"layers":[]}`, mediaType, n)
			hash := sha256.Sum256([]byte(body))
			digest := "sha256:" + hex.EncodeToString(hash[:])
			out, err := env.ecr.PutImage(gctx, &ecr.PutImageInput{
				RepositoryName: aws.String(repo), ImageManifest: aws.String(body),
				ImageManifestMediaType: aws.String(mediaType), ImageDigest: aws.String(digest),
				ImageTag: aws.String(fmt.Sprintf("build-%d", n)),
			})
			if err != nil {
				return fmt.Errorf("PutImage %s: %w", repo, err)
			}
			mu.Lock()
			defer mu.Unlock()
			uris[svc] = fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s",
				aws.ToString(out.Image.RegistryId), localaws.Region, repo, digest)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return uris
}

// setLatest points the "latest" parameters of p's services at images, as pushes would.
func (env *benchEnv) setLatest(b *testing.B, p benchProject, images map[string]string) {
	b.Helper()
	params := make(map[string]string, len(images))
	for svc, uri := range images {
		params[shiplog.ParameterName(p.id, shiplog.LatestLabel, svc)] = uri
	}
	if err := env.params.PutParameters(context.Background(), params); err != nil {
		b.Fatal(err)
	}
}

func (env *benchEnv) createRelease(b *testing.B, p benchProject) shiplog.Release {
	b.Helper()
	r, err := env.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: p.id})
	if err != nil {
		b.Fatalf("create release of %s: %v", p.id, err)
	}
	return r
}

// measuredDeploy deploys releaseID (an id or "latest") and adds the calls of the deploy alone
// to total: what the caller did before (creating a release) is not counted.
func (env *benchEnv) measuredDeploy(b *testing.B, p benchProject, releaseID, environment string, total map[string]int) shiplog.DeployResult {
	b.Helper()
	env.reset()
	res := env.deploy(b, p, releaseID, environment)
	for action, n := range env.calls.Counts() {
		total[action] += n
	}
	return res
}

func (env *benchEnv) deploy(b *testing.B, p benchProject, releaseID, environment string) shiplog.DeployResult {
	b.Helper()
	res, err := env.svc.Deploy(context.Background(), shiplog.DeployInput{ProjectID: p.id, ReleaseID: releaseID, Environment: environment})
	if err != nil {
		b.Fatalf("deploy %s to %s/%s: %v", releaseID, p.id, environment, err)
	}
	return res
}

// callBudget is the most calls of each action an operation may make; any other action is over it.
type callBudget map[string]int

func (bg callBudget) total() int {
	n := 0
	for _, v := range bg {
		n += v
	}
	return n
}

// perOp divides the recorded counts by the iterations.
func perOp(counts map[string]int, n int) map[string]float64 {
	out := make(map[string]float64, len(counts))
	for k, v := range counts {
		out[k] = float64(v) / float64(n)
	}
	return out
}

// overBudget returns, in words, every action whose calls per operation exceed the budget.
func overBudget(got map[string]float64, bg callBudget) []string {
	var over []string
	for _, action := range slices.Sorted(maps.Keys(got)) {
		if limit, ok := bg[action]; !ok || got[action] > float64(limit) {
			over = append(over, fmt.Sprintf("%s: got %g/op, want at most %d", action, got[action], limit))
		}
	}
	return over
}

func callSum(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// metricName is an action's name as a benchmark unit: "ssm:PutParameter" gives "PutParameter/op".
func metricName(action string) string {
	_, op, _ := strings.Cut(action, ":")
	return op + "/op"
}

func reportCalls(b *testing.B, got map[string]float64) {
	b.ReportMetric(callSum(got), "calls/op")
	for action, v := range got {
		b.ReportMetric(v, metricName(action))
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// BenchmarkCreateRelease counts the calls of one create-release over S services. The floor is
// ceil(S/10) reads of SSM (10 parameters a call), one write (a TransactWriteItems of the release
// and the project's latest pointer) and at most one read of the project (GetItem).
//
// The release reads its services' parameters by name with GetParameters (10 names a call), not
// with GetParametersByPath: a path read pages until SSM sends no NextToken, and SSM (moto always,
// AWS at will) sends one with a full last page, which costs an extra, empty, call whenever S is a
// multiple of 10.
func BenchmarkCreateRelease(b *testing.B) {
	var rows []string
	for _, s := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("services=%d", s), func(b *testing.B) {
			env := newBenchEnv(b)
			p := env.project(b, s, "stage")
			env.setLatest(b, p, env.pushImages(b, p))

			floor := callBudget{
				"ssm:GetParameters":           ceilDiv(s, ssmPageSize),
				"dynamodb:TransactWriteItems": 1, // the release, the project's latest pointer and the event
				"dynamodb:GetItem":            1,
				// The push records, whose times the release keeps for lead time (100 keys a call).
				"dynamodb:BatchGetItem": ceilDiv(s, 100),
			}
			env.reset()
			n := 0
			for b.Loop() {
				r := env.createRelease(b, p)
				if len(r.Images) != s {
					b.Fatalf("release %s has %d images, want %d", r.ID, len(r.Images), s)
				}
				n++
			}
			got := perOp(env.calls.Counts(), n)
			reportCalls(b, got)
			over := overBudget(got, floor)
			rows = append(rows, fmt.Sprintf("%8d  %8g  %13g  %5g  %7g  %12g  %5d  %s", s, callSum(got),
				got["ssm:GetParameters"], got["dynamodb:TransactWriteItems"], got["dynamodb:GetItem"], got["dynamodb:BatchGetItem"], floor.total(), floorVerdict(over)))
			if len(over) > 0 {
				b.Fatalf("create-release over %d services is above its floor:\n  %s\n(calls in order: %v)",
					s, strings.Join(over, "\n  "), env.calls.Calls())
			}
		})
	}
	logSummary(b, "calls per create-release (floor: ceil(S/10) SSM reads + 1 write + at most 1 GetItem of the project + ceil(S/100) reads of push times)\n"+
		fmt.Sprintf("%8s  %8s  %13s  %5s  %7s  %12s  %5s  %s\n", "services", "calls/op", "GetParameters", "write", "GetItem", "BatchGetItem", "floor", "verdict")+
		strings.Join(rows, "\n"))
}

// logSummary logs text from a sub-benchmark of its own: the testing package prints the logs of
// benchmarks that have sub-benchmarks only with -v, and those of leaf benchmarks always, but only
// their first nine lines, so every table is kept to that.
func logSummary(b *testing.B, text string) {
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
		}
		b.Log(text)
	})
}

func floorVerdict(over []string) string {
	if len(over) > 0 {
		return "OVER: " + strings.Join(over, "; ")
	}
	return "floor reached"
}

// BenchmarkDeploy counts the calls of one deploy of a release of S services where C of them
// change. The floor is one read of the release (DeployContext's BatchGetItem, which brings the
// project and the environment's state along in the same call), one TransactWriteItems, C
// PutParameter and one ECR BatchGetImage per repository. By the domain's design a deploy with C > 0
// also makes one UpdateItem to settle the environment (release its lock, clear its pending
// services) once the parameters are written: it is reported separately and allowed only then.
func BenchmarkDeploy(b *testing.B) {
	var rows []string
	for _, s := range []int{10, 100} {
		changes := []int{0, 1, s}
		env := newBenchEnv(b)
		var envs []string
		for _, c := range changes {
			envs = append(envs, fmt.Sprintf("changes-%d", c))
		}
		p := env.project(b, s, envs...)
		base := env.pushImages(b, p)
		env.setLatest(b, p, base)
		released := env.createRelease(b, p)
		next := env.pushImages(b, p)
		// others[c] is a release that differs from released in exactly c services.
		others := map[int]shiplog.Release{0: released}
		for _, c := range changes[1:] {
			images := maps.Clone(base)
			for _, svc := range p.services[:c] {
				images[svc] = next[svc]
			}
			env.setLatest(b, p, images)
			others[c] = env.createRelease(b, p)
		}
		for i, c := range changes {
			environment := envs[i]
			b.Run(fmt.Sprintf("services=%d/changed=%d", s, c), func(b *testing.B) {
				// The environment starts at released; each deploy then moves it to the other
				// release and back, so that every measured deploy changes exactly c services (for
				// c = 0, the same release is deployed again).
				env.deploy(b, p, released.ID, environment)
				floor := callBudget{
					"dynamodb:BatchGetItem":       1,
					"dynamodb:TransactWriteItems": 1,
					"ecr:BatchGetImage":           len(p.repos),
				}
				allowed := maps.Clone(floor)
				if c > 0 {
					floor["ssm:PutParameter"] = c
					allowed["ssm:PutParameter"] = c
					// The settle: it releases the environment lock and marks the deployment
					// applied, in one transaction with the state.
					allowed["dynamodb:TransactWriteItems"] = 2
				}
				env.reset()
				n := 0
				for b.Loop() {
					target := released
					if n%2 == 0 {
						target = others[c]
					}
					res := env.deploy(b, p, target.ID, environment)
					if res.Release.ID != target.ID {
						b.Fatalf("deployed release %s, want %s", res.Release.ID, target.ID)
					}
					n++
				}
				got := perOp(env.calls.Counts(), n)
				reportCalls(b, got)
				settles := got["dynamodb:TransactWriteItems"] - 1
				b.ReportMetric(settles, "settle-TransactWriteItems/op")
				over := overBudget(got, allowed)
				verdict := floorVerdict(over)
				if len(over) == 0 && settles > 0 {
					verdict = fmt.Sprintf("floor + %g settle", settles)
				}
				rows = append(rows, fmt.Sprintf("%8d  %7d  %5d  %8g  %12g  %18g  %12g  %13g  %17g  %5d  %s", s, c, len(p.repos), callSum(got),
					got["dynamodb:BatchGetItem"], got["dynamodb:TransactWriteItems"], got["ssm:PutParameter"],
					got["ecr:BatchGetImage"], settles, floor.total(), verdict))
				if len(over) > 0 {
					b.Fatalf("deploy of %d services, %d changed, is above its floor:\n  %s\n(calls in order: %v)",
						s, c, strings.Join(over, "\n  "), env.calls.Calls())
				}
				// The parameters are the state that matters: the environment's must be the
				// release's images, whatever the calls were.
				last := released
				if n%2 == 1 {
					last = others[c]
				}
				env.checkParameters(b, p, environment, last.Images)
			})
		}
	}
	ci := benchDeployForms(b)
	logSummary(b, "calls per deploy by id (floor: 1 BatchGetItem of the release, project and state + 1 TransactWriteItems + C PutParameter + 1 BatchGetImage per repository);\n"+
		"settle = a second TransactWriteItems after C > 0 parameter writes, to release the environment lock and mark the deployment applied: the domain's design, outside the floor\n"+
		fmt.Sprintf("%8s  %7s  %5s  %8s  %12s  %18s  %12s  %13s  %17s  %5s  %s\n",
			"services", "changed", "repos", "calls/op", "BatchGetItem", "TransactWriteItems", "PutParameter", "BatchGetImage", "settle", "floor", "verdict")+
		strings.Join(rows, "\n"))
	b.Run("summary-ci", func(b *testing.B) {
		for b.Loop() {
		}
		b.Log(ci)
	})
}

// deployForm is one of the deploys CI sends, beyond a deploy by id: its calls per deploy and
// the floor of each action.
type deployForm struct {
	name              string
	services, changed int
	repos             int
	got               map[string]float64
	floor             callBudget // what the deploy needs; settle comes on top, as in the table by id
}

// benchDeployForms measures, as sub-benchmarks of BenchmarkDeploy, the forms of deploy CI
// sends: by "latest" right after creating a release (the floor of a deploy by id, and the one
// GetItem of the release the project's latest pointer names), and of a project with
// tag_deployed_images and a repository per service (a redeploy: no ECR write; a deploy of
// another release: one PutImage per repository whose tag moves). It answers the table.
func benchDeployForms(b *testing.B) string {
	var forms []deployForm
	for _, s := range []int{10, 100} {
		const changed = 1
		b.Run(fmt.Sprintf("latest/services=%d/changed=%d", s, changed), func(b *testing.B) {
			env := newBenchEnv(b)
			p := env.project(b, s, "stage")
			base := env.pushImages(b, p)
			next := env.pushImages(b, p)
			env.setLatest(b, p, base)
			env.deploy(b, p, env.createRelease(b, p).ID, "stage")
			total := map[string]int{}
			n := 0
			for b.Loop() {
				// CI's two steps: create a release of what was pushed, then deploy "latest". Each
				// release differs from the one before in one service, and is the newest.
				images := maps.Clone(base)
				if n%2 == 0 {
					images[p.services[0]] = next[p.services[0]]
				}
				env.setLatest(b, p, images)
				created := env.createRelease(b, p)
				res := env.measuredDeploy(b, p, shiplog.LatestRelease, "stage", total)
				if res.Release.ID != created.ID || !maps.Equal(res.Release.Images, images) {
					b.Fatalf("deploy latest deployed release %s, want the one just created, %s", res.Release.ID, created.ID)
				}
				env.checkRecorded(b, p, res.Deployment.ID, created.ID)
				env.checkParameters(b, p, "stage", images)
				n++
			}
			forms = append(forms, env.form(b, "by latest", p, changed, perOp(total, n), callBudget{
				"dynamodb:BatchGetItem":       1,
				"dynamodb:GetItem":            1, // the release, once the pointer read with the rest names it
				"dynamodb:TransactWriteItems": 1,
				"ssm:PutParameter":            changed,
				"ecr:BatchGetImage":           len(p.repos),
			}))
		})
	}
	const tagged = 10
	for _, move := range []bool{false, true} {
		name, changed := "tagged redeploy", 0
		if move {
			name, changed = "tagged deploy", tagged
		}
		b.Run(fmt.Sprintf("tagged/services=%d/changed=%d", tagged, changed), func(b *testing.B) {
			env := newBenchEnv(b)
			p := env.projectOf(b, tagged, 1, true, "stage")
			env.setLatest(b, p, env.pushImages(b, p))
			r1 := env.createRelease(b, p)
			env.setLatest(b, p, env.pushImages(b, p))
			r2 := env.createRelease(b, p)
			env.deploy(b, p, r1.ID, "stage")
			total := map[string]int{}
			n := 0
			for b.Loop() {
				target := r1
				if move && n%2 == 0 {
					target = r2
				}
				res := env.measuredDeploy(b, p, target.ID, "stage", total)
				if res.Release.ID != target.ID {
					b.Fatalf("deployed release %s, want %s", res.Release.ID, target.ID)
				}
				env.checkParameters(b, p, "stage", target.Images)
				env.checkTags(b, p, "env.stage", target.Images)
				n++
			}
			floor := callBudget{
				"dynamodb:BatchGetItem":       1,
				"dynamodb:TransactWriteItems": 1,
				"ecr:BatchGetImage":           len(p.repos), // by digest and by tag in one call
			}
			if move {
				floor["ssm:PutParameter"] = changed
				floor["ecr:PutImage"] = len(p.repos) // every repository's tag moves
			}
			forms = append(forms, env.form(b, name, p, changed, perOp(total, n), floor))
		})
	}
	var rows []string
	for _, f := range forms {
		rows = append(rows, f.row())
	}
	return "calls per deploy in the forms CI sends, got/floor (by latest: + 1 GetItem of the release the latest pointer names, read with the project and state;\n" +
		"tagged: tag_deployed_images, a repository per service; settle as in the table by id)\n" +
		fmt.Sprintf("%-15s  %8s  %7s  %5s  %8s  %12s  %7s  %18s  %12s  %13s  %8s  %6s  %s\n",
			"case", "services", "changed", "repos", "calls/op", "BatchGetItem", "GetItem", "TransactWriteItems", "PutParameter", "BatchGetImage", "PutImage", "settle", "verdict") +
		strings.Join(rows, "\n")
}

// form reports a deploy form's calls and fails the benchmark when they are over its floor (the
// settle allowed on top after parameter writes).
func (env *benchEnv) form(b *testing.B, name string, p benchProject, changed int, got map[string]float64, floor callBudget) deployForm {
	b.Helper()
	reportCalls(b, got)
	f := deployForm{name: name, services: len(p.services), changed: changed, repos: len(p.repos), got: got, floor: floor}
	allowed := maps.Clone(floor)
	if floor["ssm:PutParameter"] > 0 {
		allowed["dynamodb:TransactWriteItems"]++
	}
	if over := overBudget(got, allowed); len(over) > 0 {
		b.Fatalf("deploy %s of %d services, %d changed, is above its floor:\n  %s\n(calls in order: %v)",
			name, f.services, changed, strings.Join(over, "\n  "), env.calls.Calls())
	}
	return f
}

func (f deployForm) row() string {
	cell := func(action string) string {
		return fmt.Sprintf("%g/%d", f.got[action], f.floor[action])
	}
	settles := f.got["dynamodb:TransactWriteItems"] - float64(f.floor["dynamodb:TransactWriteItems"])
	verdict := "floor reached"
	if settles > 0 {
		verdict = fmt.Sprintf("floor + %g settle", settles)
	}
	return fmt.Sprintf("%-15s  %8d  %7d  %5d  %8g  %12s  %7s  %18s  %12s  %13s  %8s  %6g  %s", f.name, f.services, f.changed, f.repos, callSum(f.got),
		cell("dynamodb:BatchGetItem"), cell("dynamodb:GetItem"), cell("dynamodb:TransactWriteItems"), cell("ssm:PutParameter"),
		cell("ecr:BatchGetImage"), cell("ecr:PutImage"), settles, verdict)
}

// checkRecorded fails unless the deployment is recorded as one of releaseID.
func (env *benchEnv) checkRecorded(b *testing.B, p benchProject, deploymentID, releaseID string) {
	b.Helper()
	d, err := env.svc.Deployment(context.Background(), p.id, deploymentID)
	if err != nil {
		b.Fatal(err)
	}
	if d.ReleaseID != releaseID {
		b.Fatalf("deployment %s is recorded for release %s, want %s", deploymentID, d.ReleaseID, releaseID)
	}
}

// checkTags fails unless, in each service's repository, tag is on the service's image.
func (env *benchEnv) checkTags(b *testing.B, p benchProject, tag string, images map[string]string) {
	b.Helper()
	for svc, uri := range images {
		out, err := env.ecr.BatchGetImage(context.Background(), &ecr.BatchGetImageInput{
			RepositoryName: aws.String(p.repoOf[svc]), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}},
		})
		if err != nil {
			b.Fatal(err)
		}
		_, digest, _ := strings.Cut(uri, "@")
		if len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId.ImageDigest) != digest {
			b.Fatalf("%s in %s: got %d images (%v), want %s on %s", tag, p.repoOf[svc], len(out.Images), out.Images, tag, digest)
		}
	}
}

// checkParameters fails unless the environment's parameters hold exactly images.
func (env *benchEnv) checkParameters(b *testing.B, p benchProject, environment string, images map[string]string) {
	b.Helper()
	path := shiplog.ParameterPath(p.id, environment)
	got, err := env.params.GetParametersByPath(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	want := make(map[string]string, len(images))
	for svc, uri := range images {
		want[path+svc] = uri
	}
	if !maps.Equal(got, want) {
		b.Fatalf("parameters under %s: got %d (%v), want %d (%v)", path, len(got), got, len(want), want)
	}
}

// BenchmarkList counts the DynamoDB items read to list the newest 20 releases, the newest 20
// deployments of the project and the newest 20 of one environment, with 10, 1,000 and 10,000
// releases (and as many deployments) in the tables. The floor is 21 items per list, whatever the
// size: the page and one more item that says whether a next page exists.
func BenchmarkList(b *testing.B) {
	const limit = 20
	var rows []string
	for _, size := range []int{10, 1_000, 10_000} {
		env := newBenchEnv(b)
		started := time.Now()
		p, releaseIDs, deploymentIDs := env.seedHistory(b, size)
		seeded := time.Since(started).Round(10 * time.Millisecond)
		newest := func(ids []string) []string {
			ids = slices.Clone(ids)
			slices.Sort(ids)
			slices.Reverse(ids)
			return ids[:min(limit, len(ids))]
		}
		lists := []struct {
			name string
			list func() ([]string, string, error)
			want []string
		}{
			{"releases", func() ([]string, string, error) {
				page, err := env.svc.Releases(context.Background(), p.id, shiplog.PageRequest{Limit: limit})
				var ids []string
				for _, r := range page.Items {
					ids = append(ids, r.ID)
				}
				return ids, page.NextCursor, err
			}, newest(releaseIDs)},
			{"deployments", func() ([]string, string, error) {
				page, err := env.svc.Deployments(context.Background(), p.id, shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: limit})
				var ids []string
				for _, d := range page.Items {
					ids = append(ids, d.ID)
				}
				return ids, page.NextCursor, err
			}, newest(deploymentIDs)},
			{"deployments-of-env", func() ([]string, string, error) {
				page, err := env.svc.Deployments(context.Background(), p.id, shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: limit})
				var ids []string
				for _, d := range page.Items {
					ids = append(ids, d.ID)
				}
				return ids, page.NextCursor, err
			}, newest(deploymentIDs)},
		}
		var cells []string
		var besides, calls, worst float64
		var over []string
		for _, l := range lists {
			b.Run(fmt.Sprintf("releases=%d/%s", size, l.name), func(b *testing.B) {
				env.reset()
				n := 0
				for b.Loop() {
					ids, cursor, err := l.list()
					if err != nil {
						b.Fatalf("list %s: %v", l.name, err)
					}
					if !slices.Equal(ids, l.want) {
						b.Fatalf("list %s: got %v, want the newest %d: %v", l.name, ids, limit, l.want)
					}
					if (cursor != "") != (size > limit) {
						b.Fatalf("list %s of %d: next cursor %q, want one only if there are more than %d", l.name, size, cursor, limit)
					}
					n++
				}
				queried, scanned, got := env.reads.counts()
				listed := float64(max(queried, scanned)) / float64(n)
				other := float64(got) / float64(n)
				perList := perOp(env.calls.Counts(), n)
				b.ReportMetric(listed, "items/op")
				b.ReportMetric(float64(scanned)/float64(n), "scanned/op")
				b.ReportMetric(other, "project-items/op")
				reportCalls(b, perList)
				cells = append(cells, fmt.Sprintf("%g/%g", float64(queried)/float64(n), float64(scanned)/float64(n)))
				besides, calls, worst = max(besides, other), max(calls, callSum(perList)), max(worst, listed+other)

				var wrong []string
				if floor := min(limit+1, size); listed+other > float64(floor) {
					wrong = append(wrong, fmt.Sprintf("%g items read (%g by the list, %g besides), want at most %d", listed+other, listed, other, floor))
				}
				wrong = append(wrong, overBudget(perList, callBudget{"dynamodb:Query": 1})...)
				over = append(over, wrong...)
				if len(wrong) > 0 {
					b.Fatalf("listing the newest %d %s with %d releases is above its floor:\n  %s", limit, l.name, size, strings.Join(wrong, "\n  "))
				}
			})
		}
		v := "floor reached"
		switch {
		case len(over) > 0:
			v = "OVER: " + strings.Join(over, "; ")
		}
		rows = append(rows, fmt.Sprintf("%8d  %9s  %13s  %13s  %13s  %12g  %10g  %s",
			size, seeded, cells[0], cells[1], cells[2], besides, calls, v))
	}
	logSummary(b, fmt.Sprintf("items read (Query Count/ScannedCount) to list the newest %d; floor: at most 21 read by the list, at every size\n", limit)+
		fmt.Sprintf("%8s  %9s  %13s  %13s  %13s  %12s  %10s  %s\n",
			"releases", "seeded in", "releases", "deployments", "env deploys", "project item", "calls/list", "verdict")+
		strings.Join(rows, "\n")+
		"\nproject item: read only when a page comes back empty, to tell an unknown project (NotFound) from one with nothing yet.")
}

// seedHistory gives a new project of one service size releases and as many deployments (one of
// each release to "stage"), and returns their ids. The first release and deployment go through the
// service; the rest are copies of the items it wrote, with new ids, written with BatchWriteItem:
// going through the service would take minutes at moto's pace, and copying the service's own
// items keeps them in the adapter's shape without restating it here. Only the key attributes of
// pkg/ledger's key layout (keys.go: release_id, pk, sk) and deployment_id are rewritten.
func (env *benchEnv) seedHistory(b *testing.B, size int) (benchProject, []string, []string) {
	b.Helper()
	p := env.project(b, 1, "stage")
	env.setLatest(b, p, env.pushImages(b, p))
	first := env.createRelease(b, p)
	d := env.deploy(b, p, first.ID, "stage").Deployment

	releaseItem := env.getItem(b, env.tables.Releases, map[string]ddbtypes.AttributeValue{"release_id": attrS(first.ID)})
	// The release as it was created, but for deployment_count, which stays 1: an empty
	// deployments list (as every new release's item has: deployments are items of their own)
	// and no last_date_deployed.
	releaseItem["deployments"] = &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{}}
	delete(releaseItem, "last_date_deployed")
	pk := "project#" + p.id
	deployItem := env.getItem(b, env.tables.State, map[string]ddbtypes.AttributeValue{"pk": attrS(pk), "sk": attrS("deploy#" + d.ID)})
	envDeployItem := env.getItem(b, env.tables.State, map[string]ddbtypes.AttributeValue{"pk": attrS(pk), "sk": attrS("envdeploy#stage#" + d.ID)})

	releaseIDs, deploymentIDs := []string{first.ID}, []string{d.ID}
	var releases, states []map[string]ddbtypes.AttributeValue
	newID := shiplog.NewULIDGenerator(time.Now)
	for range size - 1 {
		rid, did := newID(), newID()
		releaseIDs, deploymentIDs = append(releaseIDs, rid), append(deploymentIDs, did)
		r := maps.Clone(releaseItem)
		r["release_id"] = attrS(rid)
		releases = append(releases, r)
		for sk, it := range map[string]map[string]ddbtypes.AttributeValue{"deploy#" + did: deployItem, "envdeploy#stage#" + did: envDeployItem} {
			c := maps.Clone(it)
			c["sk"], c["deployment_id"], c["release_id"] = attrS(sk), attrS(did), attrS(rid)
			states = append(states, c)
		}
	}
	env.batchWrite(b, env.tables.Releases, releases)
	env.batchWrite(b, env.tables.State, states)
	return p, releaseIDs, deploymentIDs
}

func attrS(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

func (env *benchEnv) getItem(b *testing.B, table string, key map[string]ddbtypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	b.Helper()
	out, err := env.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		b.Fatalf("GetItem %s %v: %v", table, key, err)
	}
	if out.Item == nil {
		b.Fatalf("GetItem %s %v: no item: the store's item layout is not the one awsdynamo documents", table, key)
	}
	return out.Item
}

// batchWrite puts items with BatchWriteItem, 25 a call, a few calls at a time, until DynamoDB has
// processed every one.
func (env *benchEnv) batchWrite(b *testing.B, table string, items []map[string]ddbtypes.AttributeValue) {
	b.Helper()
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for chunk := range slices.Chunk(items, 25) {
		g.Go(func() error {
			reqs := make([]ddbtypes.WriteRequest, len(chunk))
			for i, it := range chunk {
				reqs[i] = ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: it}}
			}
			pending := map[string][]ddbtypes.WriteRequest{table: reqs}
			for round := 0; len(pending) > 0; round++ {
				if round > 10 {
					return fmt.Errorf("BatchWriteItem %s: items still unprocessed after %d rounds", table, round)
				}
				if round > 0 {
					time.Sleep(time.Duration(round) * 50 * time.Millisecond)
				}
				out, err := env.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
				if err != nil {
					return fmt.Errorf("BatchWriteItem %s: %w", table, err)
				}
				pending = out.UnprocessedItems
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}
