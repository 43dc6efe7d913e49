package ledger

import (
	"cmp"
	"encoding/json"
	"sort"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The stored shapes of the ledger's records. Their json tags are the attribute names of the
// items (in DynamoDB, and in the documents of the embedded drivers), apart from the domain's
// JSON, which is the API's: a record's own attribute is renamed here, an API field in
// pkg/shiplog. Where a record has the same fields as its domain type, it is converted with a Go
// conversion, so that a field added to one and not the other stops the build instead of being
// dropped (stateRecord is copied field by field, its push times being one attribute;
// TestStateRecordKeepsEveryField holds it to EnvironmentState instead). The values nested in records (Person, Environment, StatusEntry, Freeze, ...) are still
// the domain's types with the domain's JSON names: renaming one of their fields in the API would
// rename it in storage too (pkg/awsdynamo's item-shape tests and the upgrade fixtures catch it);
// give that value a record type here first.
//
// The names are those the first DynamoDB store wrote, so that its tables are read as they are.

// Attribute names the ledger's conditions and updates name.
const (
	attrReleaseID  = "release_id"
	attrProjectID  = "project_id"
	attrVersion    = "version"
	attrPushedAt   = "pushed_at"
	attrLastDeploy = "last_date_deployed"
	attrCount      = "deployment_count"
	attrVerifiedIn = "verified_in"
	attrStatus     = "status"
	attrHistory    = "status_history"
	attrMapped     = "mapped_repositories"
	attrUnfinished = "unfinished"
	attrType       = "type"
	attrAt         = "at"
	attrUntil      = "until"
	attrClaimant   = "claimant"
	attrEnvID      = "environment.id"
	attrEnvIDs     = "environment_ids"
	attrRepository = "repository"
	// AttrExpiresAt is the attribute of an idempotency key after which (Unix seconds) it is
	// forgotten: the state table's TTL attribute.
	AttrExpiresAt = "expires_at"
)

// releaseRecord is a release in the releases table. Deployments is empty in releases created since
// deployments became items of their own; older ones hold theirs.
type releaseRecord struct {
	ID               string                         `json:"release_id"`
	ProjectID        string                         `json:"project_id"`
	ProjectName      string                         `json:"project_name"`
	CreatedAt        int64                          `json:"created_at"`
	LastDateDeployed int64                          `json:"last_date_deployed,omitempty"`
	Manifest         string                         `json:"release_manifest"`
	RequestedBy      shiplog.Person                 `json:"requested_by"`
	Images           map[string]string              `json:"images"`
	Label            string                         `json:"label"`
	Description      string                         `json:"description"`
	PushedAt         map[string]int64               `json:"pushed_at,omitempty"`
	Sources          map[string]shiplog.ImageSource `json:"sources,omitempty"`
	Deployments      []shiplog.Deployment           `json:"deployments"`
	DeploymentCount  int64                          `json:"deployment_count"`
	VerifiedIn       []string                       `json:"verified_in,omitempty,stringset"`
}

func newReleaseRecord(r shiplog.Release) releaseRecord {
	rec := releaseRecord(r)
	if rec.Images == nil {
		rec.Images = map[string]string{}
	}
	if rec.Deployments == nil {
		rec.Deployments = []shiplog.Deployment{}
	}
	return rec
}

func (rec releaseRecord) release() shiplog.Release {
	r := shiplog.Release(rec)
	if r.Images == nil {
		r.Images = map[string]string{}
	}
	if r.Deployments == nil {
		r.Deployments = []shiplog.Deployment{}
	}
	sort.Strings(r.VerifiedIn) // a set has no order
	return r
}

// deploymentRecord is a deployment, in each of its three listing items.
type deploymentRecord struct {
	deploymentFields
	ProjectID string `json:"project_id"`
	ReleaseID string `json:"release_id"`
}

// deploymentFields are a deployment's own attributes.
type deploymentFields struct {
	ID            string                `json:"deployment_id"`
	Environment   shiplog.Environment   `json:"environment"`
	CreatedAt     int64                 `json:"created_at"`
	RequestedBy   shiplog.Person        `json:"requested_by"`
	Description   string                `json:"description"`
	Kind          string                `json:"kind,omitempty"`
	PromotedFrom  string                `json:"promoted_from,omitempty"`
	Reverts       string                `json:"reverts,omitempty"`
	Override      *shiplog.Override     `json:"override,omitempty"`
	Exceptions    []string              `json:"exceptions,omitempty"`
	Changes       *shiplog.Changes      `json:"changes,omitempty"`
	Status        string                `json:"status,omitempty"`
	StatusHistory []shiplog.StatusEntry `json:"status_history,omitempty"`
	Leads         *shiplog.Leads        `json:"leads,omitempty"`
}

func newDeploymentRecord(d shiplog.DeploymentRecord) deploymentRecord {
	return deploymentRecord{deploymentFields(d.Deployment), d.ProjectID, d.ReleaseID}
}

func (rec deploymentRecord) deployment() shiplog.DeploymentRecord {
	return shiplog.DeploymentRecord{Deployment: shiplog.Deployment(rec.deploymentFields), ProjectID: rec.ProjectID, ReleaseID: rec.ReleaseID}
}

// stateRecord is an environment's state. Its push times are one attribute, push_times: per
// service, the push time of the image it runs (at, the change notes' and the API's PushedAt) and,
// where the environment is tracked for the metrics (pushed_tracked) and it differs, the newest
// push time of any image it ran here (newest, the state's Pushed; a rollback leaves it above at).
// States written before push_times kept them twice, as pushed_at and pushed; they are read as
// they were, and written as push_times by their next write.
type stateRecord struct {
	ProjectID     string                         `json:"project_id"`
	Environment   shiplog.Environment            `json:"environment"`
	ReleaseID     string                         `json:"release_id"`
	DeploymentID  string                         `json:"deployment_id"`
	DeployedAt    int64                          `json:"deployed_at"`
	RequestedBy   shiplog.Person                 `json:"requested_by"`
	Description   string                         `json:"description"`
	Images        map[string]string              `json:"images"`
	Sources       map[string]shiplog.ImageSource `json:"sources,omitempty"`
	PushTimes     map[string]pushTimes           `json:"push_times,omitempty"`
	Pending       []string                       `json:"pending,omitempty"`
	LockedUntil   int64                          `json:"locked_until,omitempty"`
	Lock          *shiplog.EnvironmentLock       `json:"lock,omitempty"`
	Freezes       []shiplog.Freeze               `json:"freezes,omitempty"`
	Requests      []shiplog.RequestKey           `json:"requests,omitempty"`
	Status        string                         `json:"status,omitempty"`
	PushedTracked bool                           `json:"pushed_tracked,omitempty"`
	Version       int64                          `json:"version"`
	// Read from states written before push_times, never written.
	OldPushedAt map[string]int64 `json:"pushed_at,omitempty"`
	OldPushed   map[string]int64 `json:"pushed,omitempty"`
}

// pushTimes is one service's push times in a state: at, of the image it runs (0: not known);
// newest, of the newest image it ran here, when that is not at (0: at).
type pushTimes struct {
	At     int64 `json:"at,omitempty"`
	Newest int64 `json:"newest,omitempty"`
}

func newStateRecord(st shiplog.EnvironmentState) stateRecord {
	rec := stateRecord{ProjectID: st.ProjectID, Environment: st.Environment, ReleaseID: st.ReleaseID, DeploymentID: st.DeploymentID,
		DeployedAt: st.DeployedAt, RequestedBy: st.RequestedBy, Description: st.Description, Images: st.Images, Sources: st.Sources,
		Pending: st.Pending, LockedUntil: st.LockedUntil, Lock: st.Lock, Freezes: st.Freezes, Requests: st.Requests,
		Status: st.Status, PushedTracked: st.PushedTracked, Version: st.Version}
	if rec.Images == nil {
		rec.Images = map[string]string{}
	}
	if len(rec.Pending) == 0 {
		// A settled environment has no pending attribute at all, rather than an empty one.
		rec.Pending = nil
	}
	times := map[string]pushTimes{}
	for svc, at := range st.PushedAt {
		times[svc] = pushTimes{At: at}
	}
	if st.PushedTracked {
		for svc, newest := range st.Pushed {
			if t := times[svc]; t.At != newest {
				t.Newest = newest
				times[svc] = t
			}
		}
	}
	if len(times) > 0 {
		rec.PushTimes = times
	}
	return rec
}

func (rec stateRecord) state() shiplog.EnvironmentState {
	st := shiplog.EnvironmentState{ProjectID: rec.ProjectID, Environment: rec.Environment, ReleaseID: rec.ReleaseID, DeploymentID: rec.DeploymentID,
		DeployedAt: rec.DeployedAt, RequestedBy: rec.RequestedBy, Description: rec.Description, Images: rec.Images, Sources: rec.Sources,
		Pending: rec.Pending, LockedUntil: rec.LockedUntil, Lock: rec.Lock, Freezes: rec.Freezes, Requests: rec.Requests,
		Status: rec.Status, PushedTracked: rec.PushedTracked, Version: rec.Version}
	if st.Images == nil {
		st.Images = map[string]string{}
	}
	switch {
	case rec.PushTimes != nil:
		for svc, t := range rec.PushTimes {
			if t.At != 0 {
				if st.PushedAt == nil {
					st.PushedAt = map[string]int64{}
				}
				st.PushedAt[svc] = t.At
			}
			if rec.PushedTracked {
				if st.Pushed == nil {
					st.Pushed = map[string]int64{}
				}
				st.Pushed[svc] = cmp.Or(t.Newest, t.At)
			}
		}
	default: // written before push_times
		st.PushedAt = rec.OldPushedAt
		if rec.PushedTracked {
			st.Pushed = rec.OldPushed
		}
	}
	return st
}

// pushRecord is the newest image pushed for a service.
type pushRecord struct {
	ProjectID string               `json:"project_id"`
	ServiceID string               `json:"service_id"`
	URI       string               `json:"uri"`
	PushedAt  int64                `json:"pushed_at"`
	Source    *shiplog.ImageSource `json:"source,omitempty"`
}

func (rec pushRecord) image() shiplog.ImageRecord { return shiplog.ImageRecord(rec) }

// seenRecord says an image was recorded for a service (when it was first pushed).
type seenRecord struct {
	PushedAt int64 `json:"pushed_at"`
}

// keyRecord is an idempotency key of create-release; ExpiresAt is the TTL attribute.
type keyRecord struct {
	ProjectID string `json:"project_id"`
	Key       string `json:"key"`
	Hash      string `json:"hash"`
	ReleaseID string `json:"release_id"`
	At        int64  `json:"at"`
	ExpiresAt int64  `json:"expires_at"`
}

func newKeyRecord(k shiplog.ReleaseKey) keyRecord {
	return keyRecord{ProjectID: k.ProjectID, Key: k.Key, Hash: k.Hash, ReleaseID: k.ReleaseID, At: k.At, ExpiresAt: k.ExpiresAt()}
}

func (rec keyRecord) key() shiplog.ReleaseKey {
	return shiplog.ReleaseKey{ProjectID: rec.ProjectID, Key: rec.Key, Hash: rec.Hash, ReleaseID: rec.ReleaseID, At: rec.At}
}

// eventRecord is an entry of a project's event log.
type eventRecord struct {
	ID           string            `json:"event_id"`
	Type         string            `json:"type"`
	At           int64             `json:"at"`
	By           shiplog.Person    `json:"by"`
	ProjectID    string            `json:"project_id"`
	Environment  string            `json:"environment,omitempty"`
	ReleaseID    string            `json:"release_id,omitempty"`
	DeploymentID string            `json:"deployment_id,omitempty"`
	Service      string            `json:"service,omitempty"`
	Detail       map[string]string `json:"detail,omitempty"`
}

func (rec eventRecord) event() shiplog.Event { return shiplog.Event(rec) }

// DecodeEvent decodes an event item (a stream reader's, say) with decode.
func DecodeEvent(decode func(v any) error) (shiplog.Event, error) {
	var rec eventRecord
	if err := decode(&rec); err != nil {
		return shiplog.Event{}, err
	}
	return shiplog.Event(rec), nil
}

// projectRecord is a registered project. Version counts its registrations (each conditioned on
// the one it replaces); MappedRepositories is every repository that may have a mapping item for
// it (never fewer); Unfinished marks a registration written in several steps until its last.
// EnvironmentIDs are its environments' ids as a set, which a deployment's write requires to hold
// its environment (registrations stored before it was kept have none: they are not checked).
// EventsTyped says every event of the project has its copy in its type's list: set on a
// project's first registration since the lists exist (and kept), absent on one registered
// before, whose older events only a filtered read of the log finds.
type projectRecord struct {
	ID                 string                    `json:"project_id"`
	Name               string                    `json:"name"`
	Environments       []shiplog.Environment     `json:"environments"`
	EnvironmentIDs     []string                  `json:"environment_ids,omitempty,stringset"`
	ImageRepositories  []shiplog.ImageRepository `json:"image_repositories"`
	TagDeployedImages  bool                      `json:"tag_deployed_images"`
	Manifest           string                    `json:"manifest"`
	Version            int64                     `json:"version"`
	MappedRepositories []string                  `json:"mapped_repositories"`
	Unfinished         bool                      `json:"unfinished,omitempty"`
	EventsTyped        bool                      `json:"events_typed,omitempty"`
}

func newProjectRecord(p shiplog.Project, version int64, mapped []string, unfinished, typed bool) projectRecord {
	rec := projectRecord{
		ID: p.ID, Name: p.Name, Environments: p.Environments, ImageRepositories: p.ImageRepositories,
		TagDeployedImages: p.TagDeployedImages, Manifest: string(p.Manifest), Version: version,
		MappedRepositories: mapped, Unfinished: unfinished, EventsTyped: typed,
	}
	if rec.Environments == nil {
		rec.Environments = []shiplog.Environment{}
	}
	rec.EnvironmentIDs = sortedUnique(p.EnvironmentIDs())
	if rec.ImageRepositories == nil {
		rec.ImageRepositories = []shiplog.ImageRepository{}
	}
	if rec.MappedRepositories == nil {
		rec.MappedRepositories = []string{}
	}
	return rec
}

func (rec projectRecord) project() shiplog.Project {
	p := shiplog.Project{
		ID: rec.ID, Name: rec.Name, Environments: rec.Environments, ImageRepositories: rec.ImageRepositories,
		TagDeployedImages: rec.TagDeployedImages,
	}
	if rec.Manifest != "" {
		p.Manifest = json.RawMessage(rec.Manifest)
	}
	return p
}

// repoRecord says which services of one project a repository feeds.
type repoRecord struct {
	Repository string   `json:"repository"`
	ProjectID  string   `json:"project_id"`
	Services   []string `json:"services"`
}

// repoVersionRecord counts the registrations that made a repository feed more services. A
// registration that grows them counts the services the repository feeds after this version was
// read, and writes the next version in the same write as its growth, so that two registrations
// that each fit the limit cannot together pass it.
type repoVersionRecord struct {
	Repository string `json:"repository"`
	Version    int64  `json:"version"`
}

// pointerRecord names a project's newest release.
type pointerRecord struct {
	ReleaseID string `json:"release_id"`
}

// turnRecord is the last claim of the turn to record a deployment over an environment's version.
type turnRecord struct {
	Version      int64  `json:"version"`
	DeploymentID string `json:"deployment_id"`
	Claimant     string `json:"claimant"`
	Until        int64  `json:"until"` // Unix milliseconds
}

// paramRecord is a parameter's value.
type paramRecord struct {
	Value string `json:"value"`
}
