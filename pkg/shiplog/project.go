package shiplog

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
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
	// Soak says, for some of Requires, how long (seconds) a release must have been verified
	// there, with no failure since, before it may be deployed to this one.
	Soak map[string]int64 `json:"soak,omitempty"`
	// Windows, if any, are when deploys may go: a deploy outside all of them is refused (a
	// rollback and an emergency deployment go anyway).
	Windows []Window `json:"windows,omitempty"`
	// FreezeWindows are recurring freezes: a deploy inside one is refused (a rollback and an
	// emergency deployment go anyway).
	FreezeWindows []Window `json:"freeze_windows,omitempty"`
	// Alarms names CloudWatch alarms (names or ARNs) that guard the environment: a deploy is
	// refused while any is in ALARM (gate "alarms"), and one entering ALARM within Bake of a
	// deployment's being applied fails it. See docs/alarms.md.
	Alarms []string `json:"alarms,omitempty"`
	// Bake is how long (seconds) after a deployment is applied its alarms are watched: one
	// entering ALARM then fails it, and a bake that ends with none verifies it (if ECS has not).
	// Zero: no bake.
	Bake int64 `json:"bake,omitempty"`
	// MaxFindingSeverity, if set, refuses a release whose images' ECR scan findings reach that
	// severity (one of FindingSeverities) (gate "findings"); AllowUnscanned lets through an image
	// with no completed scan, which is otherwise refused.
	MaxFindingSeverity string `json:"max_finding_severity,omitempty"`
	AllowUnscanned     bool   `json:"allow_unscanned,omitempty"`
	// AutoPromote makes shiplog deploy to the environment, by itself, the release that passes
	// every gate (docs/automation.md): for an environment that requires none, the newest
	// release, or, with AutoPromoteFrom "latest", the newest build (a release of the images
	// under "latest", created when none has them); for the others, the newest release verified
	// in the environments it requires.
	AutoPromote     bool   `json:"auto_promote,omitempty"`
	AutoPromoteFrom string `json:"auto_promote_from,omitempty"`
	// AutoRollback makes shiplog answer a failed deployment to the environment by rolling back
	// to the release it ran before, with a hold that names the failure.
	AutoRollback bool `json:"auto_rollback,omitempty"`
	// Approvals, if set, is how many people must approve a release before it is deployed here
	// (the approvals gate).
	Approvals *Approvals `json:"approvals,omitempty"`
	// ECS, if set, says where the environment's services run, so that deployments to it are
	// verified on ECS.
	ECS *ECSTarget `json:"ecs,omitempty"`
	// Placement is the account and region the environment lives in, and the role shiplog
	// assumes there; zero for the stack's own.
	Placement
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

// ValidateID checks that s can be used as a project, service or environment id or a label: it
// becomes one segment of an SSM parameter name and of a URL path.
func ValidateID(field, s string) error {
	switch {
	case s == "":
		return Errorf(Invalid, "%s: is required", field)
	case len(s) > MaxIDLength:
		return Errorf(Invalid, "%s: %q is %d characters long; the limit is %d", field, clip(s), len(s), MaxIDLength)
	case !isIDChars(s):
		return Errorf(Invalid, "%s: %q may contain only letters, digits, '.', '_' and '-'", field, clip(s))
	case strings.Contains(s, ".."):
		return Errorf(Invalid, "%s: %q must not contain \"..\"", field, s)
	}
	return nil
}

// ReservedEnvironmentIDs are the labels shiplog itself writes: an environment of that id would
// have its deploys overwrite the label's images, and the pushes overwrite the environment's.
var ReservedEnvironmentIDs = []string{LatestLabel}

func validateEnvironmentID(field, s string) error {
	if err := ValidateID(field, s); err != nil {
		return err
	}
	if slices.Contains(ReservedEnvironmentIDs, s) {
		return Errorf(Invalid, "%s: %q is reserved: every push writes its image under the label %q, so deploys to an environment of that name and the pushes would overwrite each other's images; name the environment otherwise", field, s, s)
	}
	return nil
}

// validateName checks free text that people read (a project, environment or person name): at most
// MaxNameLength bytes of UTF-8 with no control or format characters, so that it cannot rewrite a
// terminal, forge a line of a log, or show as something it is not.
func validateName(field, s string) error {
	if err := validateText(field, s, MaxNameLength); err != nil {
		return err
	}
	return refuseControl(field, s, "")
}

// isControl reports whether c is a character that text people read must not hold: a control
// character, or a line or paragraph separator, any of which can rewrite a terminal or start a
// line of a log.
func isControl(c rune) bool { return unicode.IsControl(c) || c == '\u2028' || c == '\u2029' }

// refuseControl refuses invalid UTF-8, control characters other than those in allowed, and
// Unicode format characters (category Cf): bidi overrides and isolates, zero-width characters,
// the byte order mark. Those are invisible or reorder what is around them, so "abc\u202edorp"
// shows as "abcprod" and "ec\u200bs" as "ecs": the text would not read as what it is. Ids need no
// such rule: they are ASCII (ValidateID).
func refuseControl(field, s, allowed string) error {
	if !utf8.ValidString(s) {
		return Errorf(Invalid, "%s: is not valid UTF-8", field)
	}
	for _, c := range s {
		if isControl(c) && !strings.ContainsRune(allowed, c) {
			return Errorf(Invalid, "%s: %q contains the control character %U; control characters are not allowed", field, clip(s), c)
		}
		if unicode.Is(unicode.Cf, c) {
			return Errorf(Invalid, "%s: %q contains the format character %U; invisible and direction-changing characters (bidi overrides, zero-width characters, the byte order mark) are not allowed", field, clip(s), c)
		}
	}
	return nil
}

// cleanText makes text from outside (ECS's reasons) fit the rules for text people read, where
// refusing it would lose what it reports: invalid UTF-8 and each control or format character
// become a space, and the text is cut, at a character's boundary, to at most max bytes.
func cleanText(s string, max int) string {
	s = strings.Map(func(c rune) rune {
		if isControl(c) || unicode.Is(unicode.Cf, c) {
			return ' '
		}
		return c
	}, strings.ToValidUTF8(s, " "))
	if len(s) <= max {
		return s
	}
	const more = "..."
	cut := max - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
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

func validateRepository(field, s string) error {
	switch {
	case s == "":
		return Errorf(Invalid, "%s: is required", field)
	case len(s) < 2 || len(s) > 256:
		return Errorf(Invalid, "%s: %q must be 2 to 256 characters long", field, clip(s))
	case !IsRepositoryName(s):
		return Errorf(Invalid, "%s: %q is not an ECR repository name (lower-case letters, digits, '.', '_', '-' and '/')", field, clip(s))
	}
	return nil
}

// validateECS checks an environment's ECS target against the project's services: the cluster a
// name or an ARN, every service it maps one of the project's, every ECS service name one ECS
// allows, including those named like their service id by default.
func validateECS(field string, t ECSTarget, services []string) error {
	switch {
	case t.Cluster == "":
		return Errorf(Invalid, "%s.cluster: is required", field)
	case strings.HasPrefix(t.Cluster, "arn:"):
		if !isClusterARN(t.Cluster) {
			return Errorf(Invalid, "%s.cluster: %q is not an ECS cluster ARN (arn:aws:ecs:{region}:{account}:cluster/{name})", field, clip(t.Cluster))
		}
	case !IsECSName(t.Cluster):
		return Errorf(Invalid, "%s.cluster: %q is not an ECS cluster name or ARN (a name is 1 to 255 letters, digits, '-' and '_')", field, clip(t.Cluster))
	}
	for _, svc := range slices.Sorted(maps.Keys(t.Services)) {
		name := t.Services[svc]
		if !slices.Contains(services, svc) {
			return Errorf(Invalid, "%s.services.%s: %q is not a service of the project (its services: %s)", field, svc, clip(svc), strings.Join(services, ", "))
		}
		if !IsECSName(name) {
			return Errorf(Invalid, "%s.services.%s: %q is not an ECS service name (1 to 255 letters, digits, '-' and '_')", field, svc, clip(name))
		}
	}
	for _, svc := range services {
		if _, named := t.Services[svc]; !named && !IsECSName(svc) {
			return Errorf(Invalid, "%s.services: service %q would run as the ECS service of the same name, which ECS does not allow (1 to 255 letters, digits, '-' and '_'); name its ECS service: \"services\": {%q: \"...\"}", field, svc, svc)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Validate checks a project's registration against every rule the rest of shiplog relies on. Its
// errors name the field as a path in the manifest, e.g. `storage.environments[1].id: ...`.
func (p Project) Validate() error {
	if err := validateProjectID("project id", p.ID); err != nil {
		return err
	}
	id := p.ID
	if strings.TrimSpace(p.Name) == "" {
		return Errorf(Invalid, "%s.name: is required", id)
	}
	if err := validateName(id+".name", p.Name); err != nil {
		return err
	}
	if len(p.Manifest) > MaxManifestEntryBytes {
		return Errorf(Invalid, "%s: the manifest entry is %d bytes long; the limit is %d", id, len(p.Manifest), MaxManifestEntryBytes)
	}
	if len(p.Environments) == 0 {
		return Errorf(Invalid, "%s.environments: at least one environment is required", id)
	}
	if len(p.Environments) > MaxEnvironments {
		return Errorf(Invalid, "%s.environments: %d environments; the limit is %d", id, len(p.Environments), MaxEnvironments)
	}
	seenEnv := map[string]bool{}
	for i, e := range p.Environments {
		field := fmt.Sprintf("%s.environments[%d]", id, i)
		if err := validateEnvironmentID(field+".id", e.ID); err != nil {
			return err
		}
		if seenEnv[e.ID] {
			return Errorf(Invalid, "%s.id: environment %q is declared twice", field, e.ID)
		}
		seenEnv[e.ID] = true
		if err := validateName(field+".name", e.Name); err != nil {
			return err
		}
		if err := e.Placement.Validate(field); err != nil {
			return err
		}
	}
	if err := validateRequires(id, p.Environments); err != nil {
		return err
	}
	for i, e := range p.Environments {
		field := fmt.Sprintf("%s.environments[%d]", id, i)
		if err := validateSoak(field, e); err != nil {
			return err
		}
		if _, err := parseWindows(field+".windows", e.Windows); err != nil {
			return err
		}
		if _, err := parseWindows(field+".freeze_windows", e.FreezeWindows); err != nil {
			return err
		}
		if err := validateAlarms(field, e); err != nil {
			return err
		}
		if err := validateFindingRule(field, e); err != nil {
			return err
		}
		if err := validateAutomation(field, e); err != nil {
			return err
		}
		if err := validateApprovals(field, e.Approvals); err != nil {
			return err
		}
	}
	if len(p.ImageRepositories) == 0 {
		return Errorf(Invalid, "%s.image_repositories: at least one image repository is required", id)
	}
	seenRepo := map[string]bool{}
	fedBy := map[string]string{}
	for i, r := range p.ImageRepositories {
		field := fmt.Sprintf("%s.image_repositories[%d]", id, i)
		if err := validateRepository(field+".id", r.ID); err != nil {
			return err
		}
		if seenRepo[r.ID] {
			return Errorf(Invalid, "%s.id: repository %q is declared twice", field, r.ID)
		}
		seenRepo[r.ID] = true
		if len(r.Services) == 0 {
			return Errorf(Invalid, "%s.services: is empty; leave it out to name the service after the repository", field)
		}
		for j, svc := range r.Services {
			if err := ValidateID(fmt.Sprintf("%s.services[%d]", field, j), svc); err != nil {
				return err
			}
			if other, ok := fedBy[svc]; ok {
				return Errorf(Invalid, "%s: service %q is fed by both %q and %q; a service runs the images of one repository", field, svc, other, r.ID)
			}
			fedBy[svc] = r.ID
		}
	}
	if n := len(fedBy); n > MaxServicesPerProject {
		return Errorf(Invalid, "%s.image_repositories: feed %d services; the limit is %d per project", id, n, MaxServicesPerProject)
	}
	for i, e := range p.Environments {
		if e.ECS != nil {
			if err := validateECS(fmt.Sprintf("%s.environments[%d].ecs", id, i), *e.ECS, p.Services()); err != nil {
				return err
			}
			if err := validateECSPlacement(fmt.Sprintf("%s.environments[%d].ecs", id, i), *e.ECS, e.Placement); err != nil {
				return err
			}
		}
	}
	if len(p.Manifest) > 0 && !json.Valid(p.Manifest) {
		return Errorf(Invalid, "%s: the manifest entry is not JSON", id)
	}
	return nil
}

func isClusterARN(s string) bool {
	_, ok := ParseECSClusterARN(s)
	return ok
}
