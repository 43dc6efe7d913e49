package awsapp

// The cost benchmarks of issue 12, goal 2, for the forms CI sends: create-release with the
// manifest in the payload, GET images of a label, and the ecr-push of a repository that feeds
// many services. Like bench_test.go's, they count SDK calls against moto through the real service
// and fail when a count goes over what is allowed.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// batchGetKeys is the most keys one DynamoDB BatchGetItem takes.
const batchGetKeys = 100

// BenchmarkCreateReleaseFromManifest counts the calls of one create-release that carries the
// project's manifest, as CI sends it, over S services. The floor is ceil(S/10) SSM GetParameters,
// one read of the project and the push records together (a BatchGetItem of S+1 keys, so
// ceil((S+1)/100) calls: 2 at S = 100; with an idempotency key its record is one more key of the
// same read) and one write. With the manifest unchanged that is all; a
// changed manifest is registered first, as any registration is: a Query of the environments'
// states, a Query per repository (the services it feeds in other projects), the project's GetItem
// and its TransactWriteItems, allowed only then.
func BenchmarkCreateReleaseFromManifest(b *testing.B) {
	var rows, changedRows []string
	for _, s := range []int{1, 10, 100} {
		env := newBenchEnv(b)
		p := env.project(b, s, "stage")
		env.setLatest(b, p, env.pushImages(b, p))
		stored, err := env.svc.Project(context.Background(), p.id)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []struct {
			name         string
			changed, key bool
		}{{"unchanged", false, false}, {"unch.+key", false, true}, {"changed", true, false}} {
			name, changed := c.name, c.changed
			b.Run(fmt.Sprintf("services=%d/manifest=%s", s, name), func(b *testing.B) {
				keys := s + 1 // the project and a push record per service
				if c.key {
					keys++ // and the idempotency key's record
				}
				floor := callBudget{
					"ssm:GetParameters":           ceilDiv(s, ssmPageSize),
					"dynamodb:BatchGetItem":       ceilDiv(keys, batchGetKeys),
					"dynamodb:TransactWriteItems": 1,
				}
				allowed := maps.Clone(floor)
				if changed {
					allowed["dynamodb:Query"] = 1 + len(p.repos)
					allowed["dynamodb:GetItem"] = 1
					allowed["dynamodb:TransactWriteItems"] = 2
				}
				env.reset()
				n := 0
				for b.Loop() {
					reg := stored
					if changed {
						// Every run renames the project, so that every run registers a change.
						reg = renamed(b, stored, fmt.Sprintf("Benchmark %d", n))
					}
					in := shiplog.CreateReleaseInput{ProjectID: p.id, Register: &reg}
					if c.key {
						// A new key every run, as CI's commit id is: every run is a new request.
						in.IdempotencyKey = fmt.Sprintf("commit-%d", n)
					}
					r, err := env.svc.CreateRelease(context.Background(), in)
					if err != nil {
						b.Fatalf("create release of %s with its manifest: %v", p.id, err)
					}
					if len(r.Images) != s || r.ProjectName != reg.Name || r.Manifest != string(reg.Manifest) {
						b.Fatalf("release %s: %d images, name %q, want %d and %q", r.ID, len(r.Images), r.ProjectName, s, reg.Name)
					}
					n++
				}
				got := perOp(env.calls.Counts(), n)
				reportCalls(b, got)
				over := overBudget(got, allowed)
				verdict := floorVerdict(over)
				registration := beyond(got, floor)
				if len(over) == 0 && registration > 0 {
					verdict = fmt.Sprintf("floor + %g registration", registration)
				}
				row := &rows
				if changed {
					row = &changedRows
				}
				*row = append(*row, fmt.Sprintf("%8d  %9s  %8g  %13g  %12g  %5g  %12g  %5d  %s", s, name, callSum(got),
					got["ssm:GetParameters"], got["dynamodb:BatchGetItem"], got["dynamodb:TransactWriteItems"],
					got["dynamodb:Query"]+got["dynamodb:GetItem"], floor.total(), verdict))
				if len(over) > 0 {
					b.Fatalf("create-release with the manifest (%s) over %d services is above what is allowed:\n  %s\n(calls in order: %v)",
						name, s, strings.Join(over, "\n  "), env.calls.Calls())
				}
			})
		}
	}
	header := fmt.Sprintf("%8s  %9s  %8s  %13s  %12s  %5s  %12s  %5s  %s\n", "services", "manifest", "calls/op", "GetParameters", "BatchGetItem", "write", "Query+GetItem", "floor", "verdict")
	logSummary(b, "calls per create-release with the manifest unchanged (floor: ceil(S/10) GetParameters + ceil((S+1)/100) BatchGetItem of the project,\n"+
		"push records (and idempotency key: one key more) + 1 write)\n"+header+strings.Join(rows, "\n"))
	b.Run("summary-changed", func(b *testing.B) {
		for b.Loop() {
		}
		b.Log("calls per create-release with a changed manifest (floor as unchanged, + the registration: Query of env states, 1 Query per\n" +
			"repository, GetItem, TransactWriteItems, outside the floor)\n" + header + strings.Join(changedRows, "\n"))
	})
}

// beyond is how many calls per operation got makes beyond the floor.
func beyond(got map[string]float64, floor callBudget) float64 {
	extra := 0.0
	for action, v := range got {
		extra += max(0, v-float64(floor[action]))
	}
	return extra
}

// renamed returns p under another name, with its manifest entry saying so.
func renamed(b *testing.B, p shiplog.Project, name string) shiplog.Project {
	b.Helper()
	var entry map[string]any
	if err := json.Unmarshal(p.Manifest, &entry); err != nil {
		b.Fatal(err)
	}
	entry["name"] = name
	raw, err := json.Marshal(entry)
	if err == nil {
		p, err = manifest.ParseProject(p.ID, raw)
	}
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkImages counts the calls of GET /projects/{p}/images/{label} over S services: the
// parameters under the label, read by path, ten a page, and the project's GetItem at the same
// time (a path may hold parameters of a project that is not registered, which must answer
// NotFound). The floor is ceil(S/10) GetParametersByPath and one GetItem. A path read must follow NextToken until SSM sends none: SSM documents that
// a page may hold fewer items than asked (even none) and still carry one, and moto sends one with
// every full last page, so when S is a multiple of 10 one more, empty, page is allowed and shown.
func BenchmarkImages(b *testing.B) {
	var rows []string
	for _, s := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("services=%d", s), func(b *testing.B) {
			env := newBenchEnv(b)
			p := env.project(b, s, "stage")
			images := env.pushImages(b, p)
			env.setLatest(b, p, images)
			floor := callBudget{"ssm:GetParametersByPath": ceilDiv(s, ssmPageSize), "dynamodb:GetItem": 1}
			allowed := maps.Clone(floor)
			if s%ssmPageSize == 0 {
				allowed["ssm:GetParametersByPath"]++
			}
			env.reset()
			n := 0
			for b.Loop() {
				got, err := env.svc.Images(context.Background(), p.id, shiplog.LatestLabel)
				if err != nil {
					b.Fatalf("images of %s: %v", p.id, err)
				}
				if !maps.Equal(got, images) {
					b.Fatalf("images of %s: got %d, want %d", p.id, len(got), len(images))
				}
				n++
			}
			got := perOp(env.calls.Counts(), n)
			reportCalls(b, got)
			over := overBudget(got, allowed)
			verdict := floorVerdict(over)
			if extra := beyond(got, floor); len(over) == 0 && extra > 0 {
				verdict = fmt.Sprintf("floor + %g empty page (NextToken on a full last page)", extra)
			}
			rows = append(rows, fmt.Sprintf("%8d  %8g  %7g  %19g  %5d  %s", s, callSum(got),
				got["dynamodb:GetItem"], got["ssm:GetParametersByPath"], floor.total(), verdict))
			if len(over) > 0 {
				b.Fatalf("images of %d services is above what is allowed:\n  %s\n(calls in order: %v)", s, strings.Join(over, "\n  "), env.calls.Calls())
			}
		})
	}
	logSummary(b, "calls per GET images of a label (floor: ceil(S/10) GetParametersByPath and the project's GetItem, at the same time)\n"+
		fmt.Sprintf("%8s  %8s  %7s  %19s  %5s  %s\n", "services", "calls/op", "GetItem", "GetParametersByPath", "floor", "verdict")+
		strings.Join(rows, "\n"))
}

// pushRTT is how long each call of the push benchmark is held before moto gets it, as a Lambda in
// the region would wait for DynamoDB or SSM; moto itself answers in a millisecond or two.
const pushRTT = 30 * time.Millisecond

// heldCalls holds every SDK call for a round trip and counts how many are in flight at once.
type heldCalls struct {
	mu            sync.Mutex
	inFlight, max int
	holds         []time.Time // when each hold began
}

func (h *heldCalls) option() func(*aws.Config) {
	return func(cfg *aws.Config) {
		cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.heldCalls",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					h.mu.Lock()
					h.holds = append(h.holds, time.Now())
					h.inFlight++
					h.max = max(h.max, h.inFlight)
					h.mu.Unlock()
					defer func() {
						h.mu.Lock()
						h.inFlight--
						h.mu.Unlock()
					}()
					select {
					case <-time.After(pushRTT):
					case <-ctx.Done():
						return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func (h *heldCalls) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.max, h.holds = 0, nil
}

// series is how many round trips were spent in series: the length of the union of every hold, in
// round trips. Calls held at once overlap and count once; moto's own time, between one call and
// the next, is left out.
func (h *heldCalls) series() float64 {
	h.mu.Lock()
	starts := slices.Clone(h.holds)
	h.mu.Unlock()
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	var covered time.Duration
	var end time.Time
	for _, t := range starts {
		switch {
		case t.After(end):
			covered += pushRTT
		default:
			covered += t.Add(pushRTT).Sub(end)
		}
		end = t.Add(pushRTT)
	}
	return float64(covered) / float64(pushRTT)
}

// BenchmarkRecordPush measures the ecr-push of one image to a repository that feeds N services,
// with every call held for a simulated round trip, wired as functions/ecr-push is (no registry,
// ECR for the image's annotations). The calls are 1 Query (the services the repository feeds), 1
// BatchGetImage (the pushed image's manifest, whose annotations name its source revision; made
// once per push, after the Query, so a push to a repository no project claims costs no ECR call)
// and, for each service, 4: the push record's TransactWriteItems, a GetParameter (a push of an
// image the parameter holds already, such as a re-tag, writes nothing), the PutParameter, and a
// GetItem of the record again (a newer push that landed meanwhile gets its image written
// instead). Services are written PushConcurrency at a time, so the floor of the wall time is
// 2 + 4 x ceil(N/PushConcurrency) round trips, and at most PushConcurrency calls are in flight.
// The wall time is shown as round trips in series (heldCalls.series), which moto's own pace,
// slow and uneven under concurrent transactions, does not blur; the raw wall time is reported as
// wall-RTT/op.
func BenchmarkRecordPush(b *testing.B) {
	var rows []string
	for _, services := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("services=%d", services), func(b *testing.B) {
			env := newBenchEnv(b)
			held := &heldCalls{}
			m := localaws.SharedMoto(b)
			// More attempts than the SDK's 3, without its retry quota: moto now and then answers
			// one of 16 concurrent transactions with a 500 (an exception of its own), which
			// DynamoDB does not. Retries are not calls: the recorder counts each operation once.
			cfg := m.Config(context.Background(), env.calls.Option(), held.option(), func(c *aws.Config) {
				c.Retryer = func() aws.Retryer {
					return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.RateLimiter = 8, ratelimit.None })
				}
			})
			// As functions/ecr-push: no registry (it never deploys), ECR for the annotations.
			svc := NewFromConfig(cfg, env.tables, nil, nil)
			svc.Metadata = awsecr.NewFromConfig(cfg)
			repo := env.oneRepositoryProject(b, services)

			floorCalls := 2 + 4*services
			floorWall := 2 + 4*ceilDiv(services, shiplog.PushConcurrency)
			at := time.Now().Add(-time.Hour).Truncate(time.Second)
			seq := 0
			push := func() time.Duration {
				// A real image in the repository (put by an unrecorded client, so not counted),
				// annotated with its source as a build stamps it: the push reads it back.
				rev := fmt.Sprintf("%040x", imageSeq.Add(1))
				p := shiplog.ImagePush{
					Account: "123456789012", Region: localaws.Region, Repository: repo,
					Digest: env.annotatedImage(b, repo, rev), Tag: "build",
					Action: "PUSH", Result: "SUCCESS", Time: at.Add(time.Duration(seq) * time.Second),
				}
				seq++
				started := time.Now()
				out, err := svc.RecordPush(context.Background(), p)
				took := time.Since(started)
				if err != nil {
					b.Fatalf("record push to %s: %v", repo, err)
				}
				if len(out.Updated) != services {
					b.Fatalf("push to %s updated %d parameters (%v), want %d", repo, len(out.Updated), out, services)
				}
				if out.Source == nil || out.Source.Revision != rev || out.Source.RevisionFrom != shiplog.SourceFromAnnotation {
					b.Fatalf("push to %s: source %+v (notes %v), want revision %s from the image's annotations", repo, out.Source, out.SourceNotes, rev)
				}
				return took
			}
			env.reset()
			held.reset()
			n := 0
			var wall time.Duration
			for b.Loop() {
				wall += push()
				n++
			}
			got := perOp(env.calls.Counts(), n)
			reportCalls(b, got)
			trips := held.series() / float64(n)
			b.ReportMetric(float64(wall)/float64(n)/float64(pushRTT), "wall-RTT/op")
			b.ReportMetric(trips, "round-trips/op")
			b.ReportMetric(float64(held.max), "max-in-flight")
			var wrong []string
			if c := callSum(got); c > float64(floorCalls) {
				wrong = append(wrong, fmt.Sprintf("%g calls, want at most %d", c, floorCalls))
			}
			if held.max > shiplog.PushConcurrency {
				wrong = append(wrong, fmt.Sprintf("%d calls in flight, want at most %d", held.max, shiplog.PushConcurrency))
			}
			// The wall time is not held to its floor: moto answers concurrent transactions one at
			// a time (and now and then with a 500 that the SDK retries), which staggers the chains
			// by its own pace. It fails only when it looks like the services ran one after another.
			if sequential := float64(2 + 4*services); services > 1 && trips >= 0.75*sequential {
				wrong = append(wrong, fmt.Sprintf("%.1f round trips in series, as if the %d services ran one after another (%g)", trips, services, sequential))
			}
			rows = append(rows, fmt.Sprintf("%8d  %8g  %9d  %8d  %9d  %10.1f  %10d  %s", services, callSum(got), floorCalls,
				held.max, min(services, shiplog.PushConcurrency), trips, floorWall, floorVerdict(wrong)))
			if len(wrong) > 0 {
				b.Fatalf("ecr-push to a repository feeding %d services:\n  %s\n(calls in order: %v)", services, strings.Join(wrong, "\n  "), env.calls.Calls())
			}
		})
	}
	logSummary(b, fmt.Sprintf("ecr-push of one image to a repository feeding N services, each call held %s (floor: 2 + 4N calls, min(N, %d) in flight;\n"+
		"wall: 2 + 4 x ceil(N/%d) round trips in series, shown, not held: moto serializes concurrent transactions; fails only if near 2 + 4N, sequential)\n",
		pushRTT, shiplog.PushConcurrency, shiplog.PushConcurrency)+
		fmt.Sprintf("%8s  %8s  %9s  %8s  %9s  %10s  %10s  %s\n", "services", "calls/op", "floor", "inflight", "floor", "wall (RTT)", "floor", "verdict")+
		strings.Join(rows, "\n"))
}

// annotatedImage puts a distinct OCI image into repo, annotated with the source revision rev and
// a repository, through the unrecorded client, and returns its digest.
func (env *benchEnv) annotatedImage(b *testing.B, repo, rev string) string {
	b.Helper()
	const mediaType = "application/vnd.oci.image.manifest.v1+json"
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:000000000000000000000000%s"},"layers":[],`+
		`"annotations":{%q:%q,%q:"https://github.com/example/bench"}}`, mediaType, rev, shiplog.AnnotationRevision, rev, shiplog.AnnotationSource)
	out, err := env.ecr.PutImage(context.Background(), &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(body), ImageManifestMediaType: aws.String(mediaType),
		ImageTag: aws.String("build-" + rev[:12]),
	})
	if err != nil {
		b.Fatalf("PutImage %s: %v", repo, err)
	}
	return aws.ToString(out.Image.ImageId.ImageDigest)
}

// oneRepositoryProject registers a project whose services, all n of them, run the images of one
// repository, and returns the repository.
func (env *benchEnv) oneRepositoryProject(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	id := localaws.UniqueName("bench")
	repo := localaws.UniqueName("shiplog-bench") + "/one"
	if _, err := env.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		b.Fatalf("CreateRepository %s: %v", repo, err)
	}
	quoted := make([]string, n)
	for i := range n {
		quoted[i] = fmt.Sprintf("%q", fmt.Sprintf("svc-%03d", i))
	}
	entry := fmt.Sprintf(`{"name":"Benchmark","environments":[{"id":"stage","name":"stage"}],"image_repositories":[{"id":%q,"services":[%s]}]}`,
		repo, strings.Join(quoted, ","))
	project, err := manifest.ParseProject(id, []byte(entry))
	if err == nil {
		_, err = env.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{project}})
	}
	if err != nil {
		b.Fatalf("register project %s: %v", id, err)
	}
	return repo
}
