package shiplog

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// ServiceChange is one service's difference between two sets of images. From or To is empty
// (JSON null) where the service is absent on that side.
type ServiceChange struct {
	Service string  `json:"service"`
	Change  string  `json:"change"`
	From    *string `json:"from"`
	To      *string `json:"to"`
}

// The changes a service can see.
const (
	ChangeAdded     = "added"
	ChangeRemoved   = "removed"
	ChangeChanged   = "changed"
	ChangeUnchanged = "unchanged"
)

// DiffSide is one side of a diff: the reference asked for, and the release it stands for if any.
type DiffSide struct {
	Ref       string `json:"ref"`
	ReleaseID string `json:"release_id,omitempty"`
}

// Diff compares the images of two references.
type Diff struct {
	From     DiffSide        `json:"from"`
	To       DiffSide        `json:"to"`
	Services []ServiceChange `json:"services"`
}

// Diff compares the images of two references of a project. A reference is release:{id}
// (release:latest for the newest), environment:{id} (what is deployed there) or label:{label}
// (the images under that label in the parameter store).
func (s *Service) Diff(ctx context.Context, projectID, from, to string) (Diff, error) {
	if err := ValidateID("project", projectID); err != nil {
		return Diff{}, err
	}
	if from == "" {
		return Diff{}, Errorf(Invalid, "from: is required (release:{id}, release:latest, environment:{id} or label:{label})")
	}
	if to == "" {
		return Diff{}, Errorf(Invalid, "to: is required (release:{id}, release:latest, environment:{id} or label:{label})")
	}
	project, err := s.Project(ctx, projectID)
	if err != nil {
		return Diff{}, err
	}
	fromSide, fromImages, err := s.resolveRef(ctx, project, "from", from)
	if err != nil {
		return Diff{}, err
	}
	toSide, toImages, err := s.resolveRef(ctx, project, "to", to)
	if err != nil {
		return Diff{}, err
	}
	return Diff{From: fromSide, To: toSide, Services: diffImages(fromImages, toImages)}, nil
}

// resolveRef returns the images a reference stands for.
func (s *Service) resolveRef(ctx context.Context, p Project, field, ref string) (DiffSide, map[string]string, error) {
	side := DiffSide{Ref: ref}
	kind, id, ok := strings.Cut(ref, ":")
	if !ok {
		return side, nil, Errorf(Invalid, "%s: %q is not a reference; want release:{id}, release:latest, environment:{id} or label:{label}", field, clip(ref))
	}
	if err := ValidateID(field, id); err != nil {
		return side, nil, err
	}
	switch kind {
	case "release":
		r, err := s.Release(ctx, p.ID, id)
		if err != nil {
			return side, nil, err
		}
		side.ReleaseID = r.ID
		return side, r.Images, nil
	case "environment":
		if _, err := environmentOf(p, id); err != nil {
			return side, nil, err
		}
		st, err := s.environmentState(ctx, p.ID, id)
		if err != nil {
			return side, nil, err
		}
		if st == nil || st.ReleaseID == "" {
			return side, nil, Errorf(NotFound, "environment %s of %s has nothing deployed yet", id, p.ID)
		}
		side.ReleaseID = st.ReleaseID
		return side, st.Images, nil
	case "label":
		images, err := s.Images(ctx, p.ID, id)
		if err != nil {
			return side, nil, err
		}
		if len(images) == 0 {
			return side, nil, Errorf(NotFound, "label %q of %s has no images (nothing under %s)", id, p.ID, ParameterPath(p.ID, id))
		}
		return side, images, nil
	}
	return side, nil, Errorf(Invalid, "%s: %q is not a kind of reference; want release, environment or label", field, clip(kind))
}

// environmentState returns the stored state of one environment, nil if it was never written.
func (s *Service) environmentState(ctx context.Context, projectID, envID string) (*EnvironmentState, error) {
	states, err := s.Store.EnvironmentStates(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("environments of %s: %w", projectID, err)
	}
	for i := range states {
		if states[i].Environment.ID == envID {
			return &states[i], nil
		}
	}
	return nil, nil
}

// diffImages compares two sets of images, service by service, sorted by service id.
func diffImages(from, to map[string]string) []ServiceChange {
	services := map[string]bool{}
	for svc := range from {
		services[svc] = true
	}
	for svc := range to {
		services[svc] = true
	}
	out := make([]ServiceChange, 0, len(services))
	for svc := range services {
		c := ServiceChange{Service: svc}
		f, inFrom := from[svc]
		t, inTo := to[svc]
		if inFrom {
			c.From = &f
		}
		if inTo {
			c.To = &t
		}
		switch {
		case !inFrom:
			c.Change = ChangeAdded
		case !inTo:
			c.Change = ChangeRemoved
		case f != t:
			c.Change = ChangeChanged
		default:
			c.Change = ChangeUnchanged
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}
