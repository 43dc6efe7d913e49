package shiplog

import (
	"context"
	"fmt"
)

// RegisterInput is a request to register projects, each from its manifest entry.
type RegisterInput struct {
	Projects []Project
}

// Validate checks every project.
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
	return nil
}

// RegisterProjects registers every project of the request, or, if any is refused, none. A project
// is registered as given: its environments and repository mappings replace the previous ones.
func (s *Service) RegisterProjects(ctx context.Context, in RegisterInput) ([]Project, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	for _, p := range in.Projects {
		if err := s.Store.PutProject(ctx, p); err != nil {
			return nil, fmt.Errorf("register project %s: %w", p.ID, err)
		}
	}
	return in.Projects, nil
}

// Project returns a registered project.
func (s *Service) Project(ctx context.Context, id string) (Project, error) {
	if err := ValidateID("project", id); err != nil {
		return Project{}, err
	}
	p, err := s.Store.GetProject(ctx, id)
	if err != nil {
		return Project{}, fmt.Errorf("get project %s: %w", id, err)
	}
	return p, nil
}

// Projects returns every registered project.
func (s *Service) Projects(ctx context.Context) ([]Project, error) {
	ps, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}
