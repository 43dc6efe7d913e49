package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// showRanges prints each changed service's source range under a table of changes: the revisions,
// the compare link, and whether it goes back (docs/change-notes.md). Nothing if no range is known.
func (a *app) showRanges(w io.Writer, changes []shiplog.ServiceChange) {
	ranges := map[string]shiplog.SourceRange{}
	for _, c := range changes {
		if c.Range != nil {
			ranges[c.Service] = *c.Range
		}
	}
	a.printRanges(w, ranges)
}

func (a *app) printRanges(w io.Writer, ranges map[string]shiplog.SourceRange) {
	if len(ranges) == 0 {
		return
	}
	services := make([]string, 0, len(ranges))
	for svc := range ranges {
		services = append(services, svc)
	}
	sort.Strings(services)
	fmt.Fprintf(w, "\n%s\n", a.paint(bold, "Changes:"))
	t := a.newTable(w, "SERVICE", "REVISIONS", "COMPARE")
	for _, svc := range services {
		r := ranges[svc]
		revs := shortRev(r.FromRevision) + ".." + shortRev(r.ToRevision)
		if r.Backwards {
			revs += " (goes back)"
		}
		link := r.CompareURL
		if link == "" {
			link = r.Unknown
		}
		t.row(svc, revs, link)
	}
	_ = t.flush()
	// The commits a deploy kept (GitHub enrichment, docs/change-notes.md), per service.
	for _, svc := range services {
		r := ranges[svc]
		if len(r.Commits) == 0 && r.CommitsUnknown == "" {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", a.paint(bold, svc+" commits:"))
		for _, c := range r.Commits {
			line := "  " + c.SHA[:min(7, len(c.SHA))] + " " + c.Title
			if c.Author != "" {
				line += " (" + c.Author + ")"
			}
			for _, pr := range c.PullRequests {
				line += fmt.Sprintf(" #%d", pr)
			}
			fmt.Fprintln(w, line)
		}
		if r.CommitsTruncated {
			fmt.Fprintln(w, "  … and older commits (see the compare link)")
		}
		if r.CommitsUnknown != "" {
			fmt.Fprintln(w, "  not read: "+r.CommitsUnknown)
		}
	}
}

// showSources prints what a release knows of its images' sources.
func (a *app) showSources(w io.Writer, sources map[string]shiplog.ImageSource) {
	if len(sources) == 0 {
		return
	}
	services := make([]string, 0, len(sources))
	for svc := range sources {
		services = append(services, svc)
	}
	sort.Strings(services)
	fmt.Fprintln(w)
	t := a.newTable(w, "SERVICE", "REVISION", "REPOSITORY")
	for _, svc := range services {
		s := sources[svc]
		t.row(svc, orUnknown(shortRev(s.Revision)), orUnknown(s.Repository))
	}
	_ = t.flush()
}

func shortRev(rev string) string {
	if rev == "" {
		return "?"
	}
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func orUnknown(s string) string {
	if s == "" || s == "?" {
		return "unknown"
	}
	return s
}
