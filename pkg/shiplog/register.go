package shiplog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// EnvironmentRef names one environment of one project.
type EnvironmentRef struct {
	ProjectID     string `json:"project_id"`
	EnvironmentID string `json:"environment_id"`
}

// RegisterInput is a request to register projects, each from its manifest entry.
type RegisterInput struct {
	Projects []Project
	// Retired names the environments that the new registrations drop although they have been
	// deployed to. Dropping such an environment is refused unless it is named here: its
	// parameters stay in SSM and its history stays listed, but nothing can be deployed to it.
	Retired []EnvironmentRef
	// By is who registers them, for the event log (none: the anonymous requester).
	By Person
}

// Validate checks every project and that each retired environment is one the request drops.
func (in RegisterInput) Validate() error {
	if len(in.Projects) == 0 {
		return Errorf(Invalid, "manifest: declares no projects")
	}
	seen := map[string]bool{}
	for _, p := range in.Projects {
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.ID] {
			return Errorf(Invalid, "manifest: project %q is declared twice", p.ID)
		}
		seen[p.ID] = true
	}
	for _, r := range in.Retired {
		i := slices.IndexFunc(in.Projects, func(p Project) bool { return p.ID == r.ProjectID })
		if i < 0 {
			return Errorf(Invalid, "retire: %s/%s is not an environment of a project being registered", r.ProjectID, r.EnvironmentID)
		}
		if err := ValidateID("retire", r.EnvironmentID); err != nil {
			return err
		}
		if _, still := in.Projects[i].Environment(r.EnvironmentID); still {
			return Errorf(Invalid, "retire: environment %q is still in %s's manifest; only an environment the manifest drops can be retired", r.EnvironmentID, r.ProjectID)
		}
	}
	return in.By.Validate()
}

// RegisterProjects registers every project of the request, or, if any is refused, none. A project
// is registered as given: its environments and repository mappings replace the previous ones.
func (s *Service) RegisterProjects(ctx context.Context, in RegisterInput) ([]Project, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	for _, p := range in.Projects {
		if err := s.checkRegistration(ctx, p, in.Retired); err != nil {
			return nil, err
		}
	}
	by := normalizePerson(in.By)
	for _, p := range in.Projects {
		var retired []string
		for _, r := range in.Retired {
			if r.ProjectID == p.ID {
				retired = append(retired, r.EnvironmentID)
			}
		}
		// The store checks both rules again inside its write, against registrations and deploys
		// that came in since checkRegistration read.
		if err := s.Store.PutProject(ctx, p, s.registrationEvent(p, by), retired...); err != nil {
			return nil, fmt.Errorf("register project %s: %w", p.ID, err)
		}
	}
	return in.Projects, nil
}

// checkRegistration refuses, before anything is written, a registration that the current state
// forbids: dropping an environment that has deployments without saying it is retired, or making
// a repository feed more than MaxServicesPerRepository services over every project.
func (s *Service) checkRegistration(ctx context.Context, p Project, retired []EnvironmentRef) error {
	states, err := s.Store.EnvironmentStates(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("environments of %s: %w", p.ID, err)
	}
	var dropped []string
	for _, st := range states {
		id := st.Environment.ID
		if _, kept := p.Environment(id); kept {
			continue
		}
		if slices.Contains(retired, EnvironmentRef{ProjectID: p.ID, EnvironmentID: id}) {
			continue
		}
		dropped = append(dropped, id)
	}
	for _, r := range p.ImageRepositories {
		refs, err := s.Store.RepositoryServices(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("services of repository %s: %w", r.ID, err)
		}
		n := len(r.Services)
		for _, ref := range refs {
			if ref.ProjectID != p.ID {
				n++
			}
		}
		if n > MaxServicesPerRepository {
			return RepositoryOverLimit(p.ID, r.ID, n)
		}
	}
	if len(dropped) > 0 {
		// An environment the stored registration has not got was retired before: dropping it
		// again is no drop. (Read only now, so that a registration that drops nothing pays nothing.)
		stored, err := s.Store.GetProject(ctx, p.ID)
		if err != nil && !errors.Is(err, ErrProjectNotFound) {
			return fmt.Errorf("project %s: %w", p.ID, err)
		}
		if err == nil {
			dropped = slices.DeleteFunc(dropped, func(id string) bool {
				_, registered := stored.Environment(id)
				return !registered
			})
		}
	}
	if len(dropped) > 0 {
		return DropsDeployed(p.ID, dropped)
	}
	return nil
}

// RepositoryOverLimit is the refusal of a registration of projectID that would make repository
// feed services services over every project, more than MaxServicesPerRepository. A store that
// finds it in its write refuses with it too, so that callers read the same words.
func RepositoryOverLimit(projectID, repository string, services int) error {
	return Errorf(Conflict, "%s: repository %q would feed %d services over every project; the limit is %d (MaxServicesPerRepository), since one push writes a parameter for each",
		projectID, repository, services, MaxServicesPerRepository)
}

// DropsDeployed is the refusal of a registration of projectID that drops environments deployed
// to without retiring them; a store that finds it in its write refuses with it too.
func DropsDeployed(projectID string, dropped []string) error {
	return Errorf(Conflict, "%s: the manifest drops environment %s, which %s been deployed to; to retire %s, say so (PUT /projects/%s?retire=%s, serve --retire %s/%s, or create-release's \"retire_environments\")",
		projectID, strings.Join(dropped, ", "), plural(len(dropped), "has", "have"), plural(len(dropped), "it", "them"),
		projectID, strings.Join(dropped, ","), projectID, strings.Join(dropped, ","+projectID+"/"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Project returns a registered project.
func (s *Service) Project(ctx context.Context, id string) (Project, error) {
	if err := ValidateID("project", id); err != nil {
		return Project{}, err
	}
	p, err := s.Store.GetProject(ctx, id)
	if err != nil {
		return Project{}, s.notFound(fmt.Errorf("get project %s: %w", id, err), id, "")
	}
	return p, nil
}

// ProjectsPage returns a page of the registered projects, sorted by id.
func (s *Service) ProjectsPage(ctx context.Context, page PageRequest) (Page[Project], error) {
	page, err := page.normalize()
	if err != nil {
		return Page[Project]{}, err
	}
	out, err := s.Store.ListProjectsPage(ctx, page)
	if err != nil {
		return Page[Project]{}, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// Projects returns every registered project.
func (s *Service) Projects(ctx context.Context) ([]Project, error) {
	ps, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}
