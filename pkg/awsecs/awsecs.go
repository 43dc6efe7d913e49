// Package awsecs implements shiplog.Runtime on Amazon ECS: what each service of a cluster runs
// now, read from its primary deployment's task definition and, where that definition names an
// image by tag, from the image digests its running tasks report; and which images one of a
// service's deployments rolls out, read the same way from that deployment's task definition.
package awsecs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists every IAM action the Runtime calls. Tests hold its calls to it.
var Actions = []string{"ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks"}

const (
	// servicesBatch is the most services DescribeServices takes at once.
	servicesBatch = 10
	// tasksBatch is the most tasks DescribeTasks takes at once, and ListTasks' largest page.
	tasksBatch = 100
	// readers bounds how many calls one Running makes at once: an environment of up to 40
	// services is described in one round trip's time, well under ECS's rate quotas.
	readers = 4
	// maxDefinitions bounds the task definitions a Runtime keeps: far more than the services one
	// function reads, and a few hundred KiB at most.
	maxDefinitions = 1024
)

// Client is the part of the ECS API the Runtime calls; *ecs.Client has it.
type Client interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, opts ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	ListTasks(ctx context.Context, in *ecs.ListTasksInput, opts ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, opts ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

var _ Client = (*ecs.Client)(nil)

// Runtime is a shiplog.Runtime on ECS, in the client's account and region. Safe for concurrent
// use; build it once per process, since it keeps the task definitions it has read.
type Runtime struct {
	client Client

	mu sync.Mutex
	// definitions holds the containers of each task definition read, by ARN. A revision's ARN
	// names an immutable definition, so an entry is never stale.
	definitions map[string]*definition
}

var _ shiplog.Runtime = (*Runtime)(nil)

// definition is one task definition's containers, or the error reading it; ready closes once
// either is known, so that concurrent readers of one ARN make one call.
type definition struct {
	ready      chan struct{}
	containers []container
	err        error
}

type container struct{ name, image string }

// New returns a Runtime that uses client, built once per process.
func New(client Client) *Runtime {
	return &Runtime{client: client, definitions: map[string]*definition{}}
}

// NewFromConfig returns a Runtime on an ECS client made from cfg.
func NewFromConfig(cfg aws.Config) *Runtime {
	return New(ecs.NewFromConfig(cfg))
}

// Runtimes makes the ECS reader of a configuration's account and region, for awssts.Clients.
func Runtimes(cfg aws.Config) shiplog.Runtime {
	return New(ecs.NewFromConfig(cfg))
}

// Running returns what each of the named services of cluster (a name or an ARN) runs now: one
// DescribeServices per ten services, one DescribeTaskDefinition per task definition not read
// before, and, for a service whose task definition names an image by tag, ListTasks and
// DescribeTasks of its running tasks for their digests; up to four calls at once. A service
// ECS does not have, or has deleted (INACTIVE), is Found false. NotFound if the cluster does not
// exist.
//
// The rollout is the primary deployment's rolloutState. Where ECS gives none (a deployment
// controller other than ECS's), a service is COMPLETED when it has one deployment and runs as
// many tasks as it wants, else IN_PROGRESS.
func (r *Runtime) Running(ctx context.Context, cluster string, services []string) (map[string]shiplog.ServiceRun, error) {
	if cluster == "" {
		return nil, shiplog.Errorf(shiplog.Invalid, "ECS cluster: is required")
	}
	var names []string
	for _, s := range services {
		if s == "" {
			return nil, shiplog.Errorf(shiplog.Invalid, "ECS service name: is required (cluster %s)", cluster)
		}
		if !slices.Contains(names, s) {
			names = append(names, s)
		}
	}
	// Phase 1: describe the services, ten a call.
	batches := slices.Collect(slices.Chunk(names, servicesBatch))
	described := make([]map[string]types.Service, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readers)
	for i, batch := range batches {
		g.Go(func() error {
			found, err := r.describeServices(gctx, cluster, batch)
			described[i] = found
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Phase 2: what each found service runs.
	out := make(map[string]shiplog.ServiceRun, len(names))
	var mu sync.Mutex
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(readers)
	for i, batch := range batches {
		for _, name := range batch {
			svc, ok := described[i][name]
			if !ok || aws.ToString(svc.Status) == "INACTIVE" {
				mu.Lock()
				out[name] = shiplog.ServiceRun{}
				mu.Unlock()
				continue
			}
			g.Go(func() error {
				run, err := r.serviceRun(gctx, cluster, name, svc)
				mu.Lock()
				out[name] = run
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// describeServices describes up to ten services, returning those ECS has by the name asked for.
func (r *Runtime) describeServices(ctx context.Context, cluster string, names []string) (map[string]types.Service, error) {
	out, err := r.client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: names})
	if err != nil {
		return nil, mapError(err, cluster, "describe services %s of cluster %s", strings.Join(names, ", "), cluster)
	}
	found := map[string]types.Service{}
	for _, svc := range out.Services {
		for _, name := range names {
			if name == aws.ToString(svc.ServiceName) || name == aws.ToString(svc.ServiceArn) {
				found[name] = svc
			}
		}
	}
	for _, f := range out.Failures {
		if aws.ToString(f.Reason) == "MISSING" {
			continue // Found false
		}
		return nil, shiplog.Errorf(shiplog.Internal, "describe services of cluster %s: %s: %s %s",
			cluster, aws.ToString(f.Arn), aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	return found, nil
}

// serviceRun reads what svc, as described, runs.
func (r *Runtime) serviceRun(ctx context.Context, cluster, name string, svc types.Service) (shiplog.ServiceRun, error) {
	run := shiplog.ServiceRun{Found: true}
	taskDefinition := aws.ToString(svc.TaskDefinition)
	var primary *types.Deployment
	for i := range svc.Deployments {
		if aws.ToString(svc.Deployments[i].Status) == "PRIMARY" {
			primary = &svc.Deployments[i]
		}
	}
	switch {
	case primary != nil && primary.RolloutState != "":
		run.Rollout, run.Reason = string(primary.RolloutState), aws.ToString(primary.RolloutStateReason)
	case len(svc.Deployments) <= 1 && svc.RunningCount == svc.DesiredCount:
		run.Rollout = shiplog.RolloutCompleted
	default:
		run.Rollout = shiplog.RolloutInProgress
	}
	if primary != nil && primary.TaskDefinition != nil {
		taskDefinition = *primary.TaskDefinition
	}
	if taskDefinition == "" {
		return run, nil // nothing runs: an external deployment controller's service, say
	}
	var err error
	run.Images, err = r.images(ctx, cluster, name, taskDefinition)
	if err != nil {
		return shiplog.ServiceRun{}, err
	}
	return run, nil
}

// Deployment returns the ECS deployment of service (in cluster, a name or an ARN) whose id is
// id, as DescribeServices lists it now, and its task definition's images: one DescribeServices,
// a DescribeTaskDefinition if the definition was not read before, and for an image named by tag
// ListTasks and DescribeTasks. Found false if the service, or that deployment of it, is not
// listed: ECS lists a service's deployments until they have drained, not after.
func (r *Runtime) Deployment(ctx context.Context, cluster, service, id string) (shiplog.ServiceDeployment, error) {
	switch {
	case cluster == "":
		return shiplog.ServiceDeployment{}, shiplog.Errorf(shiplog.Invalid, "ECS cluster: is required")
	case service == "":
		return shiplog.ServiceDeployment{}, shiplog.Errorf(shiplog.Invalid, "ECS service name: is required (cluster %s)", cluster)
	case id == "":
		return shiplog.ServiceDeployment{}, shiplog.Errorf(shiplog.Invalid, "ECS deployment id: is required (service %s of cluster %s)", service, cluster)
	}
	found, err := r.describeServices(ctx, cluster, []string{service})
	if err != nil {
		return shiplog.ServiceDeployment{}, err
	}
	svc, ok := found[service]
	if !ok || aws.ToString(svc.Status) == "INACTIVE" {
		return shiplog.ServiceDeployment{}, nil
	}
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != id {
			continue
		}
		out := shiplog.ServiceDeployment{Found: true, TaskDefinition: aws.ToString(d.TaskDefinition), Rollout: string(d.RolloutState)}
		if out.TaskDefinition == "" {
			return out, nil
		}
		out.Images, err = r.images(ctx, cluster, service, out.TaskDefinition)
		if err != nil {
			return shiplog.ServiceDeployment{}, err
		}
		return out, nil
	}
	return shiplog.ServiceDeployment{}, nil
}

// images returns the images of a service's task definition: as the definition names them where
// it pins a digest, else the digests the service's running tasks of that definition report.
func (r *Runtime) images(ctx context.Context, cluster, service, taskDefinition string) ([]string, error) {
	containers, err := r.definition(ctx, taskDefinition)
	if err != nil {
		return nil, err
	}
	var images []string
	var digests map[string][]string
	for _, c := range containers {
		if pinned(c.image) {
			images = append(images, c.image)
			continue
		}
		if digests == nil {
			if digests, err = r.runningDigests(ctx, cluster, service, taskDefinition); err != nil {
				return nil, err
			}
		}
		// Named by tag: what the tasks of this definition run. None yet (or none reported), and
		// the image stays as named, which no deployment's digest-pinned image equals.
		ds := digests[c.name]
		if len(ds) == 0 {
			images = append(images, c.image)
		}
		for _, d := range ds {
			images = append(images, repository(c.image)+"@"+d)
		}
	}
	return images, nil
}

// definition returns the containers of a task definition, reading it once per Runtime.
func (r *Runtime) definition(ctx context.Context, arn string) ([]container, error) {
	r.mu.Lock()
	d, ok := r.definitions[arn]
	if !ok {
		if len(r.definitions) >= maxDefinitions {
			r.definitions = map[string]*definition{}
		}
		d = &definition{ready: make(chan struct{})}
		r.definitions[arn] = d
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-d.ready:
			return d.containers, d.err
		case <-ctx.Done():
			return nil, shiplog.Wrap(shiplog.Unavailable, ctx.Err(), "read task definition %s: gave up waiting for ECS", arn)
		}
	}
	d.containers, d.err = r.readDefinition(ctx, arn)
	if d.err != nil {
		// Not kept: the next caller tries again.
		r.mu.Lock()
		if r.definitions[arn] == d {
			delete(r.definitions, arn)
		}
		r.mu.Unlock()
	}
	close(d.ready)
	return d.containers, d.err
}

func (r *Runtime) readDefinition(ctx context.Context, arn string) ([]container, error) {
	out, err := r.client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return nil, mapError(err, "", "read task definition %s", arn)
	}
	if out.TaskDefinition == nil {
		return nil, shiplog.Errorf(shiplog.Internal, "read task definition %s: ECS answered no definition", arn)
	}
	var cs []container
	for _, c := range out.TaskDefinition.ContainerDefinitions {
		cs = append(cs, container{name: aws.ToString(c.Name), image: aws.ToString(c.Image)})
	}
	return cs, nil
}

// runningDigests returns, by container name, the distinct image digests that the service's
// running tasks of taskDefinition report, sorted.
func (r *Runtime) runningDigests(ctx context.Context, cluster, service, taskDefinition string) (map[string][]string, error) {
	var arns []string
	for p := ecs.NewListTasksPaginator(r.client, &ecs.ListTasksInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(service),
		DesiredStatus: types.DesiredStatusRunning, MaxResults: aws.Int32(tasksBatch),
	}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError(err, cluster, "list the tasks of service %s in cluster %s", service, cluster)
		}
		arns = append(arns, page.TaskArns...)
	}
	digests := map[string][]string{}
	for batch := range slices.Chunk(arns, tasksBatch) {
		out, err := r.client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: batch})
		if err != nil {
			return nil, mapError(err, cluster, "describe the tasks of service %s in cluster %s", service, cluster)
		}
		for _, f := range out.Failures {
			if aws.ToString(f.Reason) == "MISSING" {
				continue // stopped and gone since it was listed
			}
			return nil, shiplog.Errorf(shiplog.Internal, "describe the tasks of service %s in cluster %s: %s: %s %s",
				service, cluster, aws.ToString(f.Arn), aws.ToString(f.Reason), aws.ToString(f.Detail))
		}
		for _, task := range out.Tasks {
			// Tasks of an older definition are the deployment being replaced, not this one.
			if aws.ToString(task.TaskDefinitionArn) != taskDefinition {
				continue
			}
			for _, c := range task.Containers {
				d, name := aws.ToString(c.ImageDigest), aws.ToString(c.Name)
				if d != "" && !slices.Contains(digests[name], d) {
					digests[name] = append(digests[name], d)
				}
			}
		}
	}
	for name := range digests {
		slices.Sort(digests[name])
	}
	return digests, nil
}

// pinned reports whether an image is named by digest.
func pinned(image string) bool { return strings.Contains(image, "@") }

// repository is an image reference without its tag: the part before the last ':' that comes
// after the last '/' (a registry's port is not a tag).
func repository(image string) string {
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		return image[:i]
	}
	return image
}

// service names ECS in the messages of errors the SDK's retries could not get past.
const service = awserr.Service("ECS")

// mapError turns an SDK error into a shiplog error with context: ECS's own meanings here, the
// rest (throttling and server faults included) as every AWS adapter maps them (awserr); cluster,
// if given, is the cluster the call named, for a missing cluster's message.
func mapError(err error, cluster, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var clusterNotFound *types.ClusterNotFoundException
	var serviceNotFound *types.ServiceNotFoundException
	var invalid *types.InvalidParameterException
	var client *types.ClientException
	var apiErr smithy.APIError
	isAPI := errors.As(err, &apiErr)
	switch {
	case errors.As(err, &clusterNotFound):
		return shiplog.Wrap(shiplog.NotFound, err, "%s: ECS has no cluster %q in this account and region", what, cluster)
	case errors.As(err, &serviceNotFound):
		return shiplog.Wrap(shiplog.NotFound, err, "%s: no such service", what)
	case isAPI && apiErr.ErrorCode() == "AccessDeniedException":
		// The role lacks a grant: the operator's to fix, so the message is logged, not shown.
		return shiplog.Wrap(shiplog.Internal, err, "%s: access denied: %s", what, apiErr.ErrorMessage())
	case errors.As(err, &invalid), errors.As(err, &client):
		return shiplog.Wrap(shiplog.Invalid, err, "%s: ECS refused the request: %s", what, apiErr.ErrorMessage())
	}
	return service.Wrap(err, "%s", what)
}
