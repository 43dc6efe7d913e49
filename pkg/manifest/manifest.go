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
	ID       *string         `json:"id"`
	Name     *string         `json:"name"`
	Requires []string        `json:"requires"` // the environments a release must be in first
	ECS      json.RawMessage `json:"ecs"`      // an ecsTarget: where the services run on ECS
	// Registry is where the environment pulls images from: "source" or "replica".
	Registry *string `json:"registry"`
	place
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
// name the offending field, e.g. `storage.environments[1].id: "a b" may contain only ...`.
func Parse(data []byte) ([]shiplog.Project, error) {
	var top map[string]json.RawMessage
	if err := strictjson.Decode(data, &top, strictjson.Options{Name: "manifest"}); err != nil {
		return nil, err
	}
	if len(top) == 0 {
		return nil, shiplog.Errorf(shiplog.Invalid, "manifest: declares no projects")
	}
	ids := make([]string, 0, len(top))
	for id := range top {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	projects := make([]shiplog.Project, 0, len(ids))
	for _, id := range ids {
		p, err := ParseProject(id, top[id])
		if err != nil {
			return nil, err
		}
		projects = append(projects, p)
	}
	return projects, nil
}

// ParseProject decodes one project's entry of a .wellcome_project file.
func ParseProject(id string, data []byte) (shiplog.Project, error) {
	if err := shiplog.ValidateID("project id", id); err != nil {
		return shiplog.Project{}, err
	}
	var e entry
	if err := strictjson.Decode(data, &e, strictjson.Options{Name: id, Path: id}); err != nil {
		return shiplog.Project{}, err
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
		return shiplog.Project{}, err
	}
	// Each element is decoded on its own so that errors name it by its index.
	for i, raw := range e.Environments {
		field := fmt.Sprintf("%s.environments[%d]", id, i)
		var re environment
		if err := strictjson.Decode(raw, &re, strictjson.Options{Name: field, Path: field}); err != nil {
			return shiplog.Project{}, err
		}
		if re.ID == nil {
			return shiplog.Project{}, shiplog.Errorf(shiplog.Invalid, "%s.id: is required", field)
		}
		env := shiplog.Environment{ID: *re.ID, Name: *re.ID, Requires: re.Requires}
		if re.Name != nil && *re.Name != "" {
			env.Name = *re.Name
		}
		if env.Placement, err = re.place.placement(field); err != nil {
			return shiplog.Project{}, err
		}
		env.Placement = inherit(env.Placement, projectPlace)
		if re.Registry != nil {
			env.Registry = *re.Registry
		}
		if len(re.ECS) > 0 && !bytes.Equal(bytes.TrimSpace(re.ECS), []byte("null")) {
			target, err := parseECS(field+".ecs", re.ECS)
			if err != nil {
				return shiplog.Project{}, err
			}
			env.ECS = target
		}
		p.Environments = append(p.Environments, env)
	}
	for i, raw := range e.ImageRepositories {
		field := fmt.Sprintf("%s.image_repositories[%d]", id, i)
		var rr repository
		if err := strictjson.Decode(raw, &rr, strictjson.Options{Name: field, Path: field}); err != nil {
			return shiplog.Project{}, err
		}
		if rr.ID == nil {
			return shiplog.Project{}, shiplog.Errorf(shiplog.Invalid, "%s.id: is required", field)
		}
		repo := shiplog.ImageRepository{ID: *rr.ID}
		if rr.Services == nil {
			repo.Services = []string{path.Base(*rr.ID)}
		}
		for j, rs := range rr.Services {
			svc, err := parseService(fmt.Sprintf("%s.services[%d]", field, j), rs)
			if err != nil {
				return shiplog.Project{}, err
			}
			repo.Services = append(repo.Services, svc)
		}
		p.ImageRepositories = append(p.ImageRepositories, repo)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return shiplog.Project{}, shiplog.Errorf(shiplog.Invalid, "%s: is not valid JSON", id)
	}
	p.Manifest = json.RawMessage(buf.Bytes())
	if err := p.Validate(); err != nil {
		return shiplog.Project{}, err
	}
	return p, nil
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
