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

// Store is everything the Service keeps: the interfaces of its six parts (projects, pushes,
// releases, environments with their deployments, approvals, and the event log) together. It is implemented
// once, by pkg/ledger, over a driver per backend (memory, the embedded bbolt file, DynamoDB).
//
// A Store answers NotFound with the sentinels below (ErrProjectNotFound, ErrReleaseNotFound,
// ErrImageNotFound, ErrReleaseKeyNotFound) and a refused conditional write with
// ErrVersionConflict, ErrDeploymentExists or ErrReleaseKeyExists; the Service phrases what
// callers see, so every backend says the same words.
// Anything else a store returns is Internal, or Unavailable when its backend is throttling or down.
//
// Every write that changes state carries the events of its change (see Event) and writes them in
// the same atomic write, or, when it is refused or changes nothing, none of them.
type Store interface {
	ProjectStore
	PushStore
	ReleaseStore
	EnvironmentStore
	ApprovalStore
	EventStore
}

// EventStore reads the event log that the other stores' writes append to.
type EventStore interface {
	// ListEvents returns a project's events newest first (descending id), narrowed by the filter.
	// Invalid for a bad cursor.
	ListEvents(ctx context.Context, projectID string, filter EventFilter, page PageRequest) (Page[Event], error)
}

// ProjectStore keeps the registered projects and which repositories feed which services.
type ProjectStore interface {
	// PutProject registers a project or replaces its registration, including which repositories
	// feed which of its services, and writes ev with it if the registration changes what is
	// stored (RegistrationChanged of the stored project, read in the same write). Inside its
	// write it refuses, with the domain's refusals, a registration that would make a repository
	// feed more than MaxServicesPerRepository services (RepositoryOverLimit), and one that drops
	// an environment with a state unless retired names it (DropsDeployed); on refusal nothing is
	// written.
	PutProject(ctx context.Context, p Project, ev Event, retired ...string) error
	// GetProject returns a registered project; ErrProjectNotFound if there is none.
	GetProject(ctx context.Context, id string) (Project, error)
	// ListProjects returns every registered project, sorted by id.
	ListProjects(ctx context.Context) ([]Project, error)
	// ListProjectsPage returns a page of the registered projects, sorted by id. Invalid for a
	// bad cursor.
	ListProjectsPage(ctx context.Context, page PageRequest) (Page[Project], error)
	// RuntimeMatches returns the registered environments that run one of their project's
	// services as ECS service service of a cluster named cluster (RuntimeServices), each with its
	// project and state, from an index kept by registration in the same write: one read when
	// none does, one more for those that do. complete is false (and matches empty) while the
	// index does not cover every project (some were registered before it was kept): the caller
	// then looks through ListProjects, and the store completes the index.
	RuntimeMatches(ctx context.Context, cluster, service string) (matches []RuntimeMatch, complete bool, err error)
	// RepositoryServices returns the services, in every registered project, that run the images
	// of an ECR repository, sorted by project then service.
	RepositoryServices(ctx context.Context, repository string) ([]ServiceRef, error)
}

// PushStore keeps the newest image pushed for each service.
type PushStore interface {
	// RecordPush stores rec as the service's newest image unless a newer push is recorded. It
	// reports whether rec is now the record: true also when the same push was recorded before
	// (same time and URI), false when a newer push, or another image at the same time, is. It
	// writes ev with rec only when rec becomes the record: not for the same push again.
	RecordPush(ctx context.Context, rec ImageRecord, ev Event) (bool, error)
	// LatestImage returns the newest push recorded for a service; ErrImageNotFound if none.
	LatestImage(ctx context.Context, projectID, serviceID string) (ImageRecord, error)
	// LatestImages returns the newest push recorded for each of a project's services, keyed by
	// service id, in as few reads as the backend allows (creating a release asks for every service of
	// the project); services with no push recorded are absent. serviceIDs may repeat ids, and
	// may be empty.
	LatestImages(ctx context.Context, projectID string, serviceIDs []string) (map[string]ImageRecord, error)
}

// ReleaseStore keeps releases, and the idempotency keys of the requests that created them.
type ReleaseStore interface {
	// CreateRelease stores w.Release and appends w.Event to the log, and, if w.Key is set,
	// records the key, all in one atomic write. Conflict if the release's id exists;
	// ErrReleaseKeyExists if the project has the key recorded and not expired (a key recorded at
	// or before w.Key.At-KeyTTL is expired, and is replaced). A write that raced another write of
	// the same key may be refused with Conflict or Unavailable instead. On error nothing is
	// changed.
	CreateRelease(ctx context.Context, w ReleaseWrite) error
	// GetReleaseKey returns an idempotency key of a project's create-release requests as it was
	// recorded, expired or not (a store may drop expired keys, but need not do so at once);
	// ErrReleaseKeyNotFound if there is none.
	GetReleaseKey(ctx context.Context, projectID, key string) (ReleaseKey, error)
	// GetRelease returns a project's release; ErrReleaseNotFound if the project has no release
	// with that id.
	GetRelease(ctx context.Context, projectID, releaseID string) (Release, error)
	// LatestRelease returns the project's newest release (the greatest id). It must see a release
	// as soon as CreateRelease has returned, so that "deploy latest" right after "create release"
	// deploys that release. ErrReleaseNotFound if the project has no release.
	LatestRelease(ctx context.Context, projectID string) (Release, error)
	// ListReleases returns a project's releases, newest first. Invalid for a bad cursor.
	ListReleases(ctx context.Context, projectID string, page PageRequest) (Page[Release], error)
	// ReleaseContext reads, in one go, the project as stored, the newest push recorded for each
	// of serviceIDs (as LatestImages does: absent if none; ids may repeat or be empty) and, if key
	// is not empty, the record of that create-release idempotency key (as GetReleaseKey, expired
	// or not; nil if none). ErrProjectNotFound if the project is not registered.
	ReleaseContext(ctx context.Context, projectID string, serviceIDs []string, key string) (ReleaseContext, error)
}

// EnvironmentStore keeps each environment's state and the deployments recorded to it.
//
// An environment's state is a versioned record, and WriteEnvironment is its one write: a
// conditional replacement of the version the caller read. Every rule about environments (the
// write lock, and whatever comes next) is domain code that reads the state, decides, and writes
// the next version; the store only guarantees that no two writers both replace one version.
type EnvironmentStore interface {
	// DeployContext reads, in one go, the project, the release and the environment's current
	// state. releaseID LatestRelease names the project's newest release, as LatestRelease answers
	// it, resolved in the same read (no read of its own before). ErrProjectNotFound or
	// ErrReleaseNotFound if one of them does not exist (the latter also for a project with no
	// release, when asked for LatestRelease).
	DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (DeployContext, error)
	// WriteEnvironment replaces the environment's state, at once with recording w.Deployment if
	// it is set (listed for the project, the environment and the release; the release's
	// last_date_deployed set and deployment_count incremented) and applying w.Statuses (each sets
	// a recorded deployment's status and appends its entry to the history; a verified one adds
	// its environment to the release's verified_in), and appending w.Events to the log.
	// ErrVersionConflict if the stored version is
	// not w.Expect (0: no state yet); ErrEnvironmentNotFound if a deployment's environment is
	// not one of the project's registered environments when it is written; ErrDeploymentExists if the deployment's id is recorded
	// already; ErrReleaseNotFound if the deployment's release is gone; ErrDeploymentNotFound if a
	// status update names a deployment not recorded. On error nothing is changed.
	WriteEnvironment(ctx context.Context, w EnvironmentWrite) error
	// WriteEnvironments replaces the states of several environments of one project, each at the
	// version it expects, with their events, in one atomic write: all of them or, on any error,
	// none. The writes carry no deployment and no status update (Invalid). ErrVersionConflict if
	// any stored version is not the one its write expects. Only where one atomic write of the
	// store cannot take them all (DynamoDB: 100 items, so past about 33 environments, a state and
	// its event with the event's copy in its type's list each) are they written in as few writes
	// as take them, each environment's state with its own events, in order.
	WriteEnvironments(ctx context.Context, ws []EnvironmentWrite) error
	// GetDeployment returns one of a project's deployments; ErrDeploymentNotFound if none.
	GetDeployment(ctx context.Context, projectID, deploymentID string) (DeploymentRecord, error)
	// ListDeployments returns a project's deployments newest first, narrowed by the filter.
	// Invalid for a bad cursor.
	ListDeployments(ctx context.Context, projectID string, filter DeploymentFilter, page PageRequest) (Page[DeploymentRecord], error)
	// DeploymentsSince returns every deployment to the environment created at or after since
	// (Unix seconds), newest first, reading only those: deployment ids are ULIDs of their
	// creation (NewULIDGenerator), so the store reads a range of keys from since's, one call per
	// page of the backend. (Ids that are not ULIDs sort above every ULID of this century, and are
	// read, then dropped by their created_at.)
	DeploymentsSince(ctx context.Context, projectID, environment string, since int64) ([]DeploymentRecord, error)
	// EnvironmentStates returns the state of each environment of the project that has ever been
	// deployed to, sorted by environment id.
	EnvironmentStates(ctx context.Context, projectID string) ([]EnvironmentState, error)
}

// AtomicParameters is the write of a store that also holds the parameters (memory and bbolt,
// whose drivers declare it: ledger.Caps.Parameters): an environment's next state and its
// parameters in one atomic write. The wiring sets Service.Atomic to it.
type AtomicParameters interface {
	// WriteEnvironmentAndParameters is WriteEnvironment that also sets params, all or nothing.
	WriteEnvironmentAndParameters(ctx context.Context, w EnvironmentWrite, params map[string]string) error
}

// The errors stores answer with; the Service turns them into messages for callers.
var (
	ErrProjectNotFound    = &Error{Kind: NotFound, Message: "project not registered"}
	ErrReleaseNotFound    = &Error{Kind: NotFound, Message: "release not found"}
	ErrImageNotFound      = &Error{Kind: NotFound, Message: "no image recorded"}
	ErrDeploymentNotFound = &Error{Kind: NotFound, Message: "deployment not found"}
	ErrVersionConflict    = &Error{Kind: Conflict, Message: "the environment changed since it was read"}
	ErrDeploymentExists   = &Error{Kind: Conflict, Message: "a deployment with this id is recorded already"}
	ErrReleaseKeyNotFound = &Error{Kind: NotFound, Message: "idempotency key not recorded"}
	ErrReleaseKeyExists   = &Error{Kind: Conflict, Message: "the idempotency key is recorded already"}
	// ErrEnvironmentNotFound: a deployment's environment was dropped from the project's
	// registration after the deploy read it.
	ErrEnvironmentNotFound = &Error{Kind: NotFound, Message: "environment not registered"}
)

// Registry is the image registry (ECR). It is optional: without one, deploys do not check that
// images still exist.
type Registry interface {
	// CheckImages reads digest-pinned images from the registry: those it no longer has and, if
	// tag is set, those that do not carry tag yet, in one read of each repository (a deploy that
	// tags its images learns where the tags are from its check).
	CheckImages(ctx context.Context, images []string, tag string) (ImageCheck, error)
	// TagImages points tag at each image, whether or not it carries it already: CheckImages says
	// which images need it.
	TagImages(ctx context.Context, images []string, tag string) error
}

// ImageCheck is what a registry says of images, in the order they were given.
type ImageCheck struct {
	Missing []string // no longer in the registry
	// Untagged are the images, of those in the registry, that do not carry the tag asked
	// about; none if no tag was.
	Untagged []string
}
