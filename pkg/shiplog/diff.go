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
	// Range is the service's source range, for a changed or added service whose source is
	// known in part (docs/change-notes.md).
	Range *SourceRange `json:"range,omitempty"`
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
	fromSide, fromSet, err := s.resolveRef(ctx, project, "from", from)
	if err != nil {
		return Diff{}, err
	}
	toSide, toSet, err := s.resolveRef(ctx, project, "to", to)
	if err != nil {
		return Diff{}, err
	}
	return Diff{From: fromSide, To: toSide, Services: withRanges(diffImages(fromSet.images, toSet.images), fromSet, toSet, false)}, nil
}

// resolveRef returns the images a reference stands for, with what is known of their sources.
func (s *Service) resolveRef(ctx context.Context, p Project, field, ref string) (DiffSide, imageSet, error) {
	side := DiffSide{Ref: ref}
	kind, id, ok := strings.Cut(ref, ":")
	if !ok {
		return side, imageSet{}, Errorf(Invalid, "%s: %q is not a reference; want release:{id}, release:latest, environment:{id} or label:{label}", field, clip(ref))
	}
	if err := ValidateID(field, id); err != nil {
		return side, imageSet{}, err
	}
	switch kind {
	case "release":
		r, err := s.Release(ctx, p.ID, id)
		if err != nil {
			return side, imageSet{}, err
		}
		side.ReleaseID = r.ID
		return side, releaseSet(r), nil
	case "environment":
		if _, err := environmentOf(p, id); err != nil {
			return side, imageSet{}, err
		}
		st, err := s.environmentState(ctx, p.ID, id)
		if err != nil {
			return side, imageSet{}, err
		}
		if st == nil || st.ReleaseID == "" {
			return side, imageSet{}, Errorf(NotFound, "environment %s of %s has nothing deployed yet", id, p.ID)
		}
		side.ReleaseID = st.ReleaseID
		return side, stateSet(st), nil
	case "label":
		images, err := s.Images(ctx, p.ID, id)
		if err != nil {
			return side, imageSet{}, err
		}
		if len(images) == 0 {
			return side, imageSet{}, Errorf(NotFound, "label %q of %s has no images (nothing under %s)", id, p.ID, ParameterPath(p.ID, id))
		}
		return side, s.labelSet(ctx, p, images), nil
	}
	return side, imageSet{}, Errorf(Invalid, "%s: %q is not a kind of reference; want release, environment or label", field, clip(kind))
}

// labelSet is the images under a label with the sources and push times of those that are their
// service's newest recorded push. The push records only describe: if they cannot be read, the
// label's images are compared without them.
func (s *Service) labelSet(ctx context.Context, p Project, images map[string]string) imageSet {
	set := imageSet{images: images}
	pushes, err := s.Store.LatestImages(ctx, p.ID, sortedKeys(images))
	if err != nil {
		if s.Log != nil {
			s.Log.WarnContext(ctx, "push records not read; the label's sources are not known", "project", p.ID, "err", err)
		}
		return set
	}
	set.pushedAt = pushTimes(images, pushes)
	set.sources = releaseSources(images, pushes, nil)
	return set
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
