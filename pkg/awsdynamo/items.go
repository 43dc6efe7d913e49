package awsdynamo

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/awsdynamo/eventitems"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Attribute names that code refers to. The domain types' JSON names are the attribute names of
// their items, so the rest come from their struct tags.
const (
	attrReleaseID   = "release_id"
	attrProjectID   = "project_id"
	attrPK          = "pk"
	attrSK          = "sk"
	attrDeployments = "deployments"
	attrLastDeploy  = "last_date_deployed"
	attrDeployID    = "deployment_id"
	attrPending     = "pending"
	attrLocked      = "locked_until"
	attrPushedAt    = "pushed_at"
	attrURI         = "uri"
	attrVersion     = "version"
	attrMapped      = "mapped_repositories"
	attrUnfinished  = "unfinished"
	attrCount       = "deployment_count"
	attrVerifiedIn  = "verified_in"
	attrStatus      = "status"
	attrHistory     = "status_history"
	attrType        = "type"
	attrAt          = "at"
	attrUntil       = "until"
	attrClaimant    = "claimant"
	// AttrExpiresAt is the state table's TTL attribute (Unix seconds): DynamoDB deletes an item
	// some time after it passes. Only idempotency keys carry it.
	AttrExpiresAt = "expires_at"
)

// Partition keys and sort-key prefixes of the state table (see the package comment).
const (
	projectsPK      = "projects"
	projectPrefix   = "project#"
	repoPrefix      = "repo#"
	pushPrefix      = "push#"
	envPrefix       = "env#"
	deployPrefix    = "deploy#"
	envDeployPrefix = "envdeploy#"
	relDeployPrefix = "reldeploy#"
	// EventPrefix starts the sort key of every event item, and of nothing else: the publisher's
	// stream filter selects event items by it.
	EventPrefix  = eventitems.Prefix
	latestSK     = "latest"
	relKeyPrefix = "relkey#"
	turnPrefix   = "turn#"
)

type item = map[string]types.AttributeValue

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

func stateKey(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

func projectKey(projectID string) item { return stateKey(projectsPK, projectID) }

func repoKey(repository, projectID string) item {
	return stateKey(repoPrefix+repository, projectID)
}

func pushKey(projectID, serviceID string) item {
	return stateKey(projectPrefix+projectID, pushPrefix+serviceID)
}

func envKey(projectID, environmentID string) item {
	return stateKey(projectPrefix+projectID, envPrefix+environmentID)
}

// turnKey is the item a deployment's record claims before its transaction (see claimTurn).
func turnKey(projectID, environmentID string) item {
	return stateKey(projectPrefix+projectID, turnPrefix+environmentID)
}

func deploySK(deploymentID string) string { return deployPrefix + deploymentID }

func envDeploySK(environmentID, deploymentID string) string {
	return envDeployPrefix + environmentID + "#" + deploymentID
}

func relDeploySK(releaseID, deploymentID string) string {
	return relDeployPrefix + releaseID + "#" + deploymentID
}

// latestKey is the item that names a project's newest release.
func latestKey(projectID string) item { return stateKey(projectPrefix+projectID, latestSK) }

func releaseKey(releaseID string) item { return item{attrReleaseID: str(releaseID)} }

func releaseKeyKey(projectID, key string) item {
	return stateKey(projectPrefix+projectID, relKeyPrefix+key)
}

// releaseKeyItem encodes an idempotency key of create-release as its item in the state table:
// pk project#{project}, sk relkey#{key}, its attributes by their JSON names, and expires_at.
func releaseKeyItem(k shiplog.ReleaseKey) (item, error) {
	m, err := marshal(k)
	if err != nil {
		return nil, err
	}
	for a, v := range releaseKeyKey(k.ProjectID, k.Key) {
		m[a] = v
	}
	m[AttrExpiresAt] = num(k.ExpiresAt())
	return m, nil
}

func useJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

func decodeJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

func marshal(v any) (item, error) {
	m, err := attributevalue.MarshalMapWithOptions(v, useJSONTags)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return m, nil
}

func unmarshal(m item, v any) error {
	if err := attributevalue.UnmarshalMapWithOptions(m, v, decodeJSONTags); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

// releaseItem encodes a release. deployments is always a list and images always a map, so that
// list_append and readers never meet a NULL.
func releaseItem(r shiplog.Release) (item, error) {
	if r.Images == nil {
		r.Images = map[string]string{}
	}
	if r.Deployments == nil {
		r.Deployments = []shiplog.Deployment{}
	}
	return marshal(r)
}

func decodeRelease(m item) (shiplog.Release, error) {
	var r shiplog.Release
	if err := unmarshal(m, &r); err != nil {
		return r, err
	}
	if r.Images == nil {
		r.Images = map[string]string{}
	}
	if r.Deployments == nil {
		r.Deployments = []shiplog.Deployment{}
	}
	return r, nil
}

func statusEntry(e shiplog.StatusEntry) (types.AttributeValue, error) {
	l, err := attributevalue.MarshalListWithOptions([]shiplog.StatusEntry{e}, useJSONTags)
	if err != nil {
		return nil, fmt.Errorf("encode status entry: %w", err)
	}
	return &types.AttributeValueMemberL{Value: l}, nil
}

func envStateItem(st shiplog.EnvironmentState) (item, error) {
	if st.Images == nil {
		st.Images = map[string]string{}
	}
	if len(st.Pending) == 0 {
		// omitempty drops only a nil slice: an empty one would be stored as pending = [],
		// where the item's shape says a settled environment has no pending.
		st.Pending = nil
	}
	m, err := marshal(st)
	if err != nil {
		return nil, err
	}
	for k, v := range envKey(st.ProjectID, st.Environment.ID) {
		m[k] = v
	}
	return m, nil
}

func decodeEnvState(m item) (shiplog.EnvironmentState, error) {
	var st shiplog.EnvironmentState
	if err := unmarshal(m, &st); err != nil {
		return st, err
	}
	if st.Images == nil {
		st.Images = map[string]string{}
	}
	return st, nil
}

func deploymentItem(rec shiplog.DeploymentRecord, sk string) (item, error) {
	m, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	m[attrPK] = str(projectPrefix + rec.ProjectID)
	m[attrSK] = str(sk)
	return m, nil
}

func decodeDeployment(m item) (shiplog.DeploymentRecord, error) {
	var rec shiplog.DeploymentRecord
	err := unmarshal(m, &rec)
	return rec, err
}

func pushItem(rec shiplog.ImageRecord) (item, error) {
	m, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	for k, v := range pushKey(rec.ProjectID, rec.ServiceID) {
		m[k] = v
	}
	return m, nil
}

// eventItem encodes an event as its item in the state table: pk project#{project}, sk
// event#{event id}, and the event's attributes by their JSON names.
func eventItem(ev shiplog.Event) (item, error) {
	if ev.ID == "" || ev.ProjectID == "" {
		return nil, fmt.Errorf("event %q of project %q: an event needs an id and a project", ev.ID, ev.ProjectID)
	}
	m, err := marshal(ev)
	if err != nil {
		return nil, err
	}
	m[attrPK] = str(projectPrefix + ev.ProjectID)
	m[attrSK] = str(EventPrefix + ev.ID)
	return m, nil
}

// DecodeEvent decodes an event item of the state table (eventitems.Decode).
func DecodeEvent(m map[string]types.AttributeValue) (shiplog.Event, error) {
	return eventitems.Decode(m)
}

// projectRecord is the stored form of a registered project.
type projectRecord struct {
	ID                 string                    `json:"project_id"`
	Name               string                    `json:"name"`
	Environments       []shiplog.Environment     `json:"environments"`
	ImageRepositories  []shiplog.ImageRepository `json:"image_repositories"`
	TagDeployedImages  bool                      `json:"tag_deployed_images"`
	Manifest           string                    `json:"manifest"`
	Version            int64                     `json:"version"`
	MappedRepositories []string                  `json:"mapped_repositories"`
	// Unfinished marks a registration written in several transactions until its last step.
	Unfinished bool `json:"unfinished,omitempty"`
}

func projectItem(p shiplog.Project, version int64, mapped []string, unfinished bool) (item, error) {
	rec := projectRecord{
		Unfinished:         unfinished,
		ID:                 p.ID,
		Name:               p.Name,
		Environments:       p.Environments,
		ImageRepositories:  p.ImageRepositories,
		TagDeployedImages:  p.TagDeployedImages,
		Manifest:           string(p.Manifest),
		Version:            version,
		MappedRepositories: mapped,
	}
	if rec.Environments == nil {
		rec.Environments = []shiplog.Environment{}
	}
	if rec.ImageRepositories == nil {
		rec.ImageRepositories = []shiplog.ImageRepository{}
	}
	if rec.MappedRepositories == nil {
		rec.MappedRepositories = []string{}
	}
	m, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	for k, v := range projectKey(p.ID) {
		m[k] = v
	}
	return m, nil
}

func decodeProject(m item) (shiplog.Project, projectRecord, error) {
	var rec projectRecord
	if err := unmarshal(m, &rec); err != nil {
		return shiplog.Project{}, rec, err
	}
	p := shiplog.Project{
		ID:                rec.ID,
		Name:              rec.Name,
		Environments:      rec.Environments,
		ImageRepositories: rec.ImageRepositories,
		TagDeployedImages: rec.TagDeployedImages,
	}
	if rec.Manifest != "" {
		p.Manifest = json.RawMessage(rec.Manifest)
	}
	return p, rec, nil
}

// repoMapping is the stored form of "this repository feeds these services of this project".
type repoMapping struct {
	Repository string   `json:"repository"`
	ProjectID  string   `json:"project_id"`
	Services   []string `json:"services"`
}

// repoMappings returns the repo# items a project needs, by repository. A repository listed twice
// feeds the union of its services.
func repoMappings(p shiplog.Project) map[string]repoMapping {
	out := map[string]repoMapping{}
	for _, r := range p.ImageRepositories {
		m := out[r.ID]
		m.Repository, m.ProjectID = r.ID, p.ID
		m.Services = append(m.Services, r.Services...)
		out[r.ID] = m
	}
	for id, m := range out {
		m.Services = sortedUnique(m.Services)
		out[id] = m
	}
	return out
}

func repoMappingItem(m repoMapping) (item, error) {
	it, err := marshal(m)
	if err != nil {
		return nil, err
	}
	for k, v := range repoKey(m.Repository, m.ProjectID) {
		it[k] = v
	}
	return it, nil
}

func sortedUnique(ss []string) []string {
	out := make([]string, 0, len(ss))
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
