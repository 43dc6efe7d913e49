package shiplog

import (
	"context"
	"fmt"
)

// RegisterManifest registers every project of a whole .wellcome_project file.
func (s *Service) RegisterManifest(ctx context.Context, manifest []byte) ([]Project, error) {
	projects, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		if err := s.Store.PutProject(ctx, p); err != nil {
			return nil, fmt.Errorf("register project %s: %w", p.ID, err)
		}
	}
	return projects, nil
}

// RegisterProject registers one project from its manifest entry.
func (s *Service) RegisterProject(ctx context.Context, id string, entry []byte) (Project, error) {
	p, err := ParseProject(id, entry)
	if err != nil {
		return Project{}, err
	}
	if err := s.Store.PutProject(ctx, p); err != nil {
		return Project{}, fmt.Errorf("register project %s: %w", id, err)
	}
	return p, nil
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

// Projects returns every registered project.
func (s *Service) Projects(ctx context.Context) ([]Project, error) {
	ps, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return ps, nil
}
