package shiplog

import (
	"fmt"
	"strings"
)

// findingsGate refuses a release whose images' ECR scan findings reach the environment's
// max_finding_severity (that severity or a graver one), naming each image and its counts. An
// image with no completed scan is refused too, unless the environment allows unscanned images
// (allow_unscanned), when the decision names it. A rollback passes it without a look (it returns
// to images that ran there), and so does break glass.
type findingsGate struct{}

func (findingsGate) Name() string     { return "findings" }
func (findingsGate) BreakGlass() bool { return true }

func (findingsGate) Evaluate(in GateInput) Decision {
	env := in.Environment
	limit := env.MaxFindingSeverity
	switch {
	case limit == "":
		return allow("%s sets no max_finding_severity", env.ID)
	case in.Kind == KindRollback:
		return allow("a rollback returns to images that ran in %s: their findings are not checked", env.ID)
	case in.FindingsUnread != "":
		return refuse(0, "%s/%s refuses images with %s findings, and %s, so nothing says release %s's images are clear. An emergency deployment passes the findings",
			in.ProjectID, env.ID, orGraver(limit), in.FindingsUnread, in.Release.ID)
	}
	rank := severityRank(limit)
	var over, unscanned, unscannedOK, below []string
	for _, f := range in.Findings {
		name := imageName(in.Release, f.Image)
		if !f.Scanned() {
			status := f.Status
			if status == "" {
				status = "no scan"
			}
			if f.Detail != "" {
				status += ": " + f.Detail
			}
			if env.AllowUnscanned {
				unscannedOK = append(unscannedOK, fmt.Sprintf("%s (%s)", name, status))
			} else {
				unscanned = append(unscanned, fmt.Sprintf("%s (%s)", name, status))
			}
			continue
		}
		counts := rankedCounts(f.Counts)
		if at := countsText(counts, 0, rank); at != "" {
			over = append(over, fmt.Sprintf("%s has %s", name, at))
		} else if b := countsText(counts, rank+1, len(FindingSeverities)-1); b != "" {
			below = append(below, fmt.Sprintf("%s: %s", name, b))
		}
	}
	switch {
	case len(over) > 0:
		return refuse(0, "release %s has images with findings of %s: %s. Deploy a release with fixed images; an emergency deployment passes the findings",
			in.Release.ID, orGraver(limit), strings.Join(over, "; "))
	case len(unscanned) > 0:
		return refuse(0, "release %s has images with no completed ECR scan, which %s/%s refuses (allow_unscanned lets them through): %s",
			in.Release.ID, in.ProjectID, env.ID, strings.Join(unscanned, "; "))
	}
	msg := fmt.Sprintf("no image of release %s has findings of %s", in.Release.ID, orGraver(limit))
	if len(below) > 0 {
		msg += " (below it: " + strings.Join(below, "; ") + ")"
	}
	if len(unscannedOK) > 0 {
		msg += "; allowed unscanned: " + strings.Join(unscannedOK, "; ")
	}
	return allow("%s", msg)
}

func orGraver(sev string) string {
	if severityRank(sev) == 0 {
		return sev
	}
	return sev + " or graver"
}

// imageName names an image by the services that run it: "web, worker (uri)".
func imageName(r Release, uri string) string {
	var svcs []string
	for _, svc := range sortedKeys(r.Images) {
		if r.Images[svc] == uri {
			svcs = append(svcs, svc)
		}
	}
	if len(svcs) == 0 {
		return uri
	}
	return strings.Join(svcs, ", ") + " (" + uri + ")"
}
