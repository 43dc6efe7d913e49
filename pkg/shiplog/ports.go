package shiplog

import "context"

// ParameterStore holds image URIs under hierarchical names, as SSM Parameter Store does.
type ParameterStore interface {
	// GetParameter returns a parameter's value; NotFound if there is none.
	GetParameter(ctx context.Context, name string) (string, error)
	// GetParameters returns the values of those of names that exist, keyed by name; names that
	// do not exist are simply absent.
	GetParameters(ctx context.Context, names []string) (map[string]string, error)
	// GetParametersByPath returns every parameter directly under path (which ends in "/"),
	// keyed by full name. An empty path gives an empty map.
	GetParametersByPath(ctx context.Context, path string) (map[string]string, error)
	// PutParameters sets each name to its value, overwriting what is there.
	PutParameters(ctx context.Context, params map[string]string) error
}

// ReleaseStore keeps projects, pushes, releases, deployments and environment states.
// Every method returns *Error kinds for the cases it names; anything else is Internal.
type ReleaseStore interface {
	// PutProject registers a project or replaces its registration, including which repositories
	// feed which of its services.
	PutProject(ctx context.Context, p Project) error
	// GetProject returns a registered project; NotFound if there is none.
	GetProject(ctx context.Context, id string) (Project, error)
	// ListProjects returns every registered project, sorted by id.
	ListProjects(ctx context.Context) ([]Project, error)
	// RepositoryServices returns the services, in every registered project, that run the images
	// of an ECR repository, sorted by project then service.
	RepositoryServices(ctx context.Context, repository string) ([]ServiceRef, error)

	// RecordPush stores rec as the service's newest image unless a newer push is recorded. It
	// reports whether rec is now the record: true also when the same push was recorded before
	// (same time and URI), false when a newer push, or another image at the same time, is.
	RecordPush(ctx context.Context, rec ImageRecord) (bool, error)
	// LatestImage returns the newest push recorded for a service; NotFound if there is none.
	LatestImage(ctx context.Context, projectID, serviceID string) (ImageRecord, error)

	// CreateRelease stores a new release; Conflict if its id exists.
	CreateRelease(ctx context.Context, r Release) error
	// GetRelease returns a project's release; NotFound if the project has no release with that id.
	GetRelease(ctx context.Context, projectID, releaseID string) (Release, error)
	// LatestRelease returns the project's newest release (the greatest id). It must see a release
	// as soon as CreateRelease has returned, so that "deploy latest" right after "create release"
	// deploys that release. NotFound if the project has no release.
	LatestRelease(ctx context.Context, projectID string) (Release, error)
	// ListReleases returns a project's releases, newest first. Invalid for a bad cursor.
	ListReleases(ctx context.Context, projectID string, page PageRequest) (Page[Release], error)

	// DeployContext reads, in one go, the project, the release and the environment's current
	// state. NotFound if the project or the release does not exist.
	DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (DeployContext, error)
	// RecordDeployment applies a deployment atomically: it appends the deployment to the
	// release, sets the release's last_date_deployed, stores the environment state and records the
	// deployment for listing. Conflict if the environment's current deployment is not
	// PreviousDeploymentID; NotFound if the release is gone. On error nothing is changed.
	RecordDeployment(ctx context.Context, c DeploymentChange) error
	// SettleEnvironment marks the environment's deployment as having written its parameters:
	// Pending becomes pending and the lock is released. Conflict if the environment's current
	// deployment is not deploymentID.
	SettleEnvironment(ctx context.Context, projectID, environmentID, deploymentID string, pending []string) error
	// ListDeployments returns a project's deployments newest first, of one environment if
	// environmentID is not empty. Invalid for a bad cursor.
	ListDeployments(ctx context.Context, projectID, environmentID string, page PageRequest) (Page[DeploymentRecord], error)
	// EnvironmentStates returns the state of each environment of the project that has ever been
	// deployed to, sorted by environment id.
	EnvironmentStates(ctx context.Context, projectID string) ([]EnvironmentState, error)
}

// Registry is the image registry (ECR). It is optional: without one, deploys do not check that
// images still exist.
type Registry interface {
	// MissingImages returns those of the digest-pinned image URIs that the registry no longer has.
	MissingImages(ctx context.Context, images []string) ([]string, error)
	// TagImages points tag at each image.
	TagImages(ctx context.Context, images []string, tag string) error
}
