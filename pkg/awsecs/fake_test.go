package awsecs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fakeECS is an awsecs.Client for what moto's ECS cannot do (see awsecs_test.go): services whose
// tasks run and report digests, failed rollouts, and errors. It holds one cluster's services,
// task definitions and tasks, and answers as ECS's API reference says.
type fakeECS struct {
	mu          sync.Mutex
	services    map[string]types.Service
	definitions map[string][]types.ContainerDefinition // by ARN
	tasks       map[string][]types.Task                // by service name
	calls       map[string]int
	// fail, if set, answers a call instead (by operation name), once per entry.
	fail map[string][]error
	// delay slows DescribeTaskDefinition, so that concurrent readers overlap.
	delay time.Duration
}

func newFake() *fakeECS {
	return &fakeECS{services: map[string]types.Service{}, definitions: map[string][]types.ContainerDefinition{},
		tasks: map[string][]types.Task{}, calls: map[string]int{}, fail: map[string][]error{}}
}

const fakeCluster = "prod"

func tdARN(family string, rev int) string {
	return fmt.Sprintf("arn:aws:ecs:eu-west-1:%s:task-definition/%s:%d", motoAccount, family, rev)
}

func (f *fakeECS) define(arn string, images ...string) {
	var cs []types.ContainerDefinition
	for i, im := range images {
		cs = append(cs, types.ContainerDefinition{Name: aws.String(fmt.Sprintf("c%d", i)), Image: aws.String(im)})
	}
	f.definitions[arn] = cs
}

// task adds a running task of service on definition td whose containers report digests (by
// container name).
func (f *fakeECS) task(service, td string, digests map[string]string) {
	n := len(f.tasks[service])
	t := types.Task{
		TaskArn:           aws.String(fmt.Sprintf("arn:aws:ecs:eu-west-1:%s:task/%s/%s-%04d", motoAccount, fakeCluster, service, n)),
		TaskDefinitionArn: aws.String(td),
		LastStatus:        aws.String("RUNNING"),
	}
	for name, d := range digests {
		t.Containers = append(t.Containers, types.Container{Name: aws.String(name), ImageDigest: aws.String(d)})
	}
	f.tasks[service] = append(f.tasks[service], t)
}

func (f *fakeECS) call(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeECS) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.calls {
		out[k] = v
	}
	return out
}

func (f *fakeECS) checkCluster(cluster *string) error {
	if c := aws.ToString(cluster); c != fakeCluster && !strings.HasSuffix(c, ":cluster/"+fakeCluster) {
		return &types.ClusterNotFoundException{Message: aws.String("Cluster not found.")}
	}
	return nil
}

func (f *fakeECS) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	if err := f.call("DescribeServices"); err != nil {
		return nil, err
	}
	if err := f.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if len(in.Services) > 10 {
		return nil, &types.InvalidParameterException{Message: aws.String("services can have at most 10 items.")}
	}
	out := &ecs.DescribeServicesOutput{}
	for _, name := range in.Services {
		if svc, ok := f.services[name]; ok {
			out.Services = append(out.Services, svc)
		} else {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String("arn:aws:ecs:eu-west-1:123456789012:service/prod/" + name), Reason: aws.String("MISSING")})
		}
	}
	return out, nil
}

func (f *fakeECS) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	if err := f.call("DescribeTaskDefinition"); err != nil {
		return nil, err
	}
	time.Sleep(f.delay)
	cs, ok := f.definitions[aws.ToString(in.TaskDefinition)]
	if !ok {
		return nil, &types.ClientException{Message: aws.String("Unable to describe task definition.")}
	}
	return &ecs.DescribeTaskDefinitionOutput{TaskDefinition: &types.TaskDefinition{
		TaskDefinitionArn: in.TaskDefinition, ContainerDefinitions: cs}}, nil
}

func (f *fakeECS) ListTasks(ctx context.Context, in *ecs.ListTasksInput, _ ...func(*ecs.Options)) (*ecs.ListTasksOutput, error) {
	if err := f.call("ListTasks"); err != nil {
		return nil, err
	}
	if err := f.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if in.DesiredStatus != types.DesiredStatusRunning {
		return nil, fmt.Errorf("ListTasks: desired status %q, want RUNNING", in.DesiredStatus)
	}
	tasks := f.tasks[aws.ToString(in.ServiceName)]
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	end := min(start+int(aws.ToInt32(in.MaxResults)), len(tasks))
	if in.MaxResults == nil {
		end = min(start+100, len(tasks))
	}
	out := &ecs.ListTasksOutput{}
	for _, t := range tasks[start:end] {
		out.TaskArns = append(out.TaskArns, aws.ToString(t.TaskArn))
	}
	if end < len(tasks) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f *fakeECS) DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, _ ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error) {
	if err := f.call("DescribeTasks"); err != nil {
		return nil, err
	}
	if err := f.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	if len(in.Tasks) > 100 {
		return nil, &types.InvalidParameterException{Message: aws.String("tasks can have at most 100 items.")}
	}
	out := &ecs.DescribeTasksOutput{}
	for _, arn := range in.Tasks {
		found := false
		for _, ts := range f.tasks {
			for _, t := range ts {
				if aws.ToString(t.TaskArn) == arn {
					out.Tasks = append(out.Tasks, t)
					found = true
				}
			}
		}
		if !found {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(arn), Reason: aws.String("MISSING")})
		}
	}
	return out, nil
}

// serviceOn is an ECS service whose primary deployment runs td with the given rollout.
func serviceOn(name, td string, rollout types.DeploymentRolloutState, reason string) types.Service {
	return types.Service{
		ServiceName: aws.String(name), Status: aws.String("ACTIVE"), TaskDefinition: aws.String(td),
		DesiredCount: 2, RunningCount: 2,
		Deployments: []types.Deployment{{Status: aws.String("PRIMARY"), TaskDefinition: aws.String(td),
			RolloutState: rollout, RolloutStateReason: aws.String(reason)}},
	}
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"

func TestRunningTagsResolvedFromRunningTasks(t *testing.T) {
	f := newFake()
	old, cur := tdARN("app", 4), tdARN("app", 5)
	f.define(cur, repo+":env.prod", image("team/sidecar", 1), "registry.example.com:5000/team/proxy:1.2", "public.ecr.aws/nginx/nginx")
	f.services["app"] = serviceOn("app", cur, types.DeploymentRolloutStateInProgress, "ECS deployment ecs-svc/1 in progress.")
	// The service's old tasks still run the old definition (and an older digest): not counted.
	f.task("app", old, map[string]string{"c0": digest(100)})
	// 150 tasks of the new definition: two pages of ListTasks, two DescribeTasks calls.
	for i := range 150 {
		d := digest(200)
		if i == 149 {
			d = digest(201) // the tag moved while the deployment was under way
		}
		f.task("app", cur, map[string]string{"c0": d, "c1": digest(1), "c2": digest(300)})
	}
	got, err := awsecs.New(f).Running(t.Context(), fakeCluster, []string{"app"})
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	want := map[string]shiplog.ServiceRun{"app": {Found: true, Rollout: shiplog.RolloutInProgress, Reason: "ECS deployment ecs-svc/1 in progress.",
		Images: []string{
			repo + "@" + digest(200), repo + "@" + digest(201), // each digest the tasks run
			image("team/sidecar", 1),                              // pinned: as named
			"registry.example.com:5000/team/proxy@" + digest(300), // a registry's port is no tag
			"public.ecr.aws/nginx/nginx",                          // no task reports its digest: as named
		}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Running (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"DescribeServices": 1, "DescribeTaskDefinition": 1, "ListTasks": 2, "DescribeTasks": 2}, f.counts()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestRunningRollouts(t *testing.T) {
	f := newFake()
	td, next := tdARN("app", 1), tdARN("app", 2)
	f.define(td, image("team/app", 1))
	f.define(next, image("team/app", 2))
	f.services["failed"] = serviceOn("failed", next, types.DeploymentRolloutStateFailed, "ECS deployment circuit breaker: tasks failed to start.")
	f.services["done"] = serviceOn("done", td, types.DeploymentRolloutStateCompleted, "ECS deployment ecs-svc/9 completed.")
	// Without a rolloutState (another deployment controller): one deployment at its count is done.
	steady := serviceOn("steady", td, "", "")
	steady.Deployments[0].RolloutStateReason = nil
	f.services["steady"] = steady
	// Two deployments (the old one ACTIVE, draining): under way.
	rolling := serviceOn("rolling", next, "", "")
	rolling.Deployments[0].RolloutStateReason = nil
	rolling.Deployments = append(rolling.Deployments, types.Deployment{Status: aws.String("ACTIVE"), TaskDefinition: aws.String(td)})
	f.services["rolling"] = rolling
	// Short of its desired count: under way.
	short := serviceOn("short", td, "", "")
	short.Deployments[0].RolloutStateReason = nil
	short.RunningCount = 1
	f.services["short"] = short
	// The service names a newer definition than its primary deployment runs: the deployment counts.
	behind := serviceOn("behind", td, types.DeploymentRolloutStateCompleted, "")
	behind.TaskDefinition = aws.String(next)
	f.services["behind"] = behind
	// No deployments and no task definition (an external controller's service): nothing runs.
	f.services["external"] = types.Service{ServiceName: aws.String("external"), Status: aws.String("ACTIVE")}
	// Being deleted, still described.
	draining := serviceOn("draining", td, types.DeploymentRolloutStateCompleted, "")
	draining.Status = aws.String("DRAINING")
	f.services["draining"] = draining

	got, err := awsecs.New(f).Running(t.Context(), "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
		[]string{"failed", "done", "steady", "rolling", "short", "behind", "external", "draining"})
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	one, two := []string{image("team/app", 1)}, []string{image("team/app", 2)}
	want := map[string]shiplog.ServiceRun{
		"failed":   {Found: true, Images: two, Rollout: shiplog.RolloutFailed, Reason: "ECS deployment circuit breaker: tasks failed to start."},
		"done":     {Found: true, Images: one, Rollout: shiplog.RolloutCompleted, Reason: "ECS deployment ecs-svc/9 completed."},
		"steady":   {Found: true, Images: one, Rollout: shiplog.RolloutCompleted},
		"rolling":  {Found: true, Images: two, Rollout: shiplog.RolloutInProgress},
		"short":    {Found: true, Images: one, Rollout: shiplog.RolloutInProgress},
		"behind":   {Found: true, Images: one, Rollout: shiplog.RolloutCompleted},
		"external": {Found: true, Rollout: shiplog.RolloutCompleted},
		"draining": {Found: true, Images: one, Rollout: shiplog.RolloutCompleted},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Running (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"DescribeServices": 1, "DescribeTaskDefinition": 2}, f.counts()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestRunningReadsADefinitionOnce: concurrent reads of services on one task definition read it
// once, and a failed read is not kept.
func TestRunningReadsADefinitionOnce(t *testing.T) {
	f := newFake()
	td := tdARN("app", 1)
	f.define(td, image("team/app", 1))
	var names []string
	for i := range 12 {
		name := fmt.Sprintf("s%d", i)
		names = append(names, name)
		f.services[name] = serviceOn(name, td, types.DeploymentRolloutStateCompleted, "")
	}
	f.delay = 20 * time.Millisecond
	f.fail["DescribeTaskDefinition"] = []error{&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}
	rt := awsecs.New(f)
	if _, err := rt.Running(t.Context(), fakeCluster, names); shiplog.KindOf(err) != shiplog.Unavailable {
		t.Fatalf("Running while DescribeTaskDefinition is throttled: got %v, want Unavailable", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := rt.Running(t.Context(), fakeCluster, names)
			if err == nil && len(got) != 12 {
				err = fmt.Errorf("got %d services, want 12", len(got))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Running: %v", err)
		}
	}
	// The throttled call, then one read for 8 × 12 services.
	if n := f.counts()["DescribeTaskDefinition"]; n != 2 {
		t.Errorf("DescribeTaskDefinition calls: got %d, want 2 (the failed one, then one for everyone)", n)
	}
}

func TestRunningErrors(t *testing.T) {
	apiErr := func(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
	tests := []struct {
		name   string
		op     string
		err    error
		kind   shiplog.Kind
		substr string // of the message
	}{
		{"cluster not found", "DescribeServices", &types.ClusterNotFoundException{Message: aws.String("Cluster not found.")}, shiplog.NotFound, `no cluster "prod"`},
		{"throttled", "DescribeServices", apiErr("ThrottlingException", "Rate exceeded"), shiplog.Unavailable, "throttling or unavailable"},
		{"server error", "DescribeServices", &types.ServerException{Message: aws.String("boom")}, shiplog.Unavailable, "throttling or unavailable"},
		{"access denied", "DescribeServices", apiErr("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/r is not authorized to perform: ecs:DescribeServices"), shiplog.Internal,
			"access denied: User: arn:aws:sts::1:assumed-role/r is not authorized to perform: ecs:DescribeServices"},
		{"client exception", "DescribeServices", &types.ClientException{Message: aws.String("Cluster name is invalid.")}, shiplog.Invalid, "ECS refused the request: Cluster name is invalid."},
		{"access denied listing tasks", "ListTasks", apiErr("AccessDeniedException", "not authorized to perform: ecs:ListTasks"), shiplog.Internal, "list the tasks of service app in cluster prod: access denied"},
		{"service gone while listing tasks", "ListTasks", &types.ServiceNotFoundException{Message: aws.String("Service not found.")}, shiplog.NotFound, "no such service"},
		{"throttled describing tasks", "DescribeTasks", apiErr("ThrottlingException", "Rate exceeded"), shiplog.Unavailable, "describe the tasks of service app"},
		{"definition access denied", "DescribeTaskDefinition", apiErr("AccessDeniedException", "not authorized"), shiplog.Internal, "read task definition " + tdARN("app", 1)},
		{"canceled", "DescribeServices", context.Canceled, shiplog.Unavailable, "gave up waiting for ECS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			td := tdARN("app", 1)
			f.define(td, repo+":latest")
			f.services["app"] = serviceOn("app", td, types.DeploymentRolloutStateCompleted, "")
			f.task("app", td, map[string]string{"c0": digest(1)})
			f.fail[tt.op] = []error{tt.err}
			_, err := awsecs.New(f).Running(t.Context(), fakeCluster, []string{"app"})
			if got := shiplog.KindOf(err); got != tt.kind {
				t.Fatalf("Running: got kind %v (%v), want %v", got, err, tt.kind)
			}
			if !strings.Contains(shiplog.MessageOf(err), tt.substr) && !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q (message %q) does not say %q", err, shiplog.MessageOf(err), tt.substr)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap the SDK's %v", err, tt.err)
			}
		})
	}
	t.Run("a failure other than MISSING", func(t *testing.T) {
		f := &failingDescribe{fakeECS: newFake()}
		_, err := awsecs.New(f).Running(t.Context(), fakeCluster, []string{"app"})
		if shiplog.KindOf(err) != shiplog.Internal || !strings.Contains(err.Error(), "ACCESS_DENIED") {
			t.Errorf("Running: got %v, want Internal naming the failure", err)
		}
	})
}

// failingDescribe answers DescribeServices with a failure ECS gives for reasons other than a
// missing service.
type failingDescribe struct{ *fakeECS }

func (f *failingDescribe) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return &ecs.DescribeServicesOutput{Failures: []types.Failure{{Arn: aws.String("arn:aws:ecs:eu-west-1:123456789012:service/prod/app"), Reason: aws.String("ACCESS_DENIED")}}}, nil
}
