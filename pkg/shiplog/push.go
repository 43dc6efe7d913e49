package shiplog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// PushOutcome says what recording a push did, for the log and the caller.
type PushOutcome struct {
	Image   string   `json:"image,omitempty"`
	Updated []string `json:"updated"`           // parameters set to the image
	Ignored string   `json:"ignored,omitempty"` // why the whole event was ignored
	Skipped []string `json:"skipped,omitempty"` // services for which a newer push is recorded
	// Source is what was learnt of the image's source (nil: nothing), and SourceNotes why a
	// part of it is unknown when the image said something shiplog could not use.
	Source      *ImageSource `json:"source,omitempty"`
	SourceNotes []string     `json:"source_notes,omitempty"`
}

// maxConverge bounds the rounds a push spends making the parameter agree with the newest record
// when pushes race; each round needs a newer push to have landed in between.
const maxConverge = 5

// RecordPush sets the "latest" image of every service that the pushed repository feeds. Pushes
// that are not successful, tagged PUSH actions, and repositories no project claims, are ignored
// (EventBridge would retry an error forever), as are pushes dated more than MaxPushAhead ahead of
// the clock and pushes of the tags shiplog itself moves (EnvTagPrefix). An older push never
// replaces a newer one, and another tag on the newest image leaves latest where it is.
func (s *Service) RecordPush(ctx context.Context, p ImagePush) (PushOutcome, error) {
	out := PushOutcome{Updated: []string{}}
	switch {
	case p.Action != "PUSH":
		out.Ignored = fmt.Sprintf("action is %q, not PUSH", p.Action)
		return out, nil
	case p.Result != "SUCCESS":
		out.Ignored = fmt.Sprintf("push result is %q, not SUCCESS", p.Result)
		return out, nil
	case p.Tag == "":
		out.Ignored = "untagged push (one platform's manifest of a multi-platform image)"
		return out, nil
	case strings.HasPrefix(p.Tag, EnvTagPrefix):
		// Dated now but naming an image deployed before: recorded, it would move latest back.
		out.Ignored = fmt.Sprintf("tag %q is one shiplog moves onto deployed images (tag_deployed_images), not a new build", p.Tag)
		return out, nil
	}
	if err := validatePush(p); err != nil {
		return out, err
	}
	if now := s.Now(); p.Time.After(now.Add(MaxPushAhead)) {
		out.Ignored = fmt.Sprintf("event time %s is more than %s ahead of the clock (%s); a push dated in the future would pin latest until then",
			p.Time.UTC().Format(time.RFC3339), MaxPushAhead, now.UTC().Format(time.RFC3339))
		return out, nil
	}
	refs, err := s.Store.RepositoryServices(ctx, p.Repository)
	if err != nil {
		return out, fmt.Errorf("services of repository %s: %w", p.Repository, err)
	}
	if len(refs) == 0 {
		out.Ignored = fmt.Sprintf("no registered project claims repository %q", p.Repository)
		return out, nil
	}
	out.Image = p.ImageURI()
	src, notes := s.pushSource(ctx, p, out.Image)
	out.SourceNotes = notes
	if src.Known() {
		out.Source = &src
	}
	// Each service's record and parameter are independent of the others', so a repository that
	// feeds many services has them written PushConcurrency at a time.
	// Every service's push runs to its end whatever the others do, and the first error in refs'
	// order is the one answered, so each result carries its own error and the group none.
	results := make([]pushResult, len(refs))
	var g errgroup.Group
	g.SetLimit(PushConcurrency)
	for i, ref := range refs {
		g.Go(func() error {
			results[i] = s.recordServicePush(ctx, ref, out.Image, p.Time.Unix(), out.Source)
			return nil
		})
	}
	_ = g.Wait()
	for _, r := range results {
		switch {
		case r.err != nil:
			return out, r.err
		case r.skipped:
			out.Skipped = append(out.Skipped, r.name)
		case r.wrote:
			out.Updated = append(out.Updated, r.name)
		}
	}
	return out, nil
}

type pushResult struct {
	name           string
	wrote, skipped bool
	err            error
}

// recordServicePush records one service's push and, if it is the newest, writes its parameter.
func (s *Service) recordServicePush(ctx context.Context, ref ServiceRef, uri string, at int64, src *ImageSource) pushResult {
	rec := ImageRecord{ProjectID: ref.ProjectID, ServiceID: ref.ServiceID, URI: uri, PushedAt: at, Source: src}
	res := pushResult{name: ParameterName(ref.ProjectID, LatestLabel, ref.ServiceID)}
	applied, err := s.Store.RecordPush(ctx, rec, s.pushEvent(rec))
	if err != nil {
		res.err = fmt.Errorf("record push for %s: %w", res.name, err)
		return res
	}
	if !applied {
		res.skipped = true
		return res
	}
	res.wrote, res.err = s.converge(ctx, ref, res.name, uri)
	return res
}

// converge writes uri to the parameter unless it is there already, then checks that no newer push
// was recorded meanwhile; if one was, its image is written instead, so the parameter always ends
// at the newest record whatever order concurrent pushes interleave in.
func (s *Service) converge(ctx context.Context, ref ServiceRef, name, uri string) (bool, error) {
	wrote := false
	for range maxConverge {
		cur, err := s.Params.GetParameter(ctx, name)
		if err != nil && !IsKind(err, NotFound) {
			return wrote, fmt.Errorf("read %s: %w", name, err)
		}
		if cur != uri {
			if err := s.Params.PutParameters(ctx, map[string]string{name: uri}); err != nil {
				return wrote, fmt.Errorf("write %s: %w", name, err)
			}
			wrote = true
		}
		latest, err := s.Store.LatestImage(ctx, ref.ProjectID, ref.ServiceID)
		if err != nil {
			return wrote, fmt.Errorf("re-read push record for %s: %w", name, err)
		}
		if latest.URI == uri {
			return wrote, nil
		}
		uri = latest.URI
	}
	return wrote, Errorf(Unavailable, "%s: pushes keep racing; retry", name)
}

// pushSource learns a pushed image's source: from its annotations (when the Service has an
// ImageMetadata), then from its tag's convention, each field from the first that says it. An
// image whose annotations cannot be read is recorded all the same, its source from the tag
// alone, with a note saying why: the push's record must not wait on what only describes it.
func (s *Service) pushSource(ctx context.Context, p ImagePush, uri string) (ImageSource, []string) {
	var src ImageSource
	var notes []string
	if s.Metadata != nil {
		ann, err := s.Metadata.Annotations(ctx, uri)
		if err != nil {
			if s.Log != nil {
				s.Log.WarnContext(ctx, "image annotations not read; the source is learnt from the tag alone", "image", uri, "err", err)
			}
			notes = append(notes, "annotations not read: "+MessageOf(err))
		} else {
			src, notes = SourceFromAnnotations(ann)
		}
	}
	return src.Over(TagSource(p.Tag)), notes
}

func validatePush(p ImagePush) error {
	if err := validateRepository("detail.repository-name", p.Repository); err != nil {
		return err
	}
	if !IsImageTag(p.Tag) {
		return Errorf(Invalid, "detail.image-tag: %q is not an image tag (up to %d letters, digits, '_', '.' and '-', starting with a letter, digit or '_')", clip(p.Tag), MaxImageTagLength)
	}
	if !strings.HasPrefix(p.Digest, "sha256:") || len(p.Digest) != len("sha256:")+64 || strings.Trim(p.Digest[7:], "0123456789abcdef") != "" {
		return Errorf(Invalid, "detail.image-digest: %q is not a sha256 digest", clip(p.Digest))
	}
	if len(p.Account) != 12 || strings.Trim(p.Account, "0123456789") != "" {
		return Errorf(Invalid, "account: %q is not a 12-digit AWS account id", clip(p.Account))
	}
	if p.Region == "" || strings.Trim(p.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return Errorf(Invalid, "region: %q is not an AWS region", clip(p.Region))
	}
	if p.Time.IsZero() {
		return Errorf(Invalid, "time: is required")
	}
	return nil
}

// Images returns the images under a label of a registered project, keyed by service id.
func (s *Service) Images(ctx context.Context, projectID, label string) (map[string]string, error) {
	if err := ValidateID("label", label); err != nil {
		return nil, err
	}
	if err := ValidateID("project", projectID); err != nil {
		return nil, err
	}
	path := ParameterPath(projectID, label)
	// The project is read every time, at the same time as the parameters: a path can hold
	// parameters of a project that is not registered (another tool's in the account, which the
	// default empty prefix shares), and only the registration makes them a project's images. That
	// is one read more than the label's pages, and no longer a wait.
	var (
		project    Project
		projectErr error
		g          errgroup.Group
	)
	g.Go(func() error {
		project, projectErr = s.Project(ctx, projectID)
		return nil
	})
	params, err := s.Params.GetParametersByPath(ctx, path)
	_ = g.Wait()
	if projectErr != nil {
		return nil, projectErr
	}
	// An environment that lives elsewhere has its parameters there: read them again, from there
	// (the first read, at home, is at no cost in time: it ran beside the project's).
	if env, ok := project.Environment(label); ok && s.Places != nil && !env.Placement.IsZero() {
		var store ParameterStore
		if store, err = s.paramsAt(ctx, env, shiplogPerson.ID); err != nil {
			return nil, err
		}
		params, err = store.GetParametersByPath(ctx, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read images under %s: %w", path, err)
	}
	images := make(map[string]string, len(params))
	for name, v := range params {
		images[strings.TrimPrefix(name, path)] = v
	}
	return images, nil
}
