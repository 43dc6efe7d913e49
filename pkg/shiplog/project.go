package shiplog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Project is a set of services that are deployed together, as registered from its manifest entry.
type Project struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Environments      []Environment     `json:"environments"`
	ImageRepositories []ImageRepository `json:"image_repositories"`
	// TagDeployedImages makes a deploy move the ECR tag "env.{environment}" to each deployed
	// image, for services that run floating tags rather than digests.
	TagDeployedImages bool `json:"tag_deployed_images,omitempty"`
	// Manifest is the project's entry in .wellcome_project as it was registered (compact JSON).
	Manifest json.RawMessage `json:"manifest"`
}

// Environment is a place a project's releases can be deployed to.
type Environment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Requires lists the environments a release must have been deployed to before it may be
	// deployed to this one (a promotion gate).
	Requires []string `json:"requires,omitempty"`
}

// ImageRepository is an ECR repository and the services that run its images.
type ImageRepository struct {
	ID       string   `json:"id"`
	Services []string `json:"services"`
}

// ServiceRef names one service of one project.
type ServiceRef struct {
	ProjectID string `json:"project_id"`
	ServiceID string `json:"service_id"`
}

// Services returns the ids of every service in the project, in manifest order.
func (p Project) Services() []string {
	var out []string
	for _, r := range p.ImageRepositories {
		out = append(out, r.Services...)
	}
	return out
}

// Environment returns the environment with the given id.
func (p Project) Environment(id string) (Environment, bool) {
	for _, e := range p.Environments {
		if e.ID == id {
			return e, true
		}
	}
	return Environment{}, false
}

// EnvironmentIDs returns the ids of the project's environments, in manifest order.
func (p Project) EnvironmentIDs() []string {
	ids := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		ids[i] = e.ID
	}
	return ids
}

const maxIDLength = 128

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ValidateID checks that s can be used as a project, service or environment id or a label: it
// becomes one segment of an SSM parameter name and of a URL path.
func ValidateID(field, s string) error {
	switch {
	case s == "":
		return Errorf(Invalid, "%s: is required", field)
	case len(s) > maxIDLength:
		return Errorf(Invalid, "%s: %q is %d characters long; the limit is %d", field, clip(s), len(s), maxIDLength)
	case !idPattern.MatchString(s):
		return Errorf(Invalid, "%s: %q may contain only letters, digits, '.', '_' and '-'", field, clip(s))
	case strings.Contains(s, ".."):
		return Errorf(Invalid, "%s: %q must not contain \"..\"", field, s)
	}
	return nil
}

// validateProjectID adds SSM's rule that parameter names must not begin with "aws" or "ssm".
func validateProjectID(field, s string) error {
	if err := ValidateID(field, s); err != nil {
		return err
	}
	if l := strings.ToLower(s); strings.HasPrefix(l, "aws") || strings.HasPrefix(l, "ssm") {
		return Errorf(Invalid, "%s: %q must not begin with \"aws\" or \"ssm\" (SSM reserves those parameter names)", field, s)
	}
	return nil
}

// ECR's rule for repository names (the AWS CreateRepository documentation).
var repositoryPattern = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func validateRepository(field, s string) error {
	switch {
	case s == "":
		return Errorf(Invalid, "%s: is required", field)
	case len(s) < 2 || len(s) > 256:
		return Errorf(Invalid, "%s: %q must be 2 to 256 characters long", field, clip(s))
	case !repositoryPattern.MatchString(s):
		return Errorf(Invalid, "%s: %q is not an ECR repository name (lower-case letters, digits, '.', '_', '-' and '/')", field, clip(s))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ParseManifest parses a whole .wellcome_project file: a JSON object from project id to project.
// Projects come back sorted by id. Errors name the offending field, e.g.
// `storage.environments[1].id: "a b" may contain only ...`.
func ParseManifest(data []byte) ([]Project, error) {
	var top map[string]json.RawMessage
	if err := decodeStrict(data, &top); err != nil {
		return nil, Errorf(Invalid, "%s", jsonProblem("manifest", err, "an object mapping project ids to projects"))
	}
	if top == nil {
		return nil, Errorf(Invalid, "manifest: must be an object mapping project ids to projects")
	}
	if len(top) == 0 {
		return nil, Errorf(Invalid, "manifest: declares no projects")
	}
	ids := make([]string, 0, len(top))
	for id := range top {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	projects := make([]Project, 0, len(ids))
	for _, id := range ids {
		p, err := ParseProject(id, top[id])
		if err != nil {
			return nil, err
		}
		projects = append(projects, p)
	}
	return projects, nil
}

// ParseProject parses one project's entry of a .wellcome_project file.
func ParseProject(id string, entry []byte) (Project, error) {
	if err := validateProjectID("project id", id); err != nil {
		return Project{}, err
	}
	var raw struct {
		Name              *string           `json:"name"`
		Environments      []json.RawMessage `json:"environments"`
		ImageRepositories []json.RawMessage `json:"image_repositories"`
		TagDeployedImages *bool             `json:"tag_deployed_images"`
	}
	if err := decodeStrict(entry, &raw); err != nil {
		return Project{}, Errorf(Invalid, "%s", jsonProblem(id, err, "an object with name, environments and image_repositories"))
	}
	p := Project{ID: id}
	if raw.Name == nil || strings.TrimSpace(*raw.Name) == "" {
		return Project{}, Errorf(Invalid, "%s.name: is required", id)
	}
	if len(*raw.Name) > 256 {
		return Project{}, Errorf(Invalid, "%s.name: is longer than 256 characters", id)
	}
	p.Name = *raw.Name
	if raw.TagDeployedImages != nil {
		p.TagDeployedImages = *raw.TagDeployedImages
	}

	if len(raw.Environments) == 0 {
		return Project{}, Errorf(Invalid, "%s.environments: at least one environment is required", id)
	}
	seenEnv := map[string]bool{}
	for i, re := range raw.Environments {
		field := fmt.Sprintf("%s.environments[%d]", id, i)
		var e struct {
			ID       *string  `json:"id"`
			Name     *string  `json:"name"`
			Requires []string `json:"requires"`
		}
		if err := decodeStrict(re, &e); err != nil {
			return Project{}, Errorf(Invalid, "%s", jsonProblem(field, err, `an object {"id": ..., "name": ...}`))
		}
		if e.ID == nil {
			return Project{}, Errorf(Invalid, "%s.id: is required", field)
		}
		if err := ValidateID(field+".id", *e.ID); err != nil {
			return Project{}, err
		}
		if seenEnv[*e.ID] {
			return Project{}, Errorf(Invalid, "%s.id: environment %q is declared twice", field, *e.ID)
		}
		seenEnv[*e.ID] = true
		env := Environment{ID: *e.ID, Name: *e.ID, Requires: e.Requires}
		if e.Name != nil && *e.Name != "" {
			env.Name = *e.Name
		}
		p.Environments = append(p.Environments, env)
	}

	if err := validateRequires(id, p.Environments); err != nil {
		return Project{}, err
	}

	if len(raw.ImageRepositories) == 0 {
		return Project{}, Errorf(Invalid, "%s.image_repositories: at least one image repository is required", id)
	}
	seenRepo := map[string]bool{}
	fedBy := map[string]string{}
	for i, rr := range raw.ImageRepositories {
		field := fmt.Sprintf("%s.image_repositories[%d]", id, i)
		var r struct {
			ID       *string           `json:"id"`
			Services []json.RawMessage `json:"services"`
		}
		if err := decodeStrict(rr, &r); err != nil {
			return Project{}, Errorf(Invalid, "%s", jsonProblem(field, err, `an object {"id": ..., "services": [...]}`))
		}
		if r.ID == nil {
			return Project{}, Errorf(Invalid, "%s.id: is required", field)
		}
		if err := validateRepository(field+".id", *r.ID); err != nil {
			return Project{}, err
		}
		if seenRepo[*r.ID] {
			return Project{}, Errorf(Invalid, "%s.id: repository %q is declared twice", field, *r.ID)
		}
		seenRepo[*r.ID] = true
		repo := ImageRepository{ID: *r.ID}
		if r.Services == nil {
			repo.Services = []string{path.Base(*r.ID)}
		}
		for j, rs := range r.Services {
			sfield := fmt.Sprintf("%s.services[%d]", field, j)
			svc, err := parseService(sfield, rs)
			if err != nil {
				return Project{}, err
			}
			repo.Services = append(repo.Services, svc)
		}
		if len(repo.Services) == 0 {
			return Project{}, Errorf(Invalid, "%s.services: is empty; leave it out to name the service after the repository", field)
		}
		for _, svc := range repo.Services {
			if other, ok := fedBy[svc]; ok {
				return Project{}, Errorf(Invalid, "%s: service %q is fed by both %q and %q; a service runs the images of one repository", field, svc, other, repo.ID)
			}
			fedBy[svc] = repo.ID
		}
		if err := ValidateID(field+".services", repo.Services[0]); err != nil {
			return Project{}, err
		}
		p.ImageRepositories = append(p.ImageRepositories, repo)
	}

	var buf bytes.Buffer
	if err := json.Compact(&buf, entry); err != nil {
		return Project{}, Errorf(Invalid, "%s: %v", id, err)
	}
	p.Manifest = json.RawMessage(buf.Bytes())
	return p, nil
}

func parseService(field string, data json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		return s, ValidateID(field, s)
	}
	var obj struct {
		ID *string `json:"id"`
	}
	if err := decodeStrict(data, &obj); err != nil {
		return "", Errorf(Invalid, "%s", jsonProblem(field, err, `a service id or {"id": ...}`))
	}
	if obj.ID == nil {
		return "", Errorf(Invalid, "%s.id: is required", field)
	}
	return *obj.ID, ValidateID(field+".id", *obj.ID)
}

// decodeStrict decodes one JSON value and refuses trailing data. Unknown fields are allowed:
// real manifests carry settings for other tools.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// jsonProblem turns an error decoding field's value into words for a person, without Go type
// names. A wrong type inside the value is named as a path below field (`storage.name: ...`), as
// every other manifest error is.
func jsonProblem(field string, err error, want string) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s.%s: got a JSON %s, want %s", field, te.Field, te.Value, jsonKind(te.Type.Kind().String()))
		}
		return fmt.Sprintf("%s: got a JSON %s, want %s", field, te.Value, want)
	case errors.As(err, &se):
		return fmt.Sprintf("%s: not valid JSON at byte %d: %v", field, se.Offset, se.Error())
	case err.Error() == "EOF":
		return field + ": is empty; want " + want
	}
	return field + ": " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	}
	return goKind
}
