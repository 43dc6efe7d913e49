// Package manifest decodes .wellcome_project files, the JSON that declares each project's
// environments and which ECR repositories feed which of its services, into shiplog.Project
// values. It decodes strictly: a misspelt field is refused with its path and the field meant,
// since a setting silently ignored is a setting silently off. The fields other tools read from
// the same file (OtherToolsFields) are accepted and ignored. weco-deploy's role_arn,
// aws_region_name and account_id on a project are read: they say where its environments live
// (shiplog.Placement), as an environment's own fields do for it.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// entry is one project's entry of the file. Fields tagged strictjson:"ignored" are other tools'.
type entry struct {
	Name              *string           `json:"name"`
	Environments      []json.RawMessage `json:"environments"`       // each an environment
	ImageRepositories []json.RawMessage `json:"image_repositories"` // each a repository
	TagDeployedImages *bool             `json:"tag_deployed_images"`

	// Where every environment lives unless it says otherwise: weco-deploy's role_arn,
	// aws_region_name and account_id, and shiplog's region (aws_region_name's synonym) and
	// external_id.
	place
}

// place is where environments live (shiplog.Placement), as a project or an environment says it.
type place struct {
	AccountID     *string `json:"account_id"`
	Region        *string `json:"region"`
	AWSRegionName *string `json:"aws_region_name" synonym:"region"` // weco-deploy's name for region
	RoleARN       *string `json:"role_arn"`
	ExternalID    *string `json:"external_id"`
}

type environment struct {
	ID       *string           `json:"id"`
	Name     *string           `json:"name"`
	Requires []json.RawMessage `json:"requires"` // each an environment id or a requirement
	ECS      json.RawMessage   `json:"ecs"`      // an ecsTarget: where the services run on ECS
	// Windows are when deploys may go, FreezeWindows recurring freezes; each a window.
	Windows       []json.RawMessage `json:"windows"`
	FreezeWindows []json.RawMessage `json:"freeze_windows"`
	// Registry is where the environment pulls images from: "source" or "replica".
	Registry *string `json:"registry"`
	// Alarms are CloudWatch alarms (names or ARNs) that refuse deploys while in ALARM; Bake (a
	// duration) how long after a deployment is applied they fail it by entering ALARM.
	Alarms []string `json:"alarms"`
	Bake   *string  `json:"bake"`
	// MaxFindingSeverity refuses images whose ECR scan findings reach it; AllowUnscanned lets
	// images with no completed scan through.
	MaxFindingSeverity *string `json:"max_finding_severity"`
	AllowUnscanned     *bool   `json:"allow_unscanned"`
	// AutoPromote is true, false or {"from": "latest"}; AutoRollback true or false
	// (docs/automation.md).
	AutoPromote  json.RawMessage `json:"auto_promote"`
	AutoRollback *bool           `json:"auto_rollback"`
	// Approvals is how many people must approve a release before it is deployed here: an
	// approvals object.
	Approvals json.RawMessage `json:"approvals"`
	place
}

// autoPromote is auto_promote in its long form: where the first environment's candidate comes
// from ("latest": the newest build; "release": the newest release, as with true).
type autoPromote struct {
	From *string `json:"from"`
}

// approvals is an environment's approval rule (shiplog.Approvals): required, and optionally who
// may approve and whether the requester may.
type approvals struct {
	Required     *int     `json:"required"`
	From         []string `json:"from"`
	SelfApproval *bool    `json:"self_approval"`
}

// window is a recurring span of the week (shiplog.Window): every field is required.
type window struct {
	Days  *string `json:"days"`
	Start *string `json:"start"`
	End   *string `json:"end"`
	TZ    *string `json:"tz"`
}

// requirement is one entry of an environment's requires in its long form: the environment a
// release must have been verified in first, and how long it must have soaked there since, with
// no failure (a Go duration: "30m", "2h").
type requirement struct {
	Environment *string `json:"environment"`
	Soak        *string `json:"soak"`
}

// ecsTarget says where an environment's services run on ECS. A service Services leaves out runs
// as the ECS service named like its id (shiplog.ECSTarget).
type ecsTarget struct {
	Cluster  *string                    `json:"cluster"`
	Services map[string]json.RawMessage `json:"services"` // service id -> ECS service name
}

type repository struct {
	ID       *string           `json:"id"`
	Services []json.RawMessage `json:"services"` // each a service id or {"id": ...}

	// weco-deploy's settings: the repository's namespace and account.
	Namespace json.RawMessage `json:"namespace" strictjson:"ignored"`
	AccountID json.RawMessage `json:"account_id" strictjson:"ignored"`
}

type service struct {
	ID *string `json:"id"`
}

// OtherToolsFields lists, by where they appear, the fields that real .wellcome_project files carry
// for other tools, which shiplog accepts and ignores.
var OtherToolsFields = map[string][]string{
	"{project}.image_repositories[]": {"namespace", "account_id"},
}

// Parse decodes a whole .wellcome_project file: a JSON object from project id to project.
// Projects come back sorted by id, each valid (shiplog.Project.Validate). Errors are Invalid and
// name the offending field, e.g. `storage.environments[1].id: "a b" may contain only ...`; a file
// with several problems is refused with all of them (ProblemsOf lists each with its line and
// column), so that one run shows everything to fix.
func Parse(data []byte) ([]shiplog.Project, error) {
	c := newCollector(data, "")
	var top map[string]json.RawMessage
	if err := strictjson.Decode(data, &top, strictjson.Options{Name: "manifest"}); err != nil {
		c.add(err)
		return nil, c.err()
	}
	if len(top) == 0 {
		return nil, shiplog.Errorf(shiplog.Invalid, "manifest: declares no projects")
	}
	ids := make([]string, 0, len(top))
	for id := range top {
		ids = append(ids, id)
	}
	// In the order of the file, so that problems come in the order a person reads them.
	sort.Slice(ids, func(i, j int) bool { return c.index[ids[i]] < c.index[ids[j]] })
	projects := make([]shiplog.Project, 0, len(ids))
	for _, id := range ids {
		if p, ok := parseProject(id, top[id], c); ok {
			projects = append(projects, p)
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	sort.Slice(projects, func(i, j int) bool { return projects[i].ID < projects[j].ID })
	return projects, nil
}

// ParseProject decodes one project's entry of a .wellcome_project file. Like Parse, it reports
// every problem the entry has.
func ParseProject(id string, data []byte) (shiplog.Project, error) {
	c := newCollector(data, id)
	p, ok := parseProject(id, data, c)
	if !ok {
		return shiplog.Project{}, c.err()
	}
	return p, nil
}

// parseProject decodes an entry, adding its problems to c; ok is false if it has any.
func parseProject(id string, data []byte, c *collector) (shiplog.Project, bool) {
	before := len(c.probs)
	if err := shiplog.ValidateID("project id", id); err != nil {
		c.add(shiplog.Errorf(shiplog.Invalid, "%s", strings.Replace(shiplog.MessageOf(err), "project id", id+": project id", 1)))
		return shiplog.Project{}, false
	}
	var e entry
	if err := strictjson.Decode(data, &e, strictjson.Options{Name: id, Path: id}); err != nil {
		c.add(err)
		return shiplog.Project{}, false
	}
	p := shiplog.Project{ID: id}
	if e.Name != nil {
		p.Name = *e.Name
	}
	if e.TagDeployedImages != nil {
		p.TagDeployedImages = *e.TagDeployedImages
	}
	projectPlace, err := e.place.placement(id)
	if err != nil {
		c.add(err)
	}
	// Each element is decoded on its own so that errors name it by its index, and one wrong
	// element does not hide the next.
	for i, raw := range e.Environments {
		field := fmt.Sprintf("%s.environments[%d]", id, i)
		var re environment
		if err := strictjson.Decode(raw, &re, strictjson.Options{Name: field, Path: field}); err != nil {
			c.add(err)
			continue
		}
		if re.ID == nil {
			c.add(shiplog.Errorf(shiplog.Invalid, "%s.id: is required", field))
			continue
		}
		env := shiplog.Environment{ID: *re.ID, Name: *re.ID}
		for j, raw := range re.Requires {
			req, soak, err := parseRequirement(fmt.Sprintf("%s.requires[%d]", field, j), raw)
			if err != nil {
				c.add(err)
				continue
			}
			env.Requires = append(env.Requires, req)
			if soak > 0 {
				if env.Soak == nil {
					env.Soak = map[string]int64{}
				}
				env.Soak[req] = soak
			}
		}
		if re.Name != nil && *re.Name != "" {
			env.Name = *re.Name
		}
		var err error
		if env.Windows, err = parseWindows(field+".windows", re.Windows); err != nil {
			c.add(err)
		}
		if env.FreezeWindows, err = parseWindows(field+".freeze_windows", re.FreezeWindows); err != nil {
			c.add(err)
		}
		if env.Placement, err = re.place.placement(field); err != nil {
			c.add(err)
		}
		env.Placement = inherit(env.Placement, projectPlace)
		if re.Registry != nil {
			env.Registry = *re.Registry
		}
		env.Alarms = re.Alarms
		if re.Bake != nil {
			if env.Bake, err = parseDuration(field+".bake", *re.Bake, "bake"); err != nil {
				c.add(err)
			}
		}
		if re.MaxFindingSeverity != nil {
			env.MaxFindingSeverity = *re.MaxFindingSeverity
		}
		if re.AllowUnscanned != nil {
			env.AllowUnscanned = *re.AllowUnscanned
		}
		if re.AutoRollback != nil {
			env.AutoRollback = *re.AutoRollback
		}
		if env.AutoPromote, env.AutoPromoteFrom, err = parseAutoPromote(field+".auto_promote", re.AutoPromote); err != nil {
			c.add(err)
		}
		if len(re.Approvals) > 0 && !bytes.Equal(bytes.TrimSpace(re.Approvals), []byte("null")) {
			if env.Approvals, err = parseApprovals(field+".approvals", re.Approvals); err != nil {
				c.add(err)
			}
		}
		if len(re.ECS) > 0 && !bytes.Equal(bytes.TrimSpace(re.ECS), []byte("null")) {
			target, err := parseECS(field+".ecs", re.ECS)
			if err != nil {
				c.add(err)
				continue
			}
			env.ECS = target
		}
		p.Environments = append(p.Environments, env)
	}
	for i, raw := range e.ImageRepositories {
		field := fmt.Sprintf("%s.image_repositories[%d]", id, i)
		var rr repository
		if err := strictjson.Decode(raw, &rr, strictjson.Options{Name: field, Path: field}); err != nil {
			c.add(err)
			continue
		}
		if rr.ID == nil {
			c.add(shiplog.Errorf(shiplog.Invalid, "%s.id: is required", field))
			continue
		}
		repo := shiplog.ImageRepository{ID: *rr.ID}
		if rr.Services == nil {
			repo.Services = []string{path.Base(*rr.ID)}
		}
		for j, rs := range rr.Services {
			svc, err := parseService(fmt.Sprintf("%s.services[%d]", field, j), rs)
			if err != nil {
				c.add(err)
				continue
			}
			repo.Services = append(repo.Services, svc)
		}
		p.ImageRepositories = append(p.ImageRepositories, repo)
	}
	if len(c.probs) > before {
		// Validate would only repeat what is missing because of the problems above.
		return shiplog.Project{}, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		c.add(shiplog.Errorf(shiplog.Invalid, "%s: is not valid JSON", id))
		return shiplog.Project{}, false
	}
	p.Manifest = json.RawMessage(buf.Bytes())
	if err := p.Validate(); err != nil {
		c.add(err)
		return shiplog.Project{}, false
	}
	return p, true
}

// placement reads where p says environments live; field is p's path, for errors.
func (p place) placement(field string) (shiplog.Placement, error) {
	var out shiplog.Placement
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	out.AccountID, out.RoleARN, out.ExternalID = str(p.AccountID), str(p.RoleARN), str(p.ExternalID)
	out.Region = str(p.Region)
	if p.AWSRegionName != nil {
		if p.Region != nil && *p.Region != *p.AWSRegionName {
			return out, shiplog.Errorf(shiplog.Invalid, "%s.aws_region_name: %q differs from region %q; they are the same setting (aws_region_name is weco-deploy's name for it): give one",
				field, *p.AWSRegionName, *p.Region)
		}
		out.Region = *p.AWSRegionName
	}
	// An account is the role's when only the role names it.
	if out.AccountID == "" {
		if acct, ok := shiplog.RoleAccount(out.RoleARN); ok {
			out.AccountID = acct
		}
	}
	return out, nil
}

// inherit fills an environment's placement from its project's: an environment that names its own
// account or role takes none of the project's account, role and external id (they go together),
// and one that names no region takes the project's.
func inherit(env, project shiplog.Placement) shiplog.Placement {
	if env.AccountID == "" && env.RoleARN == "" {
		env.AccountID, env.RoleARN = project.AccountID, project.RoleARN
		if env.ExternalID == "" {
			env.ExternalID = project.ExternalID
		}
	}
	if env.Region == "" {
		env.Region = project.Region
	}
	return env
}

// parseECS decodes an environment's "ecs" object; Project.Validate checks the names in it.
func parseECS(field string, data json.RawMessage) (*shiplog.ECSTarget, error) {
	var rt ecsTarget
	if err := strictjson.Decode(data, &rt, strictjson.Options{Name: field, Path: field}); err != nil {
		return nil, err
	}
	if rt.Cluster == nil {
		return nil, shiplog.Errorf(shiplog.Invalid, "%s.cluster: is required", field)
	}
	target := &shiplog.ECSTarget{Cluster: *rt.Cluster}
	// Each name is decoded on its own so that errors name its service.
	for _, svc := range slices.Sorted(maps.Keys(rt.Services)) {
		f := field + ".services." + svc
		var name string
		if err := strictjson.Decode(rt.Services[svc], &name, strictjson.Options{Name: f, Path: f}); err != nil {
			return nil, err
		}
		if target.Services == nil {
			target.Services = map[string]string{}
		}
		target.Services[svc] = name
	}
	return target, nil
}

// parseWindows decodes a list of windows; Project.Validate checks what each says.
func parseWindows(field string, raws []json.RawMessage) ([]shiplog.Window, error) {
	var out []shiplog.Window
	for i, raw := range raws {
		f := fmt.Sprintf("%s[%d]", field, i)
		var w window
		if err := strictjson.Decode(raw, &w, strictjson.Options{Name: f, Path: f}); err != nil {
			return nil, err
		}
		for _, req := range []struct {
			name string
			v    *string
		}{{"days", w.Days}, {"start", w.Start}, {"end", w.End}, {"tz", w.TZ}} {
			if req.v == nil {
				return nil, shiplog.Errorf(shiplog.Invalid, "%s.%s: is required (a window is {\"days\": \"Mon-Thu\", \"start\": \"09:00\", \"end\": \"16:00\", \"tz\": \"Europe/London\"})", f, req.name)
			}
		}
		out = append(out, shiplog.Window{Days: *w.Days, Start: *w.Start, End: *w.End, TZ: *w.TZ})
	}
	return out, nil
}

// parseApprovals decodes and checks an environment's approvals:
// {"required": 2, "from": ["alice", "bob"], "self_approval": false}.
func parseApprovals(field string, data json.RawMessage) (*shiplog.Approvals, error) {
	var a approvals
	if err := strictjson.Decode(data, &a, strictjson.Options{Name: field, Path: field}); err != nil {
		return nil, err
	}
	if a.Required == nil {
		return nil, shiplog.Errorf(shiplog.Invalid, "%s.required: is required: how many people must approve a release (approvals is {\"required\": 2, \"from\": [\"alice\", \"bob\"], \"self_approval\": false})", field)
	}
	out := &shiplog.Approvals{Required: *a.Required, From: a.From}
	if a.SelfApproval != nil {
		out.SelfApproval = *a.SelfApproval
	}
	if err := out.Validate(field); err != nil {
		return nil, err
	}
	return out, nil
}

// parseRequirement decodes one entry of an environment's requires: an environment id, or
// {"environment": id, "soak": duration}. It answers the id and the soak in seconds (0: none);
// Project.Validate checks the id and the soak's bounds.
func parseRequirement(field string, data json.RawMessage) (string, int64, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || (trimmed[0] != '"' && trimmed[0] != '{') {
		return "", 0, shiplog.Errorf(shiplog.Invalid, "%s: got %s, want an environment id (\"stage\") or {\"environment\": \"stage\", \"soak\": \"30m\"}", field, clipJSON(trimmed))
	}
	if trimmed[0] == '"' {
		var id string
		if err := strictjson.Decode(data, &id, strictjson.Options{Name: field, Path: field}); err != nil {
			return "", 0, err
		}
		return id, 0, nil
	}
	var r requirement
	if err := strictjson.Decode(data, &r, strictjson.Options{Name: field, Path: field}); err != nil {
		return "", 0, err
	}
	if r.Environment == nil {
		return "", 0, shiplog.Errorf(shiplog.Invalid, "%s.environment: is required", field)
	}
	if r.Soak == nil {
		return *r.Environment, 0, nil
	}
	secs, err := parseDuration(field+".soak", *r.Soak, "soak")
	if err != nil {
		return "", 0, err
	}
	return *r.Environment, secs, nil
}

// parseDuration reads a positive duration in whole seconds ("30m", "2h"), for the field named
// what ("soak", "bake"); Project.Validate checks its bounds.
func parseDuration(field, s, what string) (int64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, shiplog.Errorf(shiplog.Invalid, "%s: %q is not a duration; write one like \"30m\", \"2h\" or \"1h30m\" (units s, m, h)", field, s)
	}
	if d <= 0 || d%time.Second != 0 {
		return 0, shiplog.Errorf(shiplog.Invalid, "%s: %q must be a positive whole number of seconds; leave %s out for none", field, s, what)
	}
	return int64(d / time.Second), nil
}

// parseAutoPromote decodes an environment's auto_promote: absent, null, true or false, or
// {"from": "latest"} ({"from": "release"} is true's long form). It answers whether the
// environment is promoted to automatically and from where; Project.Validate checks the rest.
func parseAutoPromote(field string, data json.RawMessage) (bool, string, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) || bytes.Equal(trimmed, []byte("false")):
		return false, "", nil
	case bytes.Equal(trimmed, []byte("true")):
		return true, "", nil
	case trimmed[0] != '{':
		return false, "", shiplog.Errorf(shiplog.Invalid, "%s: got %s, want true, false or {\"from\": \"latest\"}", field, clipJSON(trimmed))
	}
	var a autoPromote
	if err := strictjson.Decode(data, &a, strictjson.Options{Name: field, Path: field}); err != nil {
		return false, "", err
	}
	if a.From == nil {
		return false, "", shiplog.Errorf(shiplog.Invalid, "%s.from: is required in the long form; write true for the newest release, or {\"from\": \"latest\"} for the newest build", field)
	}
	if *a.From == shiplog.AutoPromoteFromRelease {
		return true, "", nil
	}
	return true, *a.From, nil
}

// clipJSON shows the start of a JSON value in an error.
func clipJSON(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func parseService(field string, data json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		return s, nil
	}
	var obj service
	if err := strictjson.Decode(data, &obj, strictjson.Options{Name: field, Path: field}); err != nil {
		return "", err
	}
	if obj.ID == nil {
		return "", shiplog.Errorf(shiplog.Invalid, "%s.id: is required", field)
	}
	return *obj.ID, nil
}
