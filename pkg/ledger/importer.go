package ledger

import (
	"context"
	"fmt"
	"sort"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Import builds the ops that store records as they are, with no event, condition or counter of
// their own: for moving a store written in another layout onto the ledger (the embedded store's
// upgrade from its first file layout). Records are added in any order; Ops returns them, with
// each project's latest pointer, to be written in one atomic write.
type Import struct {
	ops      []Op
	latest   map[string]string
	projects bool
}

// Project adds a registered project (as its first registration) and its repository items.
func (im *Import) Project(p shiplog.Project) {
	mappings := repoMappings(p)
	repos := sortedKeys(mappings)
	im.ops = append(im.ops, put(projectKey(p.ID), newProjectRecord(p, 1, repos, false, true)))
	for _, r := range repos {
		im.ops = append(im.ops, put(repoKey(r, p.ID), mappings[r]))
	}
	im.ops = append(im.ops, runtimeOps(nil, p)...)
	im.projects = true
}

// Push adds a service's newest push.
func (im *Import) Push(rec shiplog.ImageRecord) {
	im.ops = append(im.ops, put(pushKey(rec.ProjectID, rec.ServiceID), pushRecord(rec)),
		put(seenKey(rec.ProjectID, rec.ServiceID, rec.URI), seenRecord{PushedAt: rec.PushedAt}))
}

// Release adds a release as it reads (its count, last deployment and verifications included).
func (im *Import) Release(r shiplog.Release) {
	im.ops = append(im.ops, put(releaseKey(r.ID), newReleaseRecord(r)))
	if im.latest == nil {
		im.latest = map[string]string{}
	}
	if r.ID > im.latest[r.ProjectID] {
		im.latest[r.ProjectID] = r.ID
	}
}

// Deployment adds a deployment's listing items; indexed says it is listed for its release too.
func (im *Import) Deployment(d shiplog.DeploymentRecord, indexed bool) {
	rec := newDeploymentRecord(d)
	for _, k := range listingKeys(d.ProjectID, d.Environment.ID, d.ReleaseID, d.ID, indexed) {
		im.ops = append(im.ops, put(k, rec))
	}
}

// State adds an environment's state.
func (im *Import) State(st shiplog.EnvironmentState) {
	im.ops = append(im.ops, put(envKey(st.ProjectID, st.Environment.ID), newStateRecord(st)))
}

// Event adds an entry of a project's event log.
func (im *Import) Event(ev shiplog.Event) error {
	ops, err := eventOps(ev)
	if err != nil {
		return err
	}
	im.ops = append(im.ops, ops...)
	return nil
}

// ReleaseKey adds an idempotency key of create-release.
func (im *Import) ReleaseKey(k shiplog.ReleaseKey) {
	im.ops = append(im.ops, put(relKeyKey(k.ProjectID, k.Key), newKeyRecord(k)))
}

// Parameter adds a parameter (for drivers that hold them).
func (im *Import) Parameter(name, value string) {
	im.ops = append(im.ops, put(paramKey(name), paramRecord{Value: value}))
}

// Ops returns the ops of every record added, the projects' latest pointers, and, if projects were
// added, the item that says the runtime index covers every project (an import is of a whole
// store, and indexes each of its projects).
func (im *Import) Ops() []Op {
	ops := append([]Op{}, im.ops...)
	if im.projects {
		ops = append(ops, put(runtimeCompleteKey(), map[string]bool{"complete": true}))
	}
	projects := sortedKeys(im.latest)
	sort.Strings(projects)
	for _, p := range projects {
		ops = append(ops, put(latestKey(p), pointerRecord{ReleaseID: im.latest[p]}))
	}
	return ops
}

// Write writes the import's ops with d, in one atomic write.
func (im *Import) Write(ctx context.Context, d Driver) error {
	if err := d.Write(ctx, im.Ops()); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}
