package awsecs_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// These tests run on moto's ECS: clusters, task definitions and services, through the real SDK.
// What moto lacks, and fake_test.go covers with a fake of awsecs.Client:
//   - services start no tasks, no task reports an image digest, ListTasks ignores its
//     serviceName filter, and moto's RunTask and DescribeTasks answers carry a number where the
//     API has a string, which the SDK refuses to read: the path that resolves an image named by
//     tag to its running digest (DescribeTasks) runs only on the fake;
//   - a deployment's rolloutState is COMPLETED when the desired count is met by
//     MOTO_ECS_SERVICE_RUNNING (0 here), else IN_PROGRESS, and never FAILED;
//   - UpdateService starts no new deployment: the PRIMARY deployment keeps the task definition
//     the service was created with;
//   - no throttling, no access denied.

func TestMain(m *testing.M) { localaws.Main(m) }

// motoAccount is the account moto runs as.
const motoAccount = "123456789012"

// fixture is a Runtime on the shared moto, an unrecorded client to arrange ECS with, and a
// recorder of the Runtime's calls, which are held to awsecs.Actions when the test ends.
type fixture struct {
	rt      *awsecs.Runtime
	ecs     *ecs.Client
	calls   *localaws.CallRecorder
	cluster string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := localaws.SharedMoto(t)
	rec := localaws.NewCallRecorder()
	t.Cleanup(func() {
		for _, action := range rec.Actions() {
			if !slices.Contains(awsecs.Actions, action) {
				t.Errorf("the Runtime called %s, which is not in awsecs.Actions %v", action, awsecs.Actions)
			}
		}
	})
	f := &fixture{
		rt:      awsecs.New(ecs.NewFromConfig(m.Config(t.Context(), rec.Option()))),
		ecs:     ecs.NewFromConfig(m.Config(t.Context())),
		calls:   rec,
		cluster: localaws.UniqueName("shiplog-test"),
	}
	if _, err := f.ecs.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(f.cluster)}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	return f
}

// taskDefinition registers a revision of family whose containers run images, and returns its ARN.
func (f *fixture) taskDefinition(t *testing.T, family string, images ...string) string {
	t.Helper()
	var cs []types.ContainerDefinition
	for i, im := range images {
		cs = append(cs, types.ContainerDefinition{Name: aws.String(fmt.Sprintf("c%d", i)), Image: aws.String(im), Memory: aws.Int32(128)})
	}
	out, err := f.ecs.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(f.cluster + "-" + family), ContainerDefinitions: cs,
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func (f *fixture) service(t *testing.T, name, taskDefinition string, desired int32) {
	t.Helper()
	if _, err := f.ecs.CreateService(t.Context(), &ecs.CreateServiceInput{
		Cluster: aws.String(f.cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDefinition),
		DesiredCount: aws.Int32(desired),
	}); err != nil {
		t.Fatalf("CreateService %s: %v", name, err)
	}
}

func image(repo string, n int) string {
	return fmt.Sprintf("%s.dkr.ecr.eu-west-1.amazonaws.com/%s@sha256:%064x", motoAccount, repo, n)
}

// compareRuns compares what Running answered with want, ignoring the reasons' deployment ids
// (moto makes them up) where want's reason ends in "...".
func compareRuns(t *testing.T, got, want map[string]shiplog.ServiceRun) {
	t.Helper()
	got = maps.Clone(got)
	for name, w := range want {
		if g, ok := got[name]; ok && strings.HasSuffix(w.Reason, "...") {
			prefix := strings.TrimSuffix(w.Reason, "...")
			if strings.HasPrefix(g.Reason, prefix) {
				g.Reason = w.Reason
				got[name] = g
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Running (-want +got):\n%s", diff)
	}
}

func TestRunning(t *testing.T) {
	f := newFixture(t)
	web := f.taskDefinition(t, "web", image("team/web", 1), image("team/nginx", 2))
	worker := f.taskDefinition(t, "worker", image("team/worker", 3))
	f.service(t, "web", web, 0)
	f.service(t, "worker-prod", worker, 2)
	f.service(t, "gone", worker, 0)
	if _, err := f.ecs.DeleteService(t.Context(), &ecs.DeleteServiceInput{Cluster: aws.String(f.cluster), Service: aws.String("gone")}); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}

	got, err := f.rt.Running(t.Context(), f.cluster, []string{"web", "worker-prod", "never-created", "gone", "web"})
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	compareRuns(t, got, map[string]shiplog.ServiceRun{
		// Every container's image, in the definition's order; pinned by digest, so no task is read.
		"web": {Found: true, Images: []string{image("team/web", 1), image("team/nginx", 2)}, Rollout: shiplog.RolloutCompleted, Reason: "ECS deployment ..."},
		// moto runs none of the two tasks wanted: the rollout is still in progress.
		"worker-prod":   {Found: true, Images: []string{image("team/worker", 3)}, Rollout: shiplog.RolloutInProgress, Reason: "ECS deployment ..."},
		"never-created": {},
		"gone":          {}, // deleted: INACTIVE
	})
	if diff := cmp.Diff(map[string]int{"ecs:DescribeServices": 1, "ecs:DescribeTaskDefinition": 2}, f.calls.Counts()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// Task definition revisions are immutable: a second read describes the services only.
	f.calls.Reset()
	again, err := f.rt.Running(t.Context(), f.cluster, []string{"web", "worker-prod"})
	if err != nil {
		t.Fatalf("Running again: %v", err)
	}
	if diff := cmp.Diff(got["web"], again["web"]); diff != "" {
		t.Errorf("web again (-first +again):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"ecs:DescribeServices": 1}, f.calls.Counts()); diff != "" {
		t.Errorf("calls of a second read (-want +got):\n%s", diff)
	}
}

// TestRunningManyServices checks DescribeServices' limit of ten services a call.
func TestRunningManyServices(t *testing.T) {
	f := newFixture(t)
	td := f.taskDefinition(t, "app", image("team/app", 7))
	var names []string
	want := map[string]shiplog.ServiceRun{}
	for i := range 23 {
		name := fmt.Sprintf("svc-%02d", i)
		names = append(names, name)
		if i%4 == 3 {
			want[name] = shiplog.ServiceRun{} // not created
			continue
		}
		f.service(t, name, td, 0)
		want[name] = shiplog.ServiceRun{Found: true, Images: []string{image("team/app", 7)}, Rollout: shiplog.RolloutCompleted, Reason: "ECS deployment ..."}
	}
	got, err := f.rt.Running(t.Context(), f.cluster, names)
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	compareRuns(t, got, want)
	if diff := cmp.Diff(map[string]int{"ecs:DescribeServices": 3, "ecs:DescribeTaskDefinition": 1}, f.calls.Counts()); diff != "" {
		t.Errorf("calls for 23 services of one task definition (-want +got):\n%s", diff)
	}
}

func TestRunningClusterByARN(t *testing.T) {
	f := newFixture(t)
	td := f.taskDefinition(t, "app", image("team/app", 8))
	f.service(t, "app", td, 0)
	arn := fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", localaws.Region, motoAccount, f.cluster)
	got, err := f.rt.Running(t.Context(), arn, []string{"app"})
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	if run := got["app"]; !run.Found || !slices.Equal(run.Images, []string{image("team/app", 8)}) {
		t.Errorf("Running by cluster ARN: got %+v, want app found running %s", run, image("team/app", 8))
	}
}

// TestRunningImageByTagWithoutDigests: a definition that names an image by tag makes the Runtime
// ask the service's running tasks for the digest. moto's services start no tasks: the image is
// reported as named, which no digest-pinned deployment matches.
func TestRunningImageByTagWithoutDigests(t *testing.T) {
	f := newFixture(t)
	tagged := motoAccount + ".dkr.ecr.eu-west-1.amazonaws.com/team/app:env.prod"
	td := f.taskDefinition(t, "app", tagged, image("team/sidecar", 9))
	f.service(t, "app", td, 0)
	got, err := f.rt.Running(t.Context(), f.cluster, []string{"app"})
	if err != nil {
		t.Fatalf("Running: %v", err)
	}
	if want := []string{tagged, image("team/sidecar", 9)}; !slices.Equal(got["app"].Images, want) {
		t.Errorf("images: got %v, want %v", got["app"].Images, want)
	}
	if diff := cmp.Diff(map[string]int{"ecs:DescribeServices": 1, "ecs:DescribeTaskDefinition": 1, "ecs:ListTasks": 1}, f.calls.Counts()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestRunningClusterNotFound(t *testing.T) {
	f := newFixture(t)
	_, err := f.rt.Running(t.Context(), f.cluster+"-nope", []string{"app"})
	if got := shiplog.KindOf(err); got != shiplog.NotFound {
		t.Fatalf("Running on a cluster that does not exist: got kind %v (%v), want NotFound", got, err)
	}
	if msg := shiplog.MessageOf(err); !strings.Contains(msg, fmt.Sprintf("no cluster %q", f.cluster+"-nope")) {
		t.Errorf("message %q does not name the cluster", msg)
	}
}

func TestRunningInvalid(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name     string
		cluster  string
		services []string
		want     string
	}{
		{"no cluster", "", []string{"app"}, "ECS cluster: is required"},
		{"an empty service name", f.cluster, []string{"app", ""}, "ECS service name: is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.calls.Reset()
			_, err := f.rt.Running(t.Context(), tt.cluster, tt.services)
			if shiplog.KindOf(err) != shiplog.Invalid || !strings.Contains(shiplog.MessageOf(err), tt.want) {
				t.Errorf("Running: got %v, want Invalid saying %q", err, tt.want)
			}
			if n := f.calls.Total(); n != 0 {
				t.Errorf("calls for invalid input: got %v, want none", f.calls.Counts())
			}
		})
	}
}

// TestRunningNoServices makes no call at all.
func TestRunningNoServices(t *testing.T) {
	f := newFixture(t)
	got, err := f.rt.Running(t.Context(), f.cluster, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("Running of no services: got %v, %v; want an empty map", got, err)
	}
	if n := f.calls.Total(); n != 0 {
		t.Errorf("calls: got %v, want none", f.calls.Counts())
	}
}

// TestDeployment reads one ECS deployment of a service by the id ECS events name: its task
// definition's images, which ecs-events holds to the shiplog deployment's; and Found false for a
// deployment ECS does not list, or a service it does not have.
func TestDeployment(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	web := f.taskDefinition(t, "web", image("team/web", 1), image("team/nginx", 2))
	f.service(t, "web", web, 0)
	desc, err := f.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(f.cluster), Services: []string{"web"}})
	if err != nil || len(desc.Services) != 1 || len(desc.Services[0].Deployments) == 0 {
		t.Fatalf("DescribeServices: got %+v, %v, want web with a deployment", desc, err)
	}
	id := aws.ToString(desc.Services[0].Deployments[0].Id)

	got, err := f.rt.Deployment(ctx, f.cluster, "web", id)
	if err != nil {
		t.Fatal(err)
	}
	want := shiplog.ServiceDeployment{Found: true, TaskDefinition: web, Images: []string{image("team/web", 1), image("team/nginx", 2)}, Rollout: got.Rollout}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deployment (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ service, id string }{{"web", "ecs-svc/0000000000000000000"}, {"nope", id}} {
		got, err := f.rt.Deployment(ctx, f.cluster, tt.service, tt.id)
		if err != nil || got.Found {
			t.Errorf("Deployment(%s, %s): got %+v, %v, want Found false", tt.service, tt.id, got, err)
		}
	}
	_, err = f.rt.Deployment(ctx, "no-such-cluster-"+f.cluster, "web", id)
	if shiplog.KindOf(err) != shiplog.NotFound {
		t.Errorf("Deployment in a missing cluster: got %v, want NotFound", err)
	}
}
