package shiplog

import (
	"context"
	"slices"
)

// ECSTarget says where an environment's services run on Amazon ECS, so that shiplog can check
// that a deployment runs: the cluster, and the ECS service name of each shiplog service. A service
// the map leaves out runs as the ECS service of the same name as its id.
type ECSTarget struct {
	Cluster  string            `json:"cluster"`
	Services map[string]string `json:"services,omitempty"`
}

// ServiceName returns the ECS service name that runs serviceID.
func (t ECSTarget) ServiceName(serviceID string) string {
	if n, ok := t.Services[serviceID]; ok && n != "" {
		return n
	}
	return serviceID
}

// Runtime tells what runs on the platform (ECS). It is optional: without one, deployments are
// verified only by what the consuming pipeline reports.
type Runtime interface {
	// Running returns what each of the named services of a cluster runs now, keyed by service
	// name. A service that does not exist is in the map with Found false.
	Running(ctx context.Context, cluster string, services []string) (map[string]ServiceRun, error)
	// Deployment returns one ECS deployment of a service (by its id, "ecs-svc/..."), as ECS
	// lists it among the service's deployments now: Found false if it does not (any more).
	Deployment(ctx context.Context, cluster, service, id string) (ServiceDeployment, error)
}

// ServiceDeployment is one ECS deployment of a service: the task definition it rolls out, and
// that definition's images, resolved as ServiceRun's are (a container named by tag as the digests
// its running tasks of the definition report).
type ServiceDeployment struct {
	Found          bool
	TaskDefinition string
	Images         []string
	Rollout        string
}

// Location is an AWS account and region. A Service's Home is where its stack runs: an
// environment whose ECS cluster is named without an ARN has its cluster there.
type Location struct {
	Account string
	Region  string
}

// ServiceRun is what one ECS service runs: the images of its primary deployment's task
// definition, and that deployment's rollout.
type ServiceRun struct {
	Found bool
	// Images are the container images of the primary deployment's task definition, as named there
	// (digest-pinned URIs when the definition pins them), with each container's running digest
	// where the definition names a tag: "repo@sha256:...".
	Images []string
	// Rollout is the primary deployment's rollout state: RolloutCompleted, RolloutInProgress or
	// RolloutFailed.
	Rollout string
	// Reason is ECS's reason for the rollout state, if it gave one.
	Reason string
}

// The rollout states of an ECS deployment.
const (
	RolloutCompleted  = "COMPLETED"
	RolloutInProgress = "IN_PROGRESS"
	RolloutFailed     = "FAILED"
)

// RuntimeEvent is an event from the platform about one service's deployment: ECS's "ECS
// Deployment State Change" (SERVICE_DEPLOYMENT_COMPLETED, _FAILED, _IN_PROGRESS) or "ECS Service
// Action" events, reduced to what shiplog needs.
type RuntimeEvent struct {
	// ID is the event's id, for logs.
	ID string
	// Account and Region are where the ECS service is, from its ARN.
	Account string
	Region  string
	// Cluster and Service name the ECS service (names, not ARNs).
	Cluster string
	Service string
	// Deployment is the ECS deployment the event is about ("ecs-svc/..."), if it names one: a
	// Deployment State Change does, a Service Action does not.
	Deployment string
	// Outcome is RolloutCompleted, RolloutFailed or RolloutInProgress.
	Outcome string
	// Reason is what ECS said, if anything.
	Reason string
	// At is the event's time, Unix seconds.
	At int64
}

// RuntimeOutcome is what a RuntimeEvent did to each environment whose ECS target names its
// cluster and service. Ignored says why the event concerned no environment at all.
type RuntimeOutcome struct {
	Environments []EnvironmentOutcome `json:"environments,omitempty"`
	Ignored      string               `json:"ignored,omitempty"`
}

// EnvironmentOutcome is what a RuntimeEvent did to one environment: the deployment it concerned,
// if any, and the status that deployment has after it. Ignored says why the event changed
// nothing there (another account, dated before the deployment was applied, an ECS deployment of
// other images, the service not yet at the deployed images, and the like).
type EnvironmentOutcome struct {
	ProjectID    string `json:"project_id"`
	Environment  string `json:"environment"`
	DeploymentID string `json:"deployment_id,omitempty"`
	Status       string `json:"status,omitempty"`
	Ignored      string `json:"ignored,omitempty"`
}

// validate checks what an event says of itself: where it is from and what it names, as ECS
// spells them. ECS's free text, the reason, is cleaned where it is recorded, not refused: a
// genuine failure must not be lost to its wording.
func (ev RuntimeEvent) validate() error {
	switch {
	case !IsECSName(ev.Cluster) || !IsECSName(ev.Service):
		return Errorf(Invalid, "runtime event %s: cluster %q and service %q must be ECS names", clip(ev.ID), clip(ev.Cluster), clip(ev.Service))
	case !isAccount(ev.Account) || !isRegion(ev.Region) || len(ev.Region) > 32:
		return Errorf(Invalid, "runtime event %s: account %q and region %q must say where the ECS service is", clip(ev.ID), clip(ev.Account), clip(ev.Region))
	case ev.Deployment != "" && !isECSDeploymentID(ev.Deployment):
		return Errorf(Invalid, "runtime event %s: deployment %q is not an ECS deployment id (up to 255 letters, digits, '/', '-' and '_')", clip(ev.ID), clip(ev.Deployment))
	}
	return nil
}

// isECSDeploymentID reports whether s is shaped like an ECS deployment id ("ecs-svc/...").
func isECSDeploymentID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '/' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// HandleRuntimeEvent takes an event from the platform about a service's deployment and marks the
// shiplog deployment it concerns verified (every service of the environment runs exactly the
// deployed images) or failed (ECS failed or rolled back the service's deployment). Events arrive
// at least once and in any order, and anyone allowed to invoke the function can send one: an
// event from elsewhere, dated before the deployment was applied, or about an ECS deployment of
// other images changes nothing, and the outcome says why; that is no error. Unavailable if the
// event passes those rules and this shiplog has no Runtime to check it against.
func (s *Service) HandleRuntimeEvent(ctx context.Context, ev RuntimeEvent) (RuntimeOutcome, error) {
	return s.handleRuntimeEvent(ctx, ev)
}

// RuntimeService names an ECS service by its cluster's name (the last part of an ARN) and its
// own: what an ECS event says it is about.
type RuntimeService struct {
	Cluster string
	Service string
}

// RuntimeServices returns, for each ECS service that an environment of p runs one of p's
// services as, the ids of those environments (sorted): the environments an ECS event about the
// service may concern. Stores keep it as an index, so that an event about a service no project
// runs is answered from one read. Under AlarmIndex it lists, by name, the CloudWatch alarms
// environments name, so that an alarm's event finds them the same way.
func RuntimeServices(p Project) map[RuntimeService][]string {
	out := map[RuntimeService][]string{}
	for _, env := range p.Environments {
		if env.ECS == nil {
			continue
		}
		for _, svc := range p.Services() {
			k := RuntimeService{Cluster: clusterName(env.ECS.Cluster), Service: env.ECS.ServiceName(svc)}
			if !slices.Contains(out[k], env.ID) {
				out[k] = append(out[k], env.ID)
			}
		}
	}
	// The alarms environments name, under AlarmIndex by name, so that an alarm's event finds
	// them the same way.
	for _, env := range p.Environments {
		for _, a := range env.Alarms {
			k := RuntimeService{Cluster: AlarmIndex, Service: AlarmName(a)}
			if !slices.Contains(out[k], env.ID) {
				out[k] = append(out[k], env.ID)
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// RuntimeMatch is a registered environment that an ECS event may concern: its project, its id,
// and its state (nil if nothing was ever deployed there).
type RuntimeMatch struct {
	Project     Project
	Environment string
	State       *EnvironmentState
}
