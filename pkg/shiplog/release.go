package shiplog

import (
	"fmt"
	"time"
)

// LatestLabel is the label that ECR pushes update, and the default label of a new release.
const LatestLabel = "latest"

// LatestRelease, in place of a release id, names a project's newest release.
const LatestRelease = "latest"

// Person identifies who asked for a release or a deployment, and through which channel that
// identity was asserted (Via).
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Via is ViaAPI when an authenticated API caller is the requester, ViaInvoke when a direct
	// invocation says who it is (the invoker may name anyone); empty in records made before.
	Via string `json:"via,omitempty"`
}

// The channels that assert a requester's identity.
const (
	ViaAPI    = "api"
	ViaInvoke = "invoke"
)

// Release is a snapshot of a project's images under a label. Its JSON names are the attribute
// names of the releases table in the design note.
type Release struct {
	ID               string            `json:"release_id"`
	ProjectID        string            `json:"project_id"`
	ProjectName      string            `json:"project_name"`
	CreatedAt        int64             `json:"created_at"`
	LastDateDeployed int64             `json:"last_date_deployed,omitempty"`
	Manifest         string            `json:"release_manifest"`
	RequestedBy      Person            `json:"requested_by"`
	Images           map[string]string `json:"images"`
	Label            string            `json:"label"`
	Description      string            `json:"description"`
	// PushedAt is, for each service whose image under the label was the newest push recorded for
	// it when the release was created, the time (Unix seconds) of that push: where lead times for
	// changes start. Images put under a label by hand, or pushed over since, have none.
	PushedAt map[string]int64 `json:"pushed_at,omitempty"`
	// Sources is, for each service whose source is known, the Git revision and repository its
	// image was built from (see ImageSource); services with nothing known are absent.
	Sources map[string]ImageSource `json:"sources,omitempty"`
	// Deployments are the release's deployments, oldest first: all of them up to
	// ReleaseDeploymentsShown, else the newest ReleaseDeploymentsShown, and DeploymentCount says
	// how many there are (the rest are listed by GET /projects/{p}/deployments?release=).
	Deployments []Deployment `json:"deployments"`
	// DeploymentCount is how many times the release was deployed.
	DeploymentCount int64 `json:"deployment_count"`
	// VerifiedIn lists the environments in which a deployment of the release was verified:
	// what promotion gates check.
	VerifiedIn []string `json:"verified_in,omitempty"`
}

// ReleaseDeploymentsShown bounds the deployments a release lists with itself, so that reading a
// release costs the same however often it was deployed.
const ReleaseDeploymentsShown = 100

// Deployment is a statement of intent to deploy a release to an environment.
type Deployment struct {
	ID          string      `json:"deployment_id"`
	Environment Environment `json:"environment"`
	CreatedAt   int64       `json:"created_at"`
	RequestedBy Person      `json:"requested_by"`
	Description string      `json:"description"`
	// Kind is how the deployment came about: KindDeploy, KindPromote or KindRollback. Deployments
	// recorded before kinds existed have none, and were deploys.
	Kind string `json:"kind,omitempty"`
	// PromotedFrom is the environment a promotion took the release from.
	PromotedFrom string `json:"promoted_from,omitempty"`
	// Reverts is the deployment a rollback undid.
	Reverts string `json:"reverts,omitempty"`
	// Override is set on a break-glass deployment, which passed locks and gates.
	Override *Override `json:"override,omitempty"`
	// Exceptions names the gates that let the deployment through only for its kind: a rollback
	// outside the environment's deploy windows ("window") or inside a recurring freeze
	// ("freeze_window").
	Exceptions []string `json:"exceptions,omitempty"`
	// Changes says what the deployment changed in its environment.
	Changes *Changes `json:"changes,omitempty"`
	// Status is where the deployment is: StatusRequested, StatusApplied, StatusVerified,
	// StatusFailed or StatusSuperseded. Deployments recorded before statuses existed have none.
	Status string `json:"status,omitempty"`
	// StatusHistory lists each status the deployment has had, oldest first.
	StatusHistory []StatusEntry `json:"status_history,omitempty"`
	// Leads is what the DORA lead time needs of the deployment, worked out when it was recorded;
	// nil in deployments recorded before it was (Metrics reads their releases and history). It is
	// the store's bookkeeping for Metrics, not part of the API's deployment (the ledger's record
	// names it "leads").
	Leads *Leads `json:"-"`
}

// Leads are the images a deployment ran for the first time in its environment that have a push
// time, each with its earliest one: an image is new to the environment if, for every service of
// the release that runs it, it was pushed after every image that service ever ran there (the
// state's Pushed). A rollback, or a redeploy of an older release, runs nothing new.
type Leads struct {
	Images []ImageLead `json:"images"`
}

// ImageLead is an image a deployment ran for the first time, and when it was pushed.
type ImageLead struct {
	URI      string `json:"uri"`
	PushedAt int64  `json:"pushed_at"`
}

// The statuses of a deployment. A deployment is requested when it is recorded, applied once every
// parameter it changes is written, then verified or failed, by a report of the consuming pipeline
// or by what runs on ECS; one replaced by the next deployment to its environment before either is
// superseded.
const (
	StatusRequested  = "requested"
	StatusApplied    = "applied"
	StatusVerified   = "verified"
	StatusFailed     = "failed"
	StatusSuperseded = "superseded"
)

// StatusEntry is one status a deployment had: when, set by whom, and why.
type StatusEntry struct {
	Status string `json:"status"`
	At     int64  `json:"at"`
	By     Person `json:"by"`
	Detail string `json:"detail,omitempty"`
}

// StatusOf returns d's status; a deployment recorded before statuses existed was applied.
func StatusOf(d Deployment) string {
	if d.Status == "" {
		return StatusApplied
	}
	return d.Status
}

// The kinds of deployment.
const (
	KindDeploy   = "deploy"
	KindPromote  = "promote"
	KindRollback = "rollback"
)

// Override records why, and by whom, a deployment passed the environment's locks and gates.
type Override struct {
	Reason string `json:"reason"`
	By     Person `json:"by"`
	// Gates names the gates that refused the deploy and the override passed (none if every
	// gate allowed it, or for a deployment recorded before gates were named).
	Gates []string `json:"gates,omitempty"`
}

// Changes is what a deployment changed: the services whose image it changed, the services the
// environment did not run before, the services the environment ran that the release does not
// have (their parameters are left as they are), and the parameters it wrote.
type Changes struct {
	Changed           []string `json:"changed"`
	Added             []string `json:"added"`
	Removed           []string `json:"removed"`
	ParametersWritten []string `json:"parameters_written"`
	// Ranges are the source ranges of the changed and added services whose source is known in
	// part, by service (docs/change-notes.md).
	Ranges map[string]SourceRange `json:"ranges,omitempty"`
}

// DeploymentRecord is a deployment together with the release it deployed, as listed per project.
type DeploymentRecord struct {
	Deployment
	ProjectID string `json:"project_id"`
	ReleaseID string `json:"release_id"`
}

// EnvironmentState is what is deployed in one environment of a project: the release, the images,
// and the bookkeeping that keeps the parameter store in step with it.
type EnvironmentState struct {
	ProjectID    string            `json:"project_id"`
	Environment  Environment       `json:"environment"`
	ReleaseID    string            `json:"release_id"`
	DeploymentID string            `json:"deployment_id"`
	DeployedAt   int64             `json:"deployed_at"`
	RequestedBy  Person            `json:"requested_by"`
	Description  string            `json:"description"`
	Images       map[string]string `json:"images"`
	// Sources and PushedAt are the deployed release's, for the services the environment runs:
	// where the next deploy's change notes start.
	Sources  map[string]ImageSource `json:"sources,omitempty"`
	PushedAt map[string]int64       `json:"pushed_at,omitempty"`
	// Pending lists services whose parameters the deployment has still to write. It is empty once
	// the deployment has settled; a later deployment writes these again.
	Pending []string `json:"pending,omitempty"`
	// LockedUntil (Unix seconds) is set while a deployment writes parameters, so that two
	// deployments to one environment cannot interleave their writes. A lock left by a deployment
	// that died expires, and the next deployment takes the environment over.
	LockedUntil int64 `json:"locked_until,omitempty"`
	// Lock, if set, is a person's lock of the environment: deploys are refused until it is
	// removed or expires. A state that holds only a lock has no release yet.
	Lock *EnvironmentLock `json:"lock,omitempty"`
	// Freezes are the change windows that cover this environment (see Freeze).
	Freezes []Freeze `json:"freezes,omitempty"`
	// Requests are the idempotency keys of the deploys recorded here in the last KeyTTL.
	Requests []RequestKey `json:"requests,omitempty"`
	// Status is the status of the current deployment (empty: recorded before statuses existed).
	Status string `json:"status,omitempty"`
	// Pushed is, per service, the newest push time of an image it ran here, if PushedTracked:
	// which a deploy needs to tell the images it runs for the first time (Deployment.Leads).
	// States written before it was kept have neither; their next deploy starts it. Bookkeeping
	// of the store, not part of the API's state (the ledger's record names them).
	Pushed        map[string]int64 `json:"-"`
	PushedTracked bool             `json:"-"`
	// Version counts the writes of this state (1 for the first); every write is conditioned on the
	// version it replaces.
	Version int64 `json:"version"`
}

// EnvironmentWrite is one conditional write of an environment's state: State replaces the
// stored state if that is still at version Expect, and State.Version is Expect+1.
type EnvironmentWrite struct {
	State  EnvironmentState
	Expect int64
	// Deployment, if set, is recorded in the same atomic write: listed for the project, the
	// environment and its release (whose last_date_deployed becomes its time, and whose
	// deployment_count grows by one).
	Deployment *DeploymentRecord
	// Statuses are status changes of deployments recorded before, made in the same atomic write:
	// each sets the deployment's status and appends to its status history.
	Statuses []StatusUpdate
	// Events are the events of this write's changes, appended to the project's log in the same
	// atomic write.
	Events []Event
	// Retry is set when an earlier attempt of the same request waited for the environment or
	// lost the race to write it (others are likely writing it too); it names the request across
	// its attempts. Empty on a first attempt.
	Retry string
}

// StatusUpdate changes a recorded deployment's status.
type StatusUpdate struct {
	ProjectID    string
	ReleaseID    string
	Environment  string
	DeploymentID string
	Entry        StatusEntry
}

// DeploymentFilter narrows a list of a project's deployments to one environment, one release, or
// both; the zero filter lists them all.
type DeploymentFilter struct {
	Environment string
	Release     string
}

// Next returns the write that replaces st (nil: no state yet) with next.
func (st *EnvironmentState) Next(next EnvironmentState) EnvironmentWrite {
	var expect int64
	if st != nil {
		expect = st.Version
	}
	next.Version = expect + 1
	return EnvironmentWrite{State: next, Expect: expect}
}

// DeployContext is what a deploy reads before it writes anything.
type DeployContext struct {
	Project Project
	Release Release
	// Current is the environment's state, nil if nothing was ever deployed there.
	Current *EnvironmentState
}

// ReleaseContext is what creating a release from a registration reads before it writes: the
// project as stored (a store that writes a large registration in several steps finishes an
// interrupted one when it reads it here) and the newest push of each of the registration's
// services.
type ReleaseContext struct {
	Project Project
	// Pushes is the newest push recorded for each service asked for that has one, by service id.
	Pushes map[string]ImageRecord
	// Key is the record of the idempotency key asked for, nil if none was asked for or recorded.
	Key *ReleaseKey
}

// ImageRecord is the newest image pushed for a service, with the time of its push. The time
// orders pushes that EventBridge delivers out of order.
type ImageRecord struct {
	ProjectID string `json:"project_id"`
	ServiceID string `json:"service_id"`
	URI       string `json:"uri"`
	PushedAt  int64  `json:"pushed_at"`
	// Source is what the push said of the image's source, nil if nothing.
	Source *ImageSource `json:"source,omitempty"`
}

// ImagePush is an ECR "ECR Image Action" event, in the domain's terms.
type ImagePush struct {
	Account    string
	Region     string
	Repository string
	Digest     string
	Tag        string
	Action     string // PUSH or DELETE
	Result     string // SUCCESS or FAILURE
	Time       time.Time
}

// ImageURI is the digest-pinned URI of the pushed image.
func (p ImagePush) ImageURI() string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", p.Account, p.Region, p.Repository, p.Digest)
}

// ParameterName is the SSM parameter that holds a service's image under a label.
func ParameterName(projectID, label, serviceID string) string {
	return ParameterPath(projectID, label) + serviceID
}

// ParameterPath is the SSM path under which a label's images live (it ends in "/").
func ParameterPath(projectID, label string) string {
	return "/" + projectID + "/images/" + label + "/"
}

// PageRequest asks for one page of a list.
type PageRequest struct {
	Limit  int
	Cursor string
}

// DefaultPageLimit and MaxPageLimit bound every list.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

func (p PageRequest) normalize() (PageRequest, error) {
	switch {
	case p.Limit == 0:
		p.Limit = DefaultPageLimit
	case p.Limit < 0 || p.Limit > MaxPageLimit:
		return p, Errorf(Invalid, "limit: %d is not between 1 and %d", p.Limit, MaxPageLimit)
	}
	if len(p.Cursor) > 2048 {
		return p, Errorf(Invalid, "cursor: is not a cursor this service returned")
	}
	return p, nil
}

// Page is one page of a list; NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}
