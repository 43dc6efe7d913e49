package shiplog

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// SourceRange is what changed in one service's source from the image running (or on the from
// side of a diff) to the image deployed: the range of revisions and a link to the forge's
// compare view of it. What is not known is left empty, and Unknown says why there is no range.
type SourceRange struct {
	Repository   string `json:"repository,omitempty"`
	FromRevision string `json:"from_revision,omitempty"`
	ToRevision   string `json:"to_revision,omitempty"`
	// CompareURL is the forge's view of the commits between the two revisions (GitHub, GitLab,
	// Bitbucket or CodeCommit); for a range that goes backwards, of the commits it takes out.
	CompareURL string `json:"compare_url,omitempty"`
	// Backwards is set when the image deployed was pushed before the one it replaces, or the
	// deployment is a rollback: the revisions go back.
	Backwards bool `json:"backwards,omitempty"`
	// Unknown says why part of the range is not known.
	Unknown string `json:"unknown,omitempty"`
	// Commits are the range's commits, oldest first, when the stack reads them (GitHub
	// enrichment, Service.Commits) at deploy time; CommitsTruncated says the range held more,
	// and CommitsUnknown why they could not be read. Never read again afterwards.
	Commits          []Commit `json:"commits,omitempty"`
	CommitsTruncated bool     `json:"commits_truncated,omitempty"`
	CommitsUnknown   string   `json:"commits_unknown,omitempty"`
}

// Commit is one commit of a range: its title (the message's first line), its author (a forge
// login when the forge knows one, else the Git author's name) and its pull requests' numbers.
type Commit struct {
	SHA          string `json:"sha"`
	Title        string `json:"title"`
	Author       string `json:"author,omitempty"`
	PullRequests []int  `json:"pull_requests,omitempty"`
}

// CommitHistory reads the commits from base (excluded) to head of a source repository (a web
// URL); a repository it does not serve gives none and no error.
type CommitHistory interface {
	Commits(ctx context.Context, repo, base, head string) (commits []Commit, truncated bool, err error)
}

// commitsTimeout bounds the reading of a deploy's commits: the deploy waits on it, and what is
// not read in time is only missing from the notes.
const commitsTimeout = 10 * time.Second

// maxDeploymentCommits bounds the commits one deployment keeps, over all its ranges, so that
// its record stays well inside an item's size.
const maxDeploymentCommits = 200

// withCommits reads the commits of each range that has a compare link (both revisions and the
// repository known) through s.Commits, in place. A failure is noted on the range, never an
// error: change notes only describe the deploy. A range going back gets the commits it takes
// out.
func (s *Service) withCommits(ctx context.Context, ranges map[string]SourceRange) {
	if s.Commits == nil || len(ranges) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, commitsTimeout)
	defer cancel()
	kept := 0
	for _, svc := range slices.Sorted(maps.Keys(ranges)) {
		r := ranges[svc]
		if r.CompareURL == "" || r.FromRevision == "" || r.ToRevision == "" {
			continue
		}
		if kept >= maxDeploymentCommits {
			r.CommitsUnknown = fmt.Sprintf("not read: a deployment keeps at most %d commits", maxDeploymentCommits)
			ranges[svc] = r
			continue
		}
		base, head := r.FromRevision, r.ToRevision
		if r.Backwards {
			base, head = head, base
		}
		commits, truncated, err := s.Commits.Commits(ctx, r.Repository, base, head)
		if err != nil {
			r.CommitsUnknown = err.Error()
			if s.Log != nil {
				s.Log.WarnContext(ctx, "commits of a range not read", "service", svc, "repository", r.Repository, "err", err)
			}
		} else {
			if len(commits) > maxDeploymentCommits-kept {
				commits, truncated = commits[len(commits)-(maxDeploymentCommits-kept):], true
			}
			r.Commits, r.CommitsTruncated = commits, truncated
			kept += len(commits)
		}
		ranges[svc] = r
	}
}

// imageSet is one side of a comparison: the images, and what is known of their sources and push
// times, by service.
type imageSet struct {
	images   map[string]string
	sources  map[string]ImageSource
	pushedAt map[string]int64
}

func releaseSet(r Release) imageSet {
	return imageSet{images: r.Images, sources: r.Sources, pushedAt: r.PushedAt}
}

func stateSet(st *EnvironmentState) imageSet {
	if st == nil {
		return imageSet{}
	}
	return imageSet{images: st.Images, sources: st.Sources, pushedAt: st.PushedAt}
}

// withRanges sets the source range of each changed or added service of changes, from what the
// two sides know; rollback marks every changed service as going back.
func withRanges(changes []ServiceChange, from, to imageSet, rollback bool) []ServiceChange {
	for i, c := range changes {
		if c.Change != ChangeChanged && c.Change != ChangeAdded {
			continue
		}
		r := sourceRange(from.sources[c.Service], to.sources[c.Service], c.Change == ChangeAdded)
		if c.Change == ChangeChanged {
			f, fok := from.pushedAt[c.Service]
			t, tok := to.pushedAt[c.Service]
			r.Backwards = rollback || (fok && tok && t < f)
			if r.Backwards && r.FromRevision != "" && r.ToRevision != "" {
				r.CompareURL = CompareURL(r.Repository, r.ToRevision, r.FromRevision)
			}
		}
		// A service of which nothing is known on either side has no range: most images carry
		// nothing, and a note on each would say nothing.
		if from.sources[c.Service].Known() || to.sources[c.Service].Known() || r.Backwards {
			changes[i].Range = &r
		}
	}
	return changes
}

// sourceRange is the range from one image's source to another's.
func sourceRange(from, to ImageSource, added bool) SourceRange {
	r := SourceRange{FromRevision: from.Revision, ToRevision: to.Revision, Repository: to.Repository}
	if r.Repository == "" {
		r.Repository = from.Repository
	}
	if !from.Known() && !to.Known() {
		r.Unknown = "neither image's source is known"
		return r
	}
	var unknown []string
	switch {
	case added:
		r.FromRevision = ""
	case from.Repository != "" && to.Repository != "" && from.Repository != to.Repository:
		unknown = append(unknown, fmt.Sprintf("the source repository changed from %s to %s", from.Repository, to.Repository))
	}
	if !added && from.Revision == "" {
		unknown = append(unknown, "the running image's revision is not known")
	}
	if to.Revision == "" {
		unknown = append(unknown, "the deployed image's revision is not known")
	}
	if r.Repository == "" {
		unknown = append(unknown, "the source repository is not known")
	}
	if len(unknown) == 0 && !added && r.FromRevision != r.ToRevision {
		r.CompareURL = CompareURL(r.Repository, r.FromRevision, r.ToRevision)
		if r.CompareURL == "" {
			unknown = append(unknown, "no compare view is known for "+hostOf(r.Repository))
		}
	}
	r.Unknown = strings.Join(unknown, "; ")
	return r
}

func hostOf(repo string) string {
	if u, err := url.Parse(repo); err == nil && u.Host != "" {
		return u.Host
	}
	return repo
}

// CompareURL returns the web page of the commits from base to head in a source repository, for
// GitHub (and GitHub Enterprise: a host named github.*), GitLab (gitlab.*), Bitbucket Cloud and
// AWS CodeCommit; "" for any other host.
func CompareURL(repo, base, head string) string {
	u, err := url.Parse(repo)
	if err != nil || u.Host == "" || base == "" || head == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	path := strings.Trim(u.Path, "/")
	switch {
	case host == "github.com" || strings.HasPrefix(host, "github."):
		return repo + "/compare/" + base + "..." + head
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		return repo + "/-/compare/" + base + "..." + head
	case host == "bitbucket.org":
		// Bitbucket names the head first, then the base, separated by a carriage return.
		return repo + "/branches/compare/" + head + "%0D" + base + "#diff"
	case strings.HasPrefix(host, "git-codecommit.") && strings.HasSuffix(host, ".amazonaws.com"):
		region := strings.TrimSuffix(strings.TrimPrefix(host, "git-codecommit."), ".amazonaws.com")
		name, ok := strings.CutPrefix(path, "v1/repos/")
		if !ok || name == "" || strings.Contains(name, "/") || !isRegionName(region) {
			return ""
		}
		return "https://" + region + ".console.aws.amazon.com/codesuite/codecommit/repositories/" + url.PathEscape(name) +
			"/compare/" + base + "/.../" + head + "?region=" + region
	}
	return ""
}

func isRegionName(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// rangeDetail adds the ranges of changes to an event's detail, per service: "revision.{service}"
// is "{from}..{to}" (either may be empty when unknown), "compare.{service}" the compare link and
// "backwards.{service}" "true" for a range that goes back.
func rangeDetail(detail map[string]string, ranges map[string]SourceRange) {
	for svc, r := range ranges {
		if r.FromRevision != "" || r.ToRevision != "" {
			detail["revision."+svc] = r.FromRevision + ".." + r.ToRevision
		}
		if r.Repository != "" {
			detail["source."+svc] = r.Repository
		}
		if r.CompareURL != "" {
			detail["compare."+svc] = r.CompareURL
		}
		if r.Backwards {
			detail["backwards."+svc] = "true"
		}
	}
}

// rangesOf returns the ranges of changes by service, nil if none has one.
func rangesOf(changes []ServiceChange) map[string]SourceRange {
	var out map[string]SourceRange
	for _, c := range changes {
		if c.Range == nil {
			continue
		}
		if out == nil {
			out = map[string]SourceRange{}
		}
		out[c.Service] = *c.Range
	}
	return out
}
