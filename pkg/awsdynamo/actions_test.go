package awsdynamo

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// actionRecorder records the IAM actions a client's calls need. A TransactWriteItems needs the
// action of each item in it, so the recorder looks into its input (in the Initialize step).
type actionRecorder struct {
	mu      sync.Mutex
	actions map[string]int
}

func newActionRecorder() *actionRecorder { return &actionRecorder{actions: map[string]int{}} }

func (r *actionRecorder) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordActions",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.record(awsmiddleware.GetOperationName(ctx), in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (r *actionRecorder) record(operation string, params any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tx, ok := params.(*dynamodb.TransactWriteItemsInput)
	if !ok {
		r.actions["dynamodb:"+operation]++
		return
	}
	r.actions["dynamodb:TransactWriteItems"]++ // the call, for counting; not an IAM action
	for _, ti := range tx.TransactItems {
		switch {
		case ti.Put != nil:
			r.actions["dynamodb:PutItem"]++
		case ti.Update != nil:
			r.actions["dynamodb:UpdateItem"]++
		case ti.Delete != nil:
			r.actions["dynamodb:DeleteItem"]++
		case ti.ConditionCheck != nil:
			r.actions["dynamodb:ConditionCheckItem"]++
		}
	}
}

func (r *actionRecorder) count(action string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.actions[action]
}

// iamActions returns the distinct IAM actions recorded, sorted.
func (r *actionRecorder) iamActions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Sorted(maps.Keys(r.actions))
	return slices.DeleteFunc(out, func(a string) bool { return a == "dynamodb:TransactWriteItems" })
}

// TestActions runs the contract suite and the adapter's own scenarios, recording the
// IAM actions of every call, and holds Actions to them: nothing called is missing from it, and
// nothing in it goes unused.
func TestActions(t *testing.T) {
	b := backends(t)[0]
	rec := newActionRecorder()
	newStore := func(t *testing.T) testStore { return b.newStore(t, rec.addTo) }
	t.Run("contract", func(t *testing.T) {
		shiplogtest.RunStoreTests(t, func(t *testing.T) shiplog.Store { return newStore(t).Store })
	})
	t.Run("large registration", func(t *testing.T) {
		s := newStore(t)
		// Too many for one transaction: the later ones check the project's version.
		must(t, "PutProject", s.PutProject(t.Context(), project("big", repoNames("old", 130)...), registered(project("big", repoNames("old", 130)...))))
		must(t, "PutProject", s.PutProject(t.Context(), project("big", repoNames("new", 10)...), registered(project("big", repoNames("new", 10)...))))
	})
	if t.Failed() {
		return
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(Actions)), rec.iamActions()); diff != "" {
		t.Errorf("Actions against the IAM actions of the calls made (-declared +called):\n%s", diff)
	}
}
