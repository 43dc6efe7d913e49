package ledger

import (
	"encoding/base64"
	"encoding/json"
	"path"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The state table's keys. Ids cannot contain "#" (they are letters, digits, ".", "_", "-"; ECR
// repository names add "/"), so "#" separates the parts of a key:
//
//	pk                    sk                                    record
//	projects              {project}                             projectRecord
//	repo#{repository}     {project}                             repoRecord
//	repositories          {repository}                          repoVersionRecord
//	ecs#{cluster}         {ECS service}                         runtime index: p/{project} attributes
//	ecsindex              complete                              runtime index covers every project
//	project#{project}     latest                                pointerRecord
//	project#{project}     push#{service}                        pushRecord
//	project#{project}     seen#{service}#{image URI}            seenRecord (every image recorded)
//	project#{project}     env#{environment}                     stateRecord
//	project#{project}     deploy#{deployment}                   deploymentRecord (the project's list)
//	project#{project}     envdeploy#{environment}#{deployment}  deploymentRecord (the environment's)
//	project#{project}     reldeploy#{release}#{deployment}      deploymentRecord (the release's)
//	project#{project}     relkey#{key}                          keyRecord
//	project#{project}     turn#{environment}                    turnRecord
//	project#{project}     approval#{env}#{release}#{person hex}  approvalRecord (approvals.go)
//	project#{project}     event#{event}                         eventRecord
//	project#{project}     etype#{type}#{event}                  eventRecord (the type's list)
//
// The releases table holds releaseRecords keyed by release id; ReleasesIndex lists a project's.
// The params table (drivers that hold parameters) keys a parameter by its path and its last
// segment, so that a path's parameters are one partition.
const (
	projectsPK        = "projects"
	projectPrefix     = "project#"
	repoPrefix        = "repo#"
	repositoriesPK    = "repositories"
	pushPrefix        = "push#"
	seenPrefix        = "seen#"
	envPrefix         = "env#"
	deployPrefix      = "deploy#"
	envDeployPrefix   = "envdeploy#"
	relDeployPrefix   = "reldeploy#"
	relKeyPrefix      = "relkey#"
	turnPrefix        = "turn#"
	latestSK          = "latest"
	runtimePrefix     = "ecs#"
	runtimeCompletePK = "ecsindex"
	runtimeAttrPrefix = "p/"
	eventTypePrefix   = "etype#"
	// EventPrefix starts the sort key of every event item and of nothing else: the DynamoDB
	// stream's filter selects event items by it.
	EventPrefix = "event#"
)

func projectKey(id string) Key { return Key{Table: State, PK: projectsPK, SK: id} }

func repoKey(repository, projectID string) Key {
	return Key{Table: State, PK: repoPrefix + repository, SK: projectID}
}

// runtimeKey is the runtime index's item of an ECS service: an attribute per project (named by
// runtimeAttr) that lists the environments running it. A cluster or service name has no "#".
func runtimeKey(rs shiplog.RuntimeService) Key {
	return Key{Table: State, PK: runtimePrefix + rs.Cluster, SK: rs.Service}
}

// runtimeCompleteKey is the item that says the runtime index covers every registered project.
func runtimeCompleteKey() Key { return Key{Table: State, PK: runtimeCompletePK, SK: "complete"} }

// runtimeAttr is the attribute of a project in the runtime index: a project id may hold ".",
// which the drivers read as a nested name, and never "/".
func runtimeAttr(projectID string) string {
	return runtimeAttrPrefix + strings.ReplaceAll(projectID, ".", "/")
}

func runtimeProject(attr string) (string, bool) {
	id, ok := strings.CutPrefix(attr, runtimeAttrPrefix)
	return strings.ReplaceAll(id, "/", "."), ok && id != ""
}

func repoVersionKey(repository string) Key {
	return Key{Table: State, PK: repositoriesPK, SK: repository}
}

func inProject(projectID, sk string) Key {
	return Key{Table: State, PK: projectPrefix + projectID, SK: sk}
}

func latestKey(projectID string) Key    { return inProject(projectID, latestSK) }
func pushKey(projectID, svc string) Key { return inProject(projectID, pushPrefix+svc) }
func seenKey(projectID, svc, uri string) Key {
	return inProject(projectID, seenPrefix+svc+"#"+uri)
}
func envKey(projectID, env string) Key    { return inProject(projectID, envPrefix+env) }
func turnKey(projectID, env string) Key   { return inProject(projectID, turnPrefix+env) }
func relKeyKey(projectID, key string) Key { return inProject(projectID, relKeyPrefix+key) }
func eventKey(projectID, id string) Key   { return inProject(projectID, EventPrefix+id) }
func deployKey(projectID, id string) Key  { return inProject(projectID, deployPrefix+id) }

// eventTypeKey is the key of an event's copy in its type's list (a prefix that is not
// EventPrefix, so that the stream does not publish the copy).
func eventTypeKey(projectID, typ, id string) Key {
	return inProject(projectID, eventTypePrefix+typ+"#"+id)
}
func releaseKey(id string) Key { return Key{Table: Releases, PK: id} }
func envDeployKey(projectID, env, id string) Key {
	return inProject(projectID, envDeployPrefix+env+"#"+id)
}
func relDeployKey(projectID, release, id string) Key {
	return inProject(projectID, relDeployPrefix+release+"#"+id)
}

// paramKey is a parameter's key: its path (up to its last "/") and its name's last segment.
func paramKey(name string) Key {
	dir, base := path.Split(name)
	return Key{Table: Params, PK: dir, SK: base}
}

// A cursor is the key of the last item of a page, as base64url JSON of its key attributes (the
// names the first DynamoDB store used, so its cursors still work). It is not signed, so decoding
// checks that it names a place in the list being read and nothing else.
type cursor struct {
	PK        string `json:"pk,omitempty"`
	SK        string `json:"sk,omitempty"`
	ProjectID string `json:"project_id,omitempty"`
	ReleaseID string `json:"release_id,omitempty"`
}

var errBadCursor = shiplog.Errorf(shiplog.Invalid, "cursor: is not a cursor this service returned")

func encodeCursor(q Query, k Key) string {
	c := cursor{PK: k.PK, SK: k.SK}
	if q.Index != "" {
		c = cursor{ProjectID: q.PK, ReleaseID: k.PK}
	}
	b, _ := json.Marshal(c) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the key a cursor of q's list names (nil for ""): Invalid unless it lies
// in q's partition, under prefix, with an id after it.
func decodeCursor(q Query, prefix, s string) (*Key, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	var c cursor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, errBadCursor
	}
	if q.Index != "" {
		if c.ProjectID != q.PK || c.PK != "" || c.SK != "" || !idAfter(c.ReleaseID, "") {
			return nil, errBadCursor
		}
		return &Key{Table: q.Table, PK: c.ReleaseID}, nil
	}
	if c.PK != q.PK || c.ProjectID != "" || c.ReleaseID != "" || !idAfter(c.SK, prefix) || len(c.SK) > 1024 {
		return nil, errBadCursor
	}
	return &Key{Table: q.Table, PK: c.PK, SK: c.SK}, nil
}

// idAfter reports whether s is prefix followed by a non-empty id with no "#" in it.
func idAfter(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	return ok && rest != "" && !strings.Contains(rest, "#") && len(rest) <= 1024
}
