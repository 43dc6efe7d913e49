package shiplog

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
)

// metricsReleaseReaders bounds how many releases Metrics reads at once.
const metricsReleaseReaders = 8

// MetricsInput asks for an environment's DORA metrics over the window [Since, Until), in Unix
// seconds: Until itself is outside it. Until 0 means the end of the current second (now + 1), so
// that the default window includes now and a deployment made in this second counts at once;
// Since 0 means DefaultMetricsWindow before Until. The window may be at most MaxMetricsWindow
// long.
type MetricsInput struct {
	ProjectID   string
	Environment string
	Since       int64
	Until       int64
}

// window validates the request and fills in the defaults.
func (in MetricsInput) window(now time.Time) (MetricsInput, error) {
	if err := ValidateID("project", in.ProjectID); err != nil {
		return in, err
	}
	if err := ValidateID("environment", in.Environment); err != nil {
		return in, err
	}
	if in.Since < 0 {
		return in, Errorf(Invalid, "since: %d is before 1970; give Unix seconds", in.Since)
	}
	if in.Until < 0 {
		return in, Errorf(Invalid, "until: %d is before 1970; give Unix seconds", in.Until)
	}
	untilSaid := "until"
	if in.Until == 0 {
		// Until is exclusive: now.Unix() would leave out what happened in the current second.
		in.Until = now.Unix() + 1
		untilSaid = "until (now, by default)"
	}
	if in.Since == 0 {
		in.Since = in.Until - int64(DefaultMetricsWindow/time.Second)
	}
	if in.Since >= in.Until {
		return in, Errorf(Invalid, "since: %d is not before %s %d: the window [since, until) would be empty", in.Since, untilSaid, in.Until)
	}
	if in.Until-in.Since > int64(MaxMetricsWindow/time.Second) {
		return in, Errorf(Invalid, "the window from since %d to until %d is %.1f days long; the longest is %d days",
			in.Since, in.Until, float64(in.Until-in.Since)/86400, int64(MaxMetricsWindow/(24*time.Hour)))
	}
	return in, nil
}

// Metrics are the four DORA metrics of one environment over the window [Since, Until), computed
// exactly from the record (see Service.Metrics for the definitions).
type Metrics struct {
	ProjectID   string `json:"project_id"`
	Environment string `json:"environment"`
	Since       int64  `json:"since"`
	Until       int64  `json:"until"`
	// Deployments is how many deployments to the environment were created in the window.
	Deployments         int                 `json:"deployments"`
	DeploymentFrequency DeploymentFrequency `json:"deployment_frequency"`
	LeadTime            LeadTime            `json:"lead_time_seconds"`
	ChangeFailureRate   ChangeFailureRate   `json:"change_failure_rate"`
	TimeToRestore       TimeToRestore       `json:"time_to_restore_seconds"`
}

// DeploymentFrequency is the window's deployments per day (86,400 s) and per week (604,800 s) of
// the window's length.
type DeploymentFrequency struct {
	PerDay  float64 `json:"per_day"`
	PerWeek float64 `json:"per_week"`
}

// LeadTime summarises the lead times for changes, in seconds: Count samples, their median and
// 90th percentile by the nearest-rank method (see Percentile); both nil (JSON null) when Count is
// 0, for there is no such time.
type LeadTime struct {
	Count  int    `json:"count"`
	Median *int64 `json:"median"`
	P90    *int64 `json:"p90"`
}

// ChangeFailureRate is Failed of the window's Total deployments, and Failed/Total (0 when Total
// is 0).
type ChangeFailureRate struct {
	Failed int     `json:"failed"`
	Total  int     `json:"total"`
	Rate   float64 `json:"rate"`
}

// TimeToRestore summarises the times to restore of the window's failed deployments, in seconds:
// Count restored failures, the median and 90th percentile by the nearest-rank method (nil when
// Count is 0); Unrestored counts the failures no later deployment has restored yet.
type TimeToRestore struct {
	Count      int    `json:"count"`
	Median     *int64 `json:"median"`
	P90        *int64 `json:"p90"`
	Unrestored int    `json:"unrestored"`
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of samples sorted ascending, by the
// nearest-rank method: the sample of rank ⌈p/100 × n⌉ (ranks from 1), the smallest sample that
// at least p percent of the samples do not exceed. It is always one of the samples: the median
// (p = 50) of an even count is the lower of the two middle ones, and any percentile of one sample
// is that sample. 0 for no samples.
func Percentile(sorted []int64, p int) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ⌈p·n/100⌉ in integers, so that no rounding moves a rank
	return sorted[min(max(rank, 1), n)-1]
}

// Metrics computes an environment's DORA metrics over a window, exactly, from the recorded
// deployments, their statuses and their releases' push times. A deployment belongs to the window
// if its created_at is in [since, until). What happened to the window's deployments is judged on
// the whole record as it is now, so a window's numbers can change after it: a deployment reported
// failed, rolled back, or restored later counts as such.
//
//   - Deployments and DeploymentFrequency: the window's deployments (deploys, promotions and
//     rollbacks alike), per day and per week of the window's length.
//   - LeadTime: for each image URI that a deployment of the window ran for the first time in the
//     environment (it ran in no earlier deployment there, however long ago; deployments run every
//     image of their release), the time from its push to that deployment's created_at. An image
//     counts once, even when one push feeds several services, from its earliest push time among
//     them. Push times are those the release recorded (Release.PushedAt): an image put under a
//     label by hand, or one whose release was created before push times were recorded, has none
//     and is left out.
//   - ChangeFailureRate: the window's deployments later marked failed (a failed entry in their
//     status history) or rolled back (a later rollback's reverts names them), over all of the
//     window's deployments.
//   - TimeToRestore: for each of those failures, the time from the failure (the failed entry's at,
//     or the rollback's created_at, whichever is earlier) to the verified entry of the next
//     deployment to the environment that became verified. Failures with no such deployment yet
//     are Unrestored. Deployments recorded before statuses existed were never verified.
//
// Lead time and time to restore cannot be negative; a clock skew that would make one so (a push
// dated up to MaxPushAhead ahead) counts as 0.
//
// It reads the environment's deployments created since the window's start (DeploymentsSince: one
// call per page of the store, whatever the history before). Each deployment recorded since deploys
// work out their Leads carries its lead times, and every status transition is on it, so nothing
// else is read. If a deployment of the window predates Leads, it falls back to the reading of
// before (see metricsFromHistory): the deployments from the newest back to the window's start, and
// before it while an image first deployed in the window may have run earlier, and each of their
// releases once. An unknown project, or an environment that is neither the project's nor has any
// deployment, is NotFound.
func (s *Service) Metrics(ctx context.Context, in MetricsInput) (Metrics, error) {
	in, err := in.window(s.Now())
	if err != nil {
		return Metrics{}, err
	}
	out := Metrics{ProjectID: in.ProjectID, Environment: in.Environment, Since: in.Since, Until: in.Until}
	recent, err := s.Store.DeploymentsSince(ctx, in.ProjectID, in.Environment, in.Since)
	if err != nil {
		return Metrics{}, fmt.Errorf("deployments to %s/%s since %d: %w", in.ProjectID, in.Environment, in.Since, err)
	}
	window := inWindow(recent, in.Until)
	if len(window) == 0 || slices.ContainsFunc(window, func(d DeploymentRecord) bool { return d.Leads == nil }) {
		// No deployment (the project or environment may be unknown), or some recorded before
		// deploys worked out their lead times.
		return s.metricsFromHistory(ctx, in, out)
	}
	out.Deployments = len(window)
	out.DeploymentFrequency = frequency(len(window), in)
	out.ChangeFailureRate, out.TimeToRestore = failures(recent, window)
	seen := map[string]bool{}
	var samples []int64
	for _, d := range window {
		for _, img := range d.Leads.Images {
			if !seen[img.URI] {
				seen[img.URI] = true
				samples = append(samples, max(d.CreatedAt-img.PushedAt, 0))
			}
		}
	}
	out.LeadTime.Count, out.LeadTime.Median, out.LeadTime.P90 = summary(samples)
	return out, nil
}

// inWindow returns the deployments of recent (newest first) created before until, oldest first.
func inWindow(recent []DeploymentRecord, until int64) []DeploymentRecord {
	var window []DeploymentRecord
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].CreatedAt < until {
			window = append(window, recent[i])
		}
	}
	return window
}

func frequency(n int, in MetricsInput) DeploymentFrequency {
	seconds := float64(in.Until - in.Since)
	return DeploymentFrequency{PerDay: float64(n) * 86400 / seconds, PerWeek: float64(n) * 604800 / seconds}
}

// metricsFromHistory computes the metrics of a window with a deployment recorded before deploys
// worked out their lead times: from the deployments and their releases, reading back before the
// window while an image first deployed in it may have run earlier.
func (s *Service) metricsFromHistory(ctx context.Context, in MetricsInput, out Metrics) (Metrics, error) {
	h := history{svc: s, projectID: in.ProjectID, env: in.Environment, releases: map[string]Release{}}

	// The deployments created since the window's start, newest first: those of the window, and
	// the later ones that may roll them back or restore them.
	var recent []DeploymentRecord
	var older []DeploymentRecord // the rest of the page that reached before the window
	for !h.done && older == nil {
		items, err := h.next(ctx)
		if err != nil {
			return Metrics{}, err
		}
		for i, d := range items {
			if d.CreatedAt < in.Since {
				older = items[i:]
				break
			}
			recent = append(recent, d)
		}
	}
	window := inWindow(recent, in.Until) // oldest first
	out.Deployments = len(window)
	out.DeploymentFrequency = frequency(len(window), in)
	out.ChangeFailureRate, out.TimeToRestore = failures(recent, window)
	var err error
	if out.LeadTime, err = h.leadTime(ctx, window, older); err != nil {
		return Metrics{}, err
	}
	return out, nil
}

// failures works out the change failure rate and the times to restore of the window's
// deployments; recent is every deployment since the window's start, newest first.
func failures(recent, window []DeploymentRecord) (ChangeFailureRate, TimeToRestore) {
	// A rollback reverts the deployment current before it, so it is recorded after it.
	rolledBack := map[string]int64{}
	for _, d := range recent {
		if d.Kind == KindRollback && d.Reverts != "" {
			if at, ok := rolledBack[d.Reverts]; !ok || d.CreatedAt < at {
				rolledBack[d.Reverts] = d.CreatedAt
			}
		}
	}
	// restoredAt[id] is when the next deployment after id that became verified did so.
	restoredAt := map[string]int64{}
	next, hasNext := int64(0), false
	for _, d := range recent {
		if hasNext {
			restoredAt[d.ID] = next
		}
		if at, ok := entryAt(d, StatusVerified); ok {
			next, hasNext = at, true
		}
	}

	cfr := ChangeFailureRate{Total: len(window)}
	var ttr TimeToRestore
	var restores []int64
	for _, d := range window {
		failedAt, failed := entryAt(d, StatusFailed)
		if at, ok := rolledBack[d.ID]; ok && (!failed || at < failedAt) {
			failedAt, failed = at, true
		}
		if !failed {
			continue
		}
		cfr.Failed++
		at, ok := restoredAt[d.ID]
		if !ok {
			ttr.Unrestored++
			continue
		}
		restores = append(restores, max(at-failedAt, 0))
	}
	if cfr.Total > 0 {
		cfr.Rate = float64(cfr.Failed) / float64(cfr.Total)
	}
	ttr.Count, ttr.Median, ttr.P90 = summary(restores)
	return cfr, ttr
}

// entryAt returns the time of the deployment's first status entry of status.
func entryAt(d DeploymentRecord, status string) (int64, bool) {
	for _, e := range d.StatusHistory {
		if e.Status == status {
			return e.At, true
		}
	}
	return 0, false
}

// firstRun is an image that a deployment of the window ran for the first time in the window.
type firstRun struct {
	deployedAt, pushedAt int64
}

// leadTime finds the images that the window's deployments (oldest first) ran for the first time
// in the environment, and measures the lead time of those with a push time. older is the part of
// the last page read that precedes the window; the history reads on from there as needed.
func (h *history) leadTime(ctx context.Context, window, older []DeploymentRecord) (LeadTime, error) {
	if err := h.readReleases(ctx, window); err != nil {
		return LeadTime{}, err
	}
	seen := map[string]bool{}
	candidates := map[string]firstRun{} // by image URI, those with a push time
	for _, d := range window {
		r := h.releases[d.ReleaseID]
		for _, svc := range sortedKeys(r.Images) {
			uri := r.Images[svc]
			if seen[uri] {
				continue
			}
			seen[uri] = true
			if at, ok := pushedAt(r, uri); ok {
				candidates[uri] = firstRun{deployedAt: d.CreatedAt, pushedAt: at}
			}
		}
	}
	// An image that ran before the window is not new in it.
	for len(candidates) > 0 {
		if older == nil {
			if h.done {
				break
			}
			var err error
			if older, err = h.next(ctx); err != nil {
				return LeadTime{}, err
			}
		}
		if err := h.readReleases(ctx, older); err != nil {
			return LeadTime{}, err
		}
		for _, d := range older {
			for _, uri := range h.releases[d.ReleaseID].Images {
				delete(candidates, uri)
			}
		}
		older = nil
	}
	samples := make([]int64, 0, len(candidates))
	for _, c := range candidates {
		samples = append(samples, max(c.deployedAt-c.pushedAt, 0))
	}
	var lt LeadTime
	lt.Count, lt.Median, lt.P90 = summary(samples)
	return lt, nil
}

// summary sorts samples and returns their count, median and 90th percentile (nil when there are
// none).
func summary(samples []int64) (int, *int64, *int64) {
	if len(samples) == 0 {
		return 0, nil, nil
	}
	slices.Sort(samples)
	median, p90 := Percentile(samples, 50), Percentile(samples, 90)
	return len(samples), &median, &p90
}

// pushedAt returns the earliest push time the release recorded for uri, over the services that
// run it.
func pushedAt(r Release, uri string) (int64, bool) {
	var at int64
	found := false
	for svc, u := range r.Images {
		if t, ok := r.PushedAt[svc]; ok && u == uri && (!found || t < at) {
			at, found = t, true
		}
	}
	return at, found
}

// history pages through one environment's deployments, newest first, and reads their releases.
type history struct {
	svc       *Service
	projectID string
	env       string
	cursor    string
	done      bool
	releases  map[string]Release
}

// next returns the next page of deployments; done is set once it is the last.
func (h *history) next(ctx context.Context) ([]DeploymentRecord, error) {
	page, err := h.svc.Deployments(ctx, h.projectID, DeploymentFilter{Environment: h.env}, PageRequest{Limit: MaxPageLimit, Cursor: h.cursor})
	if err != nil {
		return nil, err
	}
	h.cursor = page.NextCursor
	h.done = page.NextCursor == ""
	return page.Items, nil
}

// readReleases reads the releases of deps not read yet, metricsReleaseReaders at a time.
func (h *history) readReleases(ctx context.Context, deps []DeploymentRecord) error {
	var ids []string
	asked := map[string]bool{}
	for _, d := range deps {
		if _, ok := h.releases[d.ReleaseID]; !ok && !asked[d.ReleaseID] {
			asked[d.ReleaseID] = true
			ids = append(ids, d.ReleaseID)
		}
	}
	// Every read runs to its end, and the first error in ids' order is the one answered, so
	// each read keeps its own error and the group none.
	got := make([]Release, len(ids))
	errs := make([]error, len(ids))
	var g errgroup.Group
	g.SetLimit(metricsReleaseReaders)
	for i, id := range ids {
		g.Go(func() error {
			got[i], errs[i] = h.svc.Store.GetRelease(ctx, h.projectID, id)
			return nil
		})
	}
	_ = g.Wait()
	for i, id := range ids {
		if errs[i] != nil {
			return h.svc.notFound(fmt.Errorf("release %s of a deployment to %s/%s: %w", id, h.projectID, h.env, errs[i]), h.projectID, id)
		}
		h.releases[id] = got[i]
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
