package localaws

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// CallRecorder counts the SDK operations made by the clients it is installed in, keyed as IAM
// actions are ("ssm:PutParameter", "dynamodb:Query", "ecr:BatchGetImage"), so that counts can be
// held against an adapter's declared actions and against a cost floor. It counts operations,
// not HTTP attempts: a call the SDK retries counts once. Safe for concurrent use.
type CallRecorder struct {
	mu     sync.Mutex
	counts map[string]int
	calls  []string
}

// NewCallRecorder returns an empty recorder.
func NewCallRecorder() *CallRecorder {
	return &CallRecorder{counts: map[string]int{}}
}

// Option installs the recorder in an aws.Config, for every client built from it:
// m.Config(ctx, rec.Option()).
func (r *CallRecorder) Option() func(*aws.Config) {
	return func(cfg *aws.Config) {
		cfg.APIOptions = append(cfg.APIOptions, r.AddTo)
	}
}

// AddTo adds the recorder to one client's middleware stack; it fits a client's
// Options.APIOptions.
func (r *CallRecorder) AddTo(stack *middleware.Stack) error {
	// Ahead of the retry middleware in the Finalize step, where the operation's metadata is
	// already in the context, so that each operation counts once however often it is retried.
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("localaws.CallRecorder",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r.record(Action(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)))
			return next.HandleFinalize(ctx, in)
		}), middleware.Before)
}

// Action names an SDK operation as its IAM action: the service's IAM prefix, a colon and the
// operation name ("SSM", "PutParameter" gives "ssm:PutParameter"). The prefix is the lower-cased
// service id, but for the services whose IAM prefix is another word (iamPrefixes).
func Action(serviceID, operation string) string {
	id := strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
	if p, ok := iamPrefixes[id]; ok {
		id = p
	}
	return id + ":" + operation
}

// iamPrefixes are the IAM prefixes that are not their service's lower-cased SDK id.
var iamPrefixes = map[string]string{
	"eventbridge": "events",
}

func (r *CallRecorder) record(action string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[action]++
	r.calls = append(r.calls, action)
}

// Counts returns how many times each action was called since the last Reset.
func (r *CallRecorder) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.counts)
}

// Count returns how many times action was called since the last Reset.
func (r *CallRecorder) Count(action string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[action]
}

// Total returns how many calls were made since the last Reset.
func (r *CallRecorder) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Calls returns the actions called since the last Reset, in the order they were made.
func (r *CallRecorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Actions returns the distinct actions called since the last Reset, sorted.
func (r *CallRecorder) Actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.counts))
}

// Reset forgets every call recorded so far.
func (r *CallRecorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.counts)
	r.calls = nil
}
