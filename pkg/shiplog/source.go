package shiplog

import (
	"context"
	"net/url"
	"regexp"
	"strings"
)

// ImageSource is what is known of the source an image was built from: its Git revision and the
// URL of its source repository, each with where it was learnt. Either may be unknown (empty):
// shiplog records what the image, its tag or CI says, and never guesses.
type ImageSource struct {
	Revision string `json:"revision,omitempty"`
	// Repository is the source repository's web URL (https://github.com/org/repo), without
	// credentials, query or a trailing ".git".
	Repository string `json:"repository,omitempty"`
	// RevisionFrom and RepositoryFrom say where each was learnt: SourceFromAnnotation,
	// SourceFromRelease or SourceFromTag.
	RevisionFrom   string `json:"revision_from,omitempty"`
	RepositoryFrom string `json:"repository_from,omitempty"`
}

// Where a source's revision or repository was learnt, in the order shiplog believes them: what
// the build stamped on the image, then what CI said when it created the release, then what the
// tag's convention implies.
const (
	SourceFromAnnotation = "annotation"
	SourceFromRelease    = "release_request"
	SourceFromTag        = "tag"
)

// The OCI annotation keys (also the label keys) of an image's source.
const (
	AnnotationRevision = "org.opencontainers.image.revision"
	AnnotationSource   = "org.opencontainers.image.source"
)

// MaxSourceURLLength bounds a source repository's URL.
const MaxSourceURLLength = 256

// Known reports whether anything is known of the source.
func (s ImageSource) Known() bool { return s.Revision != "" || s.Repository != "" }

// ImageMetadata reads what an image says of itself. It is optional: without it, a push's source
// is learnt from its tag alone.
type ImageMetadata interface {
	// Annotations returns the OCI annotations of a digest-pinned image: its manifest's, or, for
	// an image index, the index's merged over its first manifest's. NotFound if the image is gone.
	Annotations(ctx context.Context, uri string) (map[string]string, error)
}

var revisionRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// NormalizeRevision returns rev as a Git revision (7 to 64 hex digits, lower case), or false if
// it is not one. Branch names and tags are not revisions: they move.
func NormalizeRevision(rev string) (string, bool) {
	rev = strings.ToLower(strings.TrimSpace(rev))
	return rev, revisionRE.MatchString(rev)
}

// NormalizeSourceURL returns a source repository URL in its web form: https, no credentials, no
// query or fragment, no trailing ".git" or "/". It takes https and http URLs, git+https, ssh://
// and scp-like git@host:path remotes. False if u is none of those.
func NormalizeSourceURL(u string) (string, bool) {
	u = strings.TrimSpace(u)
	if u == "" || len(u) > MaxSourceURLLength || strings.ContainsAny(u, " \t\r\n\"<>\\") {
		return "", false
	}
	u = strings.TrimPrefix(u, "git+")
	if !strings.Contains(u, "://") {
		// scp-like: git@github.com:org/repo.git
		at, rest, ok := strings.Cut(u, "@")
		host, path, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || at == "" || host == "" || path == "" {
			return "", false
		}
		u = "https://" + host + "/" + path
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.Opaque != "" {
		return "", false
	}
	switch p.Scheme {
	case "https", "http", "ssh", "git":
	default:
		return "", false
	}
	host := p.Hostname()
	if host == "" || strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return "", false
	}
	path := strings.TrimSuffix(strings.TrimRight(p.Path, "/"), ".git")
	if path == "" || path == "/" || strings.Contains(path, "..") {
		return "", false
	}
	port := p.Port()
	if p.Scheme == "ssh" || p.Scheme == "git" {
		port = "" // a clone port, not the web one
	}
	out := "https://" + strings.ToLower(host)
	if p.Scheme == "http" {
		out = "http://" + strings.ToLower(host)
	}
	if port != "" {
		out += ":" + port
	}
	return out + path, true
}

// SourceFromAnnotations returns what an image's annotations say of its source, and a note for
// each annotation present but unusable.
func SourceFromAnnotations(ann map[string]string) (ImageSource, []string) {
	var s ImageSource
	var notes []string
	if v, ok := ann[AnnotationRevision]; ok {
		if rev, ok := NormalizeRevision(v); ok {
			s.Revision, s.RevisionFrom = rev, SourceFromAnnotation
		} else {
			notes = append(notes, AnnotationRevision+" "+quoteClip(v)+" is not a Git revision (7 to 64 hex digits)")
		}
	}
	if v, ok := ann[AnnotationSource]; ok {
		if u, ok := NormalizeSourceURL(v); ok {
			s.Repository, s.RepositoryFrom = u, SourceFromAnnotation
		} else {
			notes = append(notes, AnnotationSource+" "+quoteClip(v)+" is not a repository URL")
		}
	}
	return s, notes
}

// TagSource returns the revision a tag names by one of the conventions shiplog knows:
// "ref.<sha>" (as weco-deploy tagged), "sha-<sha>" (docker/metadata-action's type=sha), each
// with 7 to 64 hex digits, or a bare 40- or 64-digit sha. Any other tag names no revision.
func TagSource(tag string) ImageSource {
	for _, prefix := range []string{"ref.", "sha-"} {
		if rest, ok := strings.CutPrefix(tag, prefix); ok {
			if revisionRE.MatchString(rest) {
				return ImageSource{Revision: rest, RevisionFrom: SourceFromTag}
			}
			return ImageSource{}
		}
	}
	// A bare short hex tag could be a build number or a date: only a full sha is taken.
	if (len(tag) == 40 || len(tag) == 64) && revisionRE.MatchString(tag) {
		return ImageSource{Revision: tag, RevisionFrom: SourceFromTag}
	}
	return ImageSource{}
}

// Over returns s with each field it does not know taken from under: s is believed first.
func (s ImageSource) Over(under ImageSource) ImageSource {
	if s.Revision == "" && under.Revision != "" {
		s.Revision, s.RevisionFrom = under.Revision, under.RevisionFrom
	}
	if s.Repository == "" && under.Repository != "" {
		s.Repository, s.RepositoryFrom = under.Repository, under.RepositoryFrom
	}
	return s
}

// rank orders where a field was learnt: lower is believed first.
func sourceRank(from string) int {
	switch from {
	case SourceFromAnnotation:
		return 0
	case SourceFromRelease:
		return 1
	case SourceFromTag:
		return 2
	}
	return 3
}

// mergeSources combines what a push recorded with what CI said in a release request, field by
// field in the documented order (annotation, release request, tag).
func mergeSources(pushed, stated ImageSource) ImageSource {
	out := pushed
	if stated.Revision != "" && (out.Revision == "" || sourceRank(SourceFromRelease) < sourceRank(out.RevisionFrom)) {
		out.Revision, out.RevisionFrom = stated.Revision, SourceFromRelease
	}
	if stated.Repository != "" && (out.Repository == "" || sourceRank(SourceFromRelease) < sourceRank(out.RepositoryFrom)) {
		out.Repository, out.RepositoryFrom = stated.Repository, SourceFromRelease
	}
	return out
}

// SourceInput is what CI says of one service's source when it creates a release.
type SourceInput struct {
	Revision   string `json:"revision,omitempty"`
	Repository string `json:"repository,omitempty"`
}

// validateSources checks a release request's sources: each names a service of the request and
// holds a revision or a repository in their forms. It returns them normalised.
func validateSources(field string, in map[string]SourceInput) (map[string]ImageSource, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > MaxServicesPerProject {
		return nil, Errorf(Invalid, "%s: %d services; at most %d", field, len(in), MaxServicesPerProject)
	}
	out := make(map[string]ImageSource, len(in))
	for svc, si := range in {
		if err := ValidateID(field+" key", svc); err != nil {
			return nil, err
		}
		var s ImageSource
		if si.Revision != "" {
			rev, ok := NormalizeRevision(si.Revision)
			if !ok {
				return nil, Errorf(Invalid, "%s.%s.revision: %q is not a Git commit sha (7 to 64 hex digits)", field, svc, clip(si.Revision))
			}
			s.Revision, s.RevisionFrom = rev, SourceFromRelease
		}
		if si.Repository != "" {
			u, ok := NormalizeSourceURL(si.Repository)
			if !ok {
				return nil, Errorf(Invalid, "%s.%s.repository: %q is not a repository URL (https://host/owner/repo, up to %d characters)", field, svc, clip(si.Repository), MaxSourceURLLength)
			}
			s.Repository, s.RepositoryFrom = u, SourceFromRelease
		}
		if !s.Known() {
			return nil, Errorf(Invalid, "%s.%s: names neither a revision nor a repository", field, svc)
		}
		out[svc] = s
	}
	return out, nil
}

// releaseSources returns the source of each of a release's images: what the service's newest push
// recorded (if the image is that push's), merged with what CI stated. Services with nothing known
// are absent; nil if none is known.
func releaseSources(images map[string]string, pushes map[string]ImageRecord, stated map[string]ImageSource) map[string]ImageSource {
	var out map[string]ImageSource
	for svc, uri := range images {
		var s ImageSource
		if rec, ok := pushes[svc]; ok && rec.URI == uri && rec.Source != nil {
			s = *rec.Source
		}
		s = mergeSources(s, stated[svc])
		if s.Known() {
			if out == nil {
				out = make(map[string]ImageSource, len(images))
			}
			out[svc] = s
		}
	}
	return out
}

func quoteClip(s string) string { return `"` + clip(s) + `"` }
