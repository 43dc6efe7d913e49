package awsdynamo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// costMeter measures what a store's DynamoDB calls cost: the calls, the capacity DynamoDB says
// they consumed (it asks for it on every call: ReturnConsumedCapacity TOTAL), and the bytes of
// the requests and responses.
type costMeter struct {
	mu       sync.Mutex
	calls    int
	capacity float64
	bytes    int64
	items    int // items read: a Query's ScannedCount, a batch read's or a GetItem's items
}

func (m *costMeter) readItems() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.items
}

func (m *costMeter) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls, m.capacity, m.bytes, m.items = 0, 0, 0, 0
}

func (m *costMeter) read() (int, float64, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls, m.capacity, m.bytes
}

func (m *costMeter) add(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.capacity",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			total := types.ReturnConsumedCapacityTotal
			switch p := in.Parameters.(type) {
			case *dynamodb.GetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.BatchGetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.QueryInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.PutItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.TransactWriteItemsInput:
				p.ReturnConsumedCapacity = total
			}
			out, md, err := next.HandleInitialize(ctx, in)
			var used []types.ConsumedCapacity
			items := 0
			switch o := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				if o.ConsumedCapacity != nil {
					used = append(used, *o.ConsumedCapacity)
				}
				if o.Item != nil {
					items++
				}
			case *dynamodb.BatchGetItemOutput:
				used = o.ConsumedCapacity
				for _, its := range o.Responses {
					items += len(its)
				}
			case *dynamodb.QueryOutput:
				if o.ConsumedCapacity != nil {
					used = append(used, *o.ConsumedCapacity)
				}
				items += int(o.ScannedCount)
			case *dynamodb.PutItemOutput:
				if o.ConsumedCapacity != nil {
					used = append(used, *o.ConsumedCapacity)
				}
			case *dynamodb.TransactWriteItemsOutput:
				used = o.ConsumedCapacity
			}
			m.mu.Lock()
			m.calls++
			m.items += items
			for _, c := range used {
				if c.CapacityUnits != nil {
					m.capacity += *c.CapacityUnits
				}
			}
			m.mu.Unlock()
			return out, md, err
		}), middleware.Before)
	if err != nil {
		return err
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("bench.bytes",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			var n int64
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				if l, ok, _ := req.StreamLength(); ok {
					n += l
				}
			}
			out, md, err := next.HandleDeserialize(ctx, in)
			if res, ok := out.RawResponse.(*smithyhttp.Response); ok && res.ContentLength > 0 {
				n += res.ContentLength
			}
			m.mu.Lock()
			m.bytes += n
			m.mu.Unlock()
			return out, md, err
		}), middleware.After)
}

// BenchmarkDeployHistory shows that what a deploy costs, and what reading its release costs, does
// not grow with how often the release was deployed: each deployment is an item of its own, and
// the release item only counts them. It deploys one release to stage N times (each deploy
// supersedes the one before), then measures one more deploy of it and one read of the release,
// on AWS's DynamoDB Local, which reports consumed capacity as DynamoDB does.
func BenchmarkDeployHistory(b *testing.B) {
	var rows []string
	for _, n := range []int{10, 1000, 3000} {
		b.Run(fmt.Sprintf("deployments=%d", n), func(b *testing.B) {
			meter := &costMeter{}
			// A DynamoDB Local of its own for each size: thousands of deployments slow the one
			// they are written to for whatever runs on it next (the concurrency benchmark).
			local := backend{name: "dynamodb-local", cfg: localaws.StartDynamoDBLocal(b).Config(context.Background()), maxTransact: maxTransactItems}
			s := local.newStore(b, meter.add)
			params := shiplogtest.NewMemoryParameters()
			svc := shiplog.NewService(params, s.Store, nil, nil)
			ctx := context.Background()
			p := shiplog.Project{ID: "history", Name: "History", Manifest: []byte(`{}`),
				Environments:      []shiplog.Environment{{ID: "stage", Name: "stage"}},
				ImageRepositories: []shiplog.ImageRepository{{ID: "team/api", Services: []string{"api"}}, {ID: "team/web", Services: []string{"web"}}}}
			if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
				b.Fatal(err)
			}
			if err := params.PutParameters(ctx, map[string]string{
				shiplog.ParameterName("history", "latest", "api"): "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:" + strings.Repeat("a", 64),
				shiplog.ParameterName("history", "latest", "web"): "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web@sha256:" + strings.Repeat("b", 64),
			}); err != nil {
				b.Fatal(err)
			}
			r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "history"})
			if err != nil {
				b.Fatal(err)
			}
			deploy := func() shiplog.DeployResult {
				res, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "history", ReleaseID: r.ID, Environment: "stage", Description: "scheduled redeploy"})
				if err != nil {
					b.Fatal(err)
				}
				return res
			}
			start := time.Now()
			for range n {
				deploy()
			}
			seeding := time.Since(start)

			var dCalls, rCalls int
			var dCap, rCap float64
			var dBytes, rBytes int64
			for b.Loop() {
				meter.reset()
				deploy()
				dCalls, dCap, dBytes = meter.read()
				meter.reset()
				rel, err := svc.Release(ctx, "history", r.ID)
				if err != nil {
					b.Fatal(err)
				}
				rCalls, rCap, rBytes = meter.read()
				if rel.DeploymentCount < int64(n+1) || len(rel.Deployments) != min(int(rel.DeploymentCount), shiplog.ReleaseDeploymentsShown) {
					b.Fatalf("release after %d deploys: deployment_count %d, %d listed", n+1, rel.DeploymentCount, len(rel.Deployments))
				}
			}
			b.ReportMetric(float64(dCalls), "deploy-calls")
			b.ReportMetric(dCap, "deploy-capacity-units")
			b.ReportMetric(float64(dBytes), "deploy-bytes")
			b.ReportMetric(float64(rCalls), "read-calls")
			b.ReportMetric(rCap, "read-capacity-units")
			b.ReportMetric(float64(rBytes), "read-bytes")
			rows = append(rows, fmt.Sprintf("%11d  %12d  %15g  %12d  %10d  %13g  %10d  %s", n, dCalls, dCap, dBytes, rCalls, rCap, rBytes, seeding.Round(time.Millisecond)))
		})
	}
	b.Run("summary", func(b *testing.B) {
		for b.Loop() {
		}
		b.Logf("one more deploy of a release deployed N times, and one read of that release (DynamoDB Local; capacity units as it reports them)\n"+
			"%11s  %12s  %15s  %12s  %10s  %13s  %10s  %s\n%s",
			"deployments", "deploy calls", "deploy capacity", "deploy bytes", "read calls", "read capacity", "read bytes", "seeding time",
			strings.Join(rows, "\n"))
	})
}
