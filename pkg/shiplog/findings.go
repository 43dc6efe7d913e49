package shiplog

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// FindingSeverities are the severities of ECR scan findings, gravest first: an environment's
// max_finding_severity names one, and refuses images with a finding of it or graver.
// (Enhanced scanning's UNTRIAGED is counted as UNDEFINED.)
var FindingSeverities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"}

// severityRank is a severity's place in FindingSeverities (gravest 0); an unknown one ranks as
// UNDEFINED.
func severityRank(s string) int {
	if i := slices.Index(FindingSeverities, s); i >= 0 {
		return i
	}
	return len(FindingSeverities) - 1
}

// The scan statuses of ECR under which an image's findings are known: a basic scan's
// COMPLETE, and enhanced scanning's ACTIVE (continuously rescanned).
const (
	ScanComplete = "COMPLETE"
	ScanActive   = "ACTIVE"
)

// ImageFindings is what ECR's scan says of one image.
type ImageFindings struct {
	Image string `json:"image"`
	// Status is ECR's scan status (ScanComplete, ScanActive, IN_PROGRESS, FAILED, ...), "" if
	// the image has no scan; Detail is ECR's description of it.
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Counts are the findings by severity (FindingSeverities), when Scanned.
	Counts map[string]int `json:"counts,omitempty"`
}

// Scanned reports whether the image's findings are known.
func (f ImageFindings) Scanned() bool { return f.Status == ScanComplete || f.Status == ScanActive }

// Findings reads images' scan findings (pkg/awsecr, ECR's DescribeImageScanFindings, basic and
// enhanced). It is optional: without it, a deploy to an environment with max_finding_severity
// is refused by the findings gate.
type Findings interface {
	// ScanFindings reads the scan findings of digest-pinned ECR images, in the account and region
	// each names, one ImageFindings per image in order.
	ScanFindings(ctx context.Context, images []string) ([]ImageFindings, error)
}

// validateFindingRule checks an environment's max_finding_severity.
func validateFindingRule(field string, e Environment) error {
	if e.MaxFindingSeverity == "" {
		if e.AllowUnscanned {
			return Errorf(Invalid, "%s.allow_unscanned: is set without max_finding_severity; it lets unscanned images past the findings gate, which only max_finding_severity turns on", field)
		}
		return nil
	}
	if !slices.Contains(FindingSeverities, e.MaxFindingSeverity) {
		return Errorf(Invalid, "%s.max_finding_severity: %q is not one of %s", field, clip(e.MaxFindingSeverity), strings.Join(FindingSeverities, ", "))
	}
	return nil
}

// readFindings reads the scan findings of r's images, or says why it cannot.
func (s *Service) readFindings(ctx context.Context, r Release) ([]ImageFindings, string, error) {
	if s.Findings == nil {
		return nil, "this shiplog has no access to ECR's scan findings", nil
	}
	images := sortedValues(r.Images)
	images = slices.Compact(images)
	fs, err := s.Findings.ScanFindings(ctx, images)
	if err != nil {
		return nil, "", fmt.Errorf("the scan findings of release %s: %w", r.ID, err)
	}
	if len(fs) != len(images) {
		return nil, "", Errorf(Internal, "ECR answered %d scan findings for the %d images of release %s", len(fs), len(images), r.ID)
	}
	for i := range fs {
		fs[i].Image = images[i]
		fs[i].Detail = cleanText(fs[i].Detail, MaxDescriptionLength)
	}
	return fs, "", nil
}

// countsText says a set of counts gravest first: "2 CRITICAL, 1 HIGH".
func countsText(counts map[string]int, from, to int) string {
	var parts []string
	for i := from; i <= to && i < len(FindingSeverities); i++ {
		if n := counts[FindingSeverities[i]]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, FindingSeverities[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// rankedCounts folds counts by severity into FindingSeverities' names (unknown ones are
// UNDEFINED).
func rankedCounts(counts map[string]int) map[string]int {
	out := map[string]int{}
	for sev, n := range counts {
		out[FindingSeverities[severityRank(sev)]] += n
	}
	return out
}
