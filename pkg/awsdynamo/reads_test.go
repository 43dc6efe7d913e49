package awsdynamo

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// readCounter adds up, over a client's Query calls, the items DynamoDB evaluated (ScannedCount,
// which is what a Query is charged for) and returned.
type readCounter struct {
	mu                      sync.Mutex
	queries, scanned, count int
}

func (r *readCounter) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countReads",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if q, ok := out.Result.(*dynamodb.QueryOutput); ok && awsmiddleware.GetOperationName(ctx) == "Query" {
				r.mu.Lock()
				r.queries++
				r.scanned += int(q.ScannedCount)
				r.count += int(q.Count)
				r.mu.Unlock()
			}
			return out, md, err
		}), middleware.Before)
}

func (r *readCounter) reset() (queries, scanned, count int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	queries, scanned, count = r.queries, r.scanned, r.count
	r.queries, r.scanned, r.count = 0, 0, 0
	return
}

// batchWrite seeds a table with BatchWriteItem, 25 items a call, until all are processed.
func batchWrite(ctx context.Context, client *dynamodb.Client, table string, items []item) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for chunk := range slices.Chunk(items, 25) {
		g.Go(func() error {
			reqs := make([]types.WriteRequest, len(chunk))
			for i, it := range chunk {
				reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
			}
			pending := map[string][]types.WriteRequest{table: reqs}
			for round := 0; len(pending) > 0; round++ {
				if round > 10 {
					return fmt.Errorf("BatchWriteItem %s: items unprocessed after %d rounds", table, round)
				}
				time.Sleep(time.Duration(round) * 20 * time.Millisecond)
				out, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
				if err != nil {
					return fmt.Errorf("BatchWriteItem %s: %w", table, err)
				}
				pending = out.UnprocessedItems
			}
			return nil
		})
	}
	return g.Wait()
}

// TestListReadsAtMostLimitPlusOne lists the newest 20 of 1,000 releases and of 1,000 deployments
// and checks that each page reads at most 21 items, whatever the table holds.
func TestListReadsAtMostLimitPlusOne(t *testing.T) {
	const size, limit = 1000, 20
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			reads := &readCounter{}
			s := b.newStore(t, reads.addTo)
			p, q := project("p"), project("q")

			var releases, states []item
			var releaseIDs, stageIDs, allIDs []string
			for n := range size {
				for _, pr := range []shiplog.Project{p, q} {
					r := release(pr, n)
					if pr.ID == "q" {
						r.ID = ulid("QRL", n)
					}
					it, err := releaseItem(r)
					must(t, "encode release", err)
					releases = append(releases, it)
					if pr.ID == "p" {
						releaseIDs = append(releaseIDs, r.ID)
					}
				}
				env := []string{"stage", "prod"}[n%2]
				c := deployment(p, release(p, n), env, n, 0)
				rec := *c.Deployment
				for _, sk := range []string{deploySK(c.Deployment.ID), envDeploySK(env, c.Deployment.ID)} {
					it, err := deploymentItem(rec, sk)
					must(t, "encode deployment", err)
					states = append(states, it)
				}
				allIDs = append(allIDs, c.Deployment.ID)
				if env == "stage" {
					stageIDs = append(stageIDs, c.Deployment.ID)
				}
			}
			must(t, "seed releases", batchWrite(ctx, s.admin, s.releases, releases))
			must(t, "seed deployments", batchWrite(ctx, s.admin, s.state, states))
			slices.Reverse(releaseIDs)
			slices.Reverse(stageIDs)
			slices.Reverse(allIDs)

			lists := []struct {
				name string
				want []string
				list func(cursor string) ([]string, string, error)
			}{
				{"releases", releaseIDs, func(c string) ([]string, string, error) {
					page, err := s.ListReleases(ctx, "p", shiplog.PageRequest{Limit: limit, Cursor: c})
					ids := make([]string, len(page.Items))
					for i, r := range page.Items {
						ids[i] = r.ID
					}
					return ids, page.NextCursor, err
				}},
				{"deployments", allIDs, func(c string) ([]string, string, error) {
					page, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: limit, Cursor: c})
					ids := make([]string, len(page.Items))
					for i, d := range page.Items {
						ids[i] = d.ID
					}
					return ids, page.NextCursor, err
				}},
				{"stage deployments", stageIDs, func(c string) ([]string, string, error) {
					page, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: limit, Cursor: c})
					ids := make([]string, len(page.Items))
					for i, d := range page.Items {
						ids[i] = d.ID
					}
					return ids, page.NextCursor, err
				}},
			}
			for _, l := range lists {
				reads.reset()
				cursor := ""
				for page := range 2 {
					ids, next, err := l.list(cursor)
					must(t, fmt.Sprintf("list %s page %d", l.name, page+1), err)
					want := l.want[page*limit : (page+1)*limit]
					if !slices.Equal(ids, want) {
						t.Errorf("%s page %d: got %v, want %v", l.name, page+1, ids, want)
					}
					queries, scanned, count := reads.reset()
					if queries != 1 || scanned > limit+1 || count > limit+1 {
						t.Errorf("%s page %d of %d: got %d Query calls reading %d items (returning %d), want 1 call reading at most %d",
							l.name, page+1, len(l.want), queries, scanned, count, limit+1)
					}
					if scanned == 0 {
						t.Errorf("%s page %d: the backend reported no ScannedCount; the test cannot count reads", l.name, page+1)
					}
					if next == "" {
						t.Fatalf("%s page %d of %d: got no cursor", l.name, page+1, len(l.want))
					}
					cursor = next
				}
			}
		})
	}
}
