package awsdynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// maxScaleRatio is how much more a large case of BenchmarkScale may cost than its small one, in
// calls, items read and bytes: the reads whose cost follows the work, not the history.
const maxScaleRatio = 1.2

// scaleCost is what one measured read cost: calls, items read (a Query's ScannedCount, a batch
// read's items), capacity units and bytes (requests and responses).
type scaleCost struct {
	calls, items int
	capacity     float64
	bytes        int64
}

// scaleRow is a measured case of BenchmarkScale.
type scaleRow struct {
	read, size string
	cost       scaleCost
	ratio      float64 // the largest of calls, items and bytes over the small case's; 0 for it
	seeding    time.Duration
	note       string
}

// measure runs read with the meter reset and returns what it cost.
func measure(b *testing.B, meter *costMeter, read func()) scaleCost {
	b.Helper()
	meter.reset()
	read()
	calls, capacity, bytes := meter.read()
	return scaleCost{calls: calls, items: meter.readItems(), capacity: capacity, bytes: bytes}
}

// ratio is the largest of the large case's calls, items and bytes over the small one's.
func (c scaleCost) ratio(small scaleCost) float64 {
	r := func(a, b float64) float64 {
		if b == 0 {
			if a == 0 {
				return 1
			}
			return a
		}
		return a / b
	}
	return max(r(float64(c.calls), float64(small.calls)), r(float64(c.items), float64(small.items)), r(float64(c.bytes), float64(small.bytes)))
}

// seedOps writes ops straight to the tables, as the ledger would lay them out but without its
// transactions: puts in BatchWriteItem calls of 25 (DynamoDB's limit), any other op as a write of
// its own, eight calls at a time. It is for seeding a benchmark's history in minutes, not hours.
func seedOps(b *testing.B, s testStore, ops []ledger.Op) {
	b.Helper()
	ctx := context.Background()
	var puts []types.WriteRequest
	var others []ledger.Op
	// Updates that only set attributes, on items the seed creates: each item's as one put.
	sets := map[ledger.Key]map[string]any{}
	var setKeys []ledger.Key
	for _, op := range ops {
		if op.Put != nil || op.Delete || op.Check || op.If != nil || len(op.Update) == 0 ||
			slices.ContainsFunc(op.Update, func(c ledger.Change) bool { return c.Kind != ledger.Set }) {
			continue
		}
		if sets[op.Key] == nil {
			sets[op.Key] = map[string]any{}
			setKeys = append(setKeys, op.Key)
		}
		for _, c := range op.Update {
			sets[op.Key][c.Attr] = c.Value
		}
	}
	for _, k := range setKeys {
		ops = append(ops, ledger.Op{Key: k, Put: sets[k]})
	}
	for _, op := range ops {
		if op.Put == nil {
			if _, set := sets[op.Key]; !set {
				others = append(others, op)
			}
			continue
		}
		it, err := s.driver.transactItem(ledger.Op{Key: op.Key, Put: op.Put})
		if err != nil {
			b.Fatal(err)
		}
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: it.Put.Item}})
	}
	var g errgroup.Group
	g.SetLimit(8)
	for chunk := range slices.Chunk(puts, 25) {
		g.Go(func() error {
			// Every item of a chunk goes to the state table, but for releases: ask per table.
			req := map[string][]types.WriteRequest{}
			for _, w := range chunk {
				table := s.state
				if _, ok := w.PutRequest.Item[attrPK]; !ok {
					table = s.releases
				}
				req[table] = append(req[table], w)
			}
			for len(req) > 0 {
				out, err := s.admin.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
				if err != nil {
					return err
				}
				req = out.UnprocessedItems
			}
			return nil
		})
	}
	for _, op := range others {
		g.Go(func() error { return s.driver.Write(ctx, []ledger.Op{op}) })
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("seed %d ops: %v", len(ops), err)
	}
}

// BenchmarkScale measures, on DynamoDB Local through the SDK, the reads whose cost once followed
// the history rather than the work (issue 18), at a small and a large size, and fails if a large
// case costs more than maxScaleRatio of its small one in calls, items or bytes. Each size has
// tables of its own; the history is seeded with BatchWriteItem in the ledger's layout (the
// ledger's own ops, written without transactions), the rest through the Service.
func BenchmarkScale(b *testing.B) {
	// 2 GB of heap: DynamoDB Local holds about 400,000 items here, which filled the tests' 512 MB.
	local := backend{name: "dynamodb-local", cfg: localaws.StartDynamoDBLocal(b, localaws.WithHeap("2g")).Config(context.Background()), maxTransact: maxTransactItems}
	var mu sync.Mutex
	var rows []scaleRow
	small := map[string]scaleCost{}
	record := func(b *testing.B, key, read, size string, cost scaleCost, seeding time.Duration, note string) {
		mu.Lock()
		defer mu.Unlock()
		row := scaleRow{read: read, size: size, cost: cost, seeding: seeding, note: note}
		b.ReportMetric(float64(cost.calls), key+"-calls")
		b.ReportMetric(float64(cost.items), key+"-items")
		b.ReportMetric(float64(cost.bytes), key+"-bytes")
		b.ReportMetric(cost.capacity, key+"-capacity-units")
		if s, ok := small[read]; ok {
			row.ratio = cost.ratio(s)
			b.ReportMetric(row.ratio, key+"-ratio")
			if row.ratio > maxScaleRatio {
				b.Errorf("%s at %s: %d calls, %d items, %d bytes, %.2f× the small case's (%d, %d, %d); the goal is %.1f×",
					read, size, cost.calls, cost.items, cost.bytes, row.ratio, s.calls, s.items, s.bytes, maxScaleRatio)
			}
		} else {
			small[read] = cost
		}
		rows = append(rows, row)
	}

	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("projects/projects=%d", n), func(b *testing.B) { benchProjects(b, local, n, record) })
	}
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("ecs-events/projects=%d", n), func(b *testing.B) { benchECSEvents(b, local, n, record) })
	}
	for _, older := range []int{0, 4900, 50_000} {
		b.Run(fmt.Sprintf("metrics/older=%d", older), func(b *testing.B) { benchMetrics(b, local, older, record) })
	}
	b.Run("metrics/year", func(b *testing.B) { benchMetricsYear(b, local, record) })
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("events-by-type/events=%d", n), func(b *testing.B) { benchEventsByType(b, local, n, record) })
	}

	var printed sync.Once
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
		}
		var lines []string
		for _, r := range rows {
			ratio := "—"
			if r.ratio > 0 {
				ratio = fmt.Sprintf("%.2f", r.ratio)
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %d | %d | %g | %d | %s | %s | %s |", r.read, r.size, r.cost.calls, r.cost.items,
				r.cost.capacity, r.cost.bytes, ratio, r.seeding.Round(100*time.Millisecond), r.note))
		}
		// Printed, not logged: go test keeps only the first ten lines of a benchmark's log unless
		// run with -v, which cut the table short in make bench. Once, whatever b.N the run asks.
		printed.Do(func() {
			fmt.Printf("reads whose cost follows the work, not the history (DynamoDB Local; ratio: the largest of calls, items and bytes over the first row of the read; goal ≤ %.1f)\n"+
				"| read | size | calls | items | capacity units | bytes | ratio | seeding | |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n%s\n",
				maxScaleRatio, strings.Join(lines, "\n"))
		})
	})
}

// recordFunc records a measured case; key names its metrics (key-calls, key-ratio, ...).
type recordFunc func(b *testing.B, key, read, size string, cost scaleCost, seeding time.Duration, note string)

// scaleService is a Service on fresh tables of local whose calls meter counts. The state table's
// stream is turned off: no read measured here touches it, and DynamoDB Local writes each stream
// record after a lookup whose cost grows with the stream, so that seeding with it on was
// quadratic (80 items a second at first, 6 at 23,000 items, on a loaded machine; see
// docs/cost.md).
func scaleService(b *testing.B, local backend, meter *costMeter) (testStore, *shiplog.Service) {
	s := local.newStore(b, meter.add)
	if _, err := s.admin.UpdateTable(b.Context(), &dynamodb.UpdateTableInput{TableName: aws.String(s.state),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		b.Fatalf("turn the stream of %s off: %v", s.state, err)
	}
	svc := shiplog.NewService(shiplogtest.NewMemoryParameters(), s.Store, nil, nil)
	return s, svc
}

func registerScale(b *testing.B, svc *shiplog.Service, p shiplog.Project) {
	b.Helper()
	if _, err := svc.RegisterProjects(context.Background(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		b.Fatalf("register %s: %v", p.ID, err)
	}
}

// benchEventsByType: every page of a rare type (30 events, two pages of 20) of a log of n events.
func benchEventsByType(b *testing.B, local backend, n int, record recordFunc) {
	meter := &costMeter{}
	s, svc := scaleService(b, local, meter)
	ctx := context.Background()
	registerScale(b, svc, shiplog.Project{ID: "scale", Name: "Scale", Environments: []shiplog.Environment{{ID: "stage"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "team/scale", Services: []string{"api"}}}})
	const rare = 30
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := base
	ids := shiplog.NewULIDGenerator(func() time.Time { return clock })
	common := []string{"image.recorded", "release.created", "deployment.created", "deployment.applied"}
	var im ledger.Import
	var want []string
	for i := range n {
		clock = base.Add(time.Duration(i) * time.Second)
		ev := shiplog.Event{ID: ids(), Type: common[i%len(common)], At: clock.Unix(), By: shiplog.Person{ID: "ci"}, ProjectID: "scale", Environment: "stage"}
		if i%(n/rare) == 0 && len(want) < rare {
			ev.Type = "deployment.failed"
			want = append([]string{ev.ID}, want...)
		}
		if err := im.Event(ev); err != nil {
			b.Fatal(err)
		}
	}
	// Every item the ledger writes for them: each event's item in the log and its copy in its
	// type's list, the common types' as well as the rare one's.
	start := time.Now()
	seedOps(b, s, im.Ops())
	seeding := time.Since(start)

	var cost scaleCost
	for b.Loop() {
		var got []string
		cost = measure(b, meter, func() {
			page := shiplog.PageRequest{}
			for {
				p, err := svc.Events(ctx, "scale", shiplog.EventFilter{Type: "deployment.failed"}, page)
				if err != nil {
					b.Fatal(err)
				}
				for _, ev := range p.Items {
					got = append(got, ev.ID)
				}
				if p.NextCursor == "" {
					return
				}
				page.Cursor = p.NextCursor
			}
		})
		if !slices.Equal(got, want) {
			b.Fatalf("deployment.failed of %d events: got %d events, want %d, newest first", n, len(got), len(want))
		}
	}
	record(b, "page", "events by type: every page of a rare type (30 events, 2 pages of 20)", fmt.Sprintf("%d events", n), cost, seeding, "")
}

// benchProjects: the first page of 10 of GET /projects with n registered.
func benchProjects(b *testing.B, local backend, n int, record recordFunc) {
	meter := &costMeter{}
	s, svc := scaleService(b, local, meter)
	var im ledger.Import
	for i := range n {
		im.Project(scaleProject(i))
	}
	start := time.Now()
	seedOps(b, s, im.Ops())
	seeding := time.Since(start)
	var cost scaleCost
	for b.Loop() {
		var page shiplog.Page[shiplog.Project]
		cost = measure(b, meter, func() {
			var err error
			if page, err = svc.ProjectsPage(context.Background(), shiplog.PageRequest{Limit: 10}); err != nil {
				b.Fatal(err)
			}
		})
		if len(page.Items) != 10 || page.Items[0].ID != scaleProject(0).ID || (page.NextCursor == "") != (n == 10) {
			b.Fatalf("the first page of %d projects: got %d, first %q, cursor %q", n, len(page.Items), page.Items[0].ID, page.NextCursor)
		}
	}
	record(b, "page", "GET /projects: the first page of 10", fmt.Sprintf("%d projects", n), cost, seeding, "")
}

// scaleProject is the i-th project of the ECS and projects benchmarks: two environments on ECS
// clusters shared by many projects, three services of its own.
func scaleProject(i int) shiplog.Project {
	id := fmt.Sprintf("project-%04d", i)
	return shiplog.Project{ID: id, Name: id,
		Environments: []shiplog.Environment{
			{ID: "stage", Name: "stage", ECS: &shiplog.ECSTarget{Cluster: fmt.Sprintf("stage-%d", i%4)}},
			{ID: "prod", Name: "prod", ECS: &shiplog.ECSTarget{Cluster: fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:cluster/prod-%d", i%4)}},
		},
		ImageRepositories: []shiplog.ImageRepository{{ID: "team/" + id, Services: []string{id + "-api", id + "-web", id + "-worker"}}},
	}
}

// benchECSEvents: an ECS event about a service no project runs, and one about a service one
// project runs in an environment with nothing deployed, with n projects registered.
func benchECSEvents(b *testing.B, local backend, n int, record recordFunc) {
	meter := &costMeter{}
	s, svc := scaleService(b, local, meter)
	svc.Home = shiplog.Location{Account: "123456789012", Region: "eu-west-1"}
	ctx := context.Background()
	var im ledger.Import
	for i := range n {
		im.Project(scaleProject(i))
	}
	start := time.Now()
	seedOps(b, s, im.Ops())
	seeding := time.Since(start)
	event := func(cluster, service string) shiplog.RuntimeEvent {
		return shiplog.RuntimeEvent{ID: "e1", Account: "123456789012", Region: "eu-west-1", Cluster: cluster, Service: service,
			Outcome: shiplog.RolloutCompleted, At: time.Now().Unix()}
	}
	var miss, hit scaleCost
	for b.Loop() {
		var out shiplog.RuntimeOutcome
		miss = measure(b, meter, func() {
			var err error
			if out, err = svc.HandleRuntimeEvent(ctx, event("stage-1", "someone-elses")); err != nil {
				b.Fatal(err)
			}
		})
		if len(out.Environments) != 0 || out.Ignored == "" {
			b.Fatalf("an event about a service no project runs: %+v", out)
		}
		p := scaleProject(n / 2)
		hit = measure(b, meter, func() {
			var err error
			if out, err = svc.HandleRuntimeEvent(ctx, event(fmt.Sprintf("stage-%d", (n/2)%4), p.ID+"-web")); err != nil {
				b.Fatal(err)
			}
		})
		if len(out.Environments) != 1 || out.Environments[0].ProjectID != p.ID || out.Environments[0].Environment != "stage" {
			b.Fatalf("an event about %s's web in stage: %+v", p.ID, out)
		}
	}
	record(b, "miss", "ECS event about a service no project runs", fmt.Sprintf("%d projects", n), miss, seeding, "")
	record(b, "match", "ECS event about a service one project runs (nothing deployed)", fmt.Sprintf("%d projects", n), hit, 0, "")
}

// seedDeployments imports n deployments to prod of project "metrics", one every gap from start,
// each with its lead times recorded (one new image, pushed an hour before), every tenth failed and
// restored by the next, which is verified. It returns the ops to seed them with.
func seedDeployments(im *ledger.Import, start time.Time, gap time.Duration, n int, tag string) {
	clock := start
	ids := shiplog.NewULIDGenerator(func() time.Time { return clock })
	for i := range n {
		clock = start.Add(time.Duration(i) * gap)
		at := clock.Unix()
		d := shiplog.Deployment{ID: ids(), Environment: shiplog.Environment{ID: "prod", Name: "prod"}, CreatedAt: at,
			RequestedBy: shiplog.Person{ID: "ci"}, Description: "scheduled", Kind: shiplog.KindDeploy,
			Changes: &shiplog.Changes{Changed: []string{"api"}, Added: []string{}, Removed: []string{}, ParametersWritten: []string{"/metrics/images/prod/api"}},
			Leads:   &shiplog.Leads{Images: []shiplog.ImageLead{{URI: fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:%s-%d", tag, i), PushedAt: at - 3600}}},
			StatusHistory: []shiplog.StatusEntry{{Status: shiplog.StatusRequested, At: at, By: shiplog.Person{ID: "ci"}},
				{Status: shiplog.StatusApplied, At: at, By: shiplog.Person{ID: "shiplog"}}}}
		end := shiplog.StatusEntry{Status: shiplog.StatusVerified, At: at + 60, By: shiplog.Person{ID: "ecs"}}
		if i%10 == 0 {
			end.Status = shiplog.StatusFailed
		}
		d.StatusHistory = append(d.StatusHistory, end)
		d.Status = end.Status
		im.Deployment(shiplog.DeploymentRecord{Deployment: d, ProjectID: "metrics", ReleaseID: fmt.Sprintf("R%s%06d", tag, i)}, true)
	}
}

// benchMetrics: the DORA metrics of a window of 100 deployments (10 hours at one every 6
// minutes), with older deployments before it.
func benchMetrics(b *testing.B, local backend, older int, record recordFunc) {
	meter := &costMeter{}
	s, svc := scaleService(b, local, meter)
	ctx := context.Background()
	windowStart := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var im ledger.Import
	im.Project(shiplog.Project{ID: "metrics", Name: "metrics", Environments: []shiplog.Environment{{ID: "prod", Name: "prod"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "team/api", Services: []string{"api"}}}})
	seedDeployments(&im, windowStart.Add(-time.Duration(older)*10*time.Minute), 10*time.Minute, older, "old")
	seedDeployments(&im, windowStart, 6*time.Minute, 100, "new")
	start := time.Now()
	seedOps(b, s, im.Ops())
	seeding := time.Since(start)
	in := shiplog.MetricsInput{ProjectID: "metrics", Environment: "prod", Since: windowStart.Unix(), Until: windowStart.Add(10 * time.Hour).Unix()}
	var cost scaleCost
	for b.Loop() {
		var m shiplog.Metrics
		cost = measure(b, meter, func() {
			var err error
			if m, err = svc.Metrics(ctx, in); err != nil {
				b.Fatal(err)
			}
		})
		// Ten failed (every tenth), each restored by the next, verified a minute after it.
		if m.Deployments != 100 || m.LeadTime.Count != 100 || *m.LeadTime.Median != 3600 || m.ChangeFailureRate.Failed != 10 || m.TimeToRestore.Count != 10 {
			b.Fatalf("metrics of the window: %+v", m)
		}
	}
	record(b, "metrics", "metrics: a window of 100 deployments", fmt.Sprintf("+ %d older", older), cost, seeding, "")
}

// benchMetricsYear: a year's window (the longest, 366 days) of an environment deploying 20 times
// a day: 7,320 deployments, each item as benchMetrics' (about 1 KB).
func benchMetricsYear(b *testing.B, local backend, record recordFunc) {
	meter := &costMeter{}
	s, svc := scaleService(b, local, meter)
	ctx := context.Background()
	const n = 366 * 20
	yearStart := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var im ledger.Import
	im.Project(shiplog.Project{ID: "metrics", Name: "metrics", Environments: []shiplog.Environment{{ID: "prod", Name: "prod"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "team/api", Services: []string{"api"}}}})
	seedDeployments(&im, yearStart, 72*time.Minute, n, "year")
	start := time.Now()
	seedOps(b, s, im.Ops())
	seeding := time.Since(start)
	in := shiplog.MetricsInput{ProjectID: "metrics", Environment: "prod", Since: yearStart.Unix(), Until: yearStart.Add(366 * 24 * time.Hour).Unix()}
	var cost scaleCost
	var took time.Duration
	for b.Loop() {
		var m shiplog.Metrics
		t0 := time.Now()
		cost = measure(b, meter, func() {
			var err error
			if m, err = svc.Metrics(ctx, in); err != nil {
				b.Fatal(err)
			}
		})
		took = time.Since(t0)
		if m.Deployments != n || m.LeadTime.Count != n {
			b.Fatalf("metrics of a year: %d deployments, %d lead times; want %d", m.Deployments, m.LeadTime.Count, n)
		}
	}
	b.ReportMetric(took.Seconds(), "year-seconds")
	record(b, "year", "metrics: a year's window at 20 deploys a day", fmt.Sprintf("%d deployments", n), cost, seeding,
		fmt.Sprintf("answered in %s on DynamoDB Local", took.Round(time.Millisecond)))
}
