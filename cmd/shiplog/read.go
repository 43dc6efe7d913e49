package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// get sends a GET and, with -o json, prints the answer as is; done then says there is nothing
// left to print.
func (a *app) get(ctx context.Context, path string, q url.Values, v any) (done bool, err error) {
	c, err := a.client(ctx)
	if err != nil {
		return false, err
	}
	res, err := c.Get(ctx, path, q)
	if err != nil {
		return false, err
	}
	if a.jsonOut() {
		return true, a.printJSON(res.Body)
	}
	return false, res.Decode(v)
}

// read GETs path into v whatever the output format: a lookup a command needs before it acts.
func (a *app) read(ctx context.Context, path string, v any) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	res, err := c.Get(ctx, path, nil)
	if err != nil {
		return err
	}
	return res.Decode(v)
}

func (a *app) projectsCommand() *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "projects",
		Short: "List the registered projects, by id",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body shiplog.Page[shiplog.Project]
			if done, err := a.get(cmd.Context(), "/projects", page.query(nil), &body); done || err != nil {
				return err
			}
			if len(body.Items) == 0 {
				fmt.Fprintln(a.std.out, "no projects registered yet: shiplog project register -f .wellcome_project")
				return nil
			}
			t := a.newTable(a.std.out, "PROJECT", "NAME", "ENVIRONMENTS", "SERVICES")
			for _, p := range body.Items {
				t.row(p.ID, p.Name, strings.Join(envIDs(p), ", "), strconv.Itoa(len(services(p))))
			}
			a.more(cmd, body.NextCursor)
			return t.flush()
		},
	}
	page.add(cmd)
	return cmd
}

func envIDs(p shiplog.Project) []string {
	var out []string
	for _, e := range p.Environments {
		out = append(out, e.ID)
	}
	return out
}

func services(p shiplog.Project) []string {
	var out []string
	for _, r := range p.ImageRepositories {
		out = append(out, r.Services...)
	}
	return out
}

func (a *app) projectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Show or register a project",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show PROJECT",
		Short: "Show a project's environments and services",
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p shiplog.Project
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0]), nil, &p); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "%s %s\n\n", a.paint(bold, p.ID), p.Name)
			t := a.newTable(a.std.out, "ENVIRONMENT", "NAME", "REQUIRES", "ACCOUNT", "REGION")
			for _, e := range p.Environments {
				// Where the environment lives (docs/accounts.md); "-" is the stack's own.
				account, region := e.Placement.Account(), e.Region
				if account == "" {
					account = "-"
				}
				if region == "" {
					region = "-"
				}
				t.row(e.ID, e.Name, strings.Join(e.Requires, ", "), account, region)
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintln(a.std.out)
			t = a.newTable(a.std.out, "REPOSITORY", "SERVICES")
			for _, r := range p.ImageRepositories {
				t.row(r.ID, strings.Join(r.Services, ", "))
			}
			if p.TagDeployedImages {
				defer fmt.Fprintln(a.std.out, "\nDeployed images are tagged in ECR with the environment's id.")
			}
			return t.flush()
		},
	})
	cmd.AddCommand(a.registerCommand())
	return cmd
}

func (a *app) imagesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "images PROJECT [LABEL]",
		Short: "Show the images under a label (default latest: the newest pushes)",
		Args:  argsBetween(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			label := shiplog.LatestLabel
			if len(args) == 2 {
				label = args[1]
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			res, err := c.Get(ctx, apiclient.Path("projects", args[0], "images", label), nil)
			if err != nil {
				return err
			}
			var body httpapi.ImagesBody
			if err := res.Decode(&body); err != nil {
				return err
			}
			if len(body.Images) == 0 {
				// An empty label is a typo unless it is latest or one of the project's
				// environments, which are labels before anything is pushed or deployed.
				var p shiplog.Project
				if err := a.read(ctx, apiclient.Path("projects", args[0]), &p); err != nil {
					return err
				}
				if label != shiplog.LatestLabel && !slices.Contains(envIDs(p), label) {
					return a.noLabel(ctx, args[0], label)
				}
				if !a.jsonOut() {
					if label == shiplog.LatestLabel {
						fmt.Fprintf(a.std.out, "no images under latest yet: an ECR push to one of %s's repositories records one (see shiplog project show %s)\n", args[0], args[0])
					} else {
						fmt.Fprintf(a.std.out, "no images under %s: nothing deployed to %s/%s yet\n", label, args[0], label)
					}
					return nil
				}
			}
			if a.jsonOut() {
				return a.printJSON(res.Body)
			}
			return a.imagesTable(body.Images)
		},
	}
}

func (a *app) imagesTable(images map[string]string) error {
	if len(images) == 0 {
		fmt.Fprintln(a.std.out, "no images")
		return nil
	}
	t := a.newTable(a.std.out, "SERVICE", "REPOSITORY", "DIGEST")
	for _, svc := range sortedKeys(images) {
		repo, digest := splitImage(images[svc])
		t.row(svc, repo, digest)
	}
	return t.flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pageFlags are a list's --limit and --cursor.
type pageFlags struct {
	limit  int
	cursor string
}

func (p *pageFlags) add(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.limit, "limit", 20, "how many to show, at most 100")
	cmd.Flags().StringVar(&p.cursor, "cursor", "", "show the page after the one that printed this cursor")
}

func (p *pageFlags) query(q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	q.Set("limit", strconv.Itoa(p.limit))
	if p.cursor != "" {
		q.Set("cursor", p.cursor)
	}
	return q
}

// more tells a person how to see the next page: the same command with --cursor, said on stderr
// once the table is printed.
func (a *app) more(cmd *cobra.Command, next string) {
	if next == "" {
		return
	}
	line := []string{cmd.CommandPath()}
	for _, arg := range cmd.Flags().Args() {
		line = append(line, shellQuote(arg))
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "cursor" {
			line = append(line, "--"+f.Name, shellQuote(f.Value.String()))
		}
	})
	a.after = append(a.after, "more: "+strings.Join(append(line, "--cursor", next), " "))
}

// shellQuote quotes s for bash and zsh where it has anything but letters, digits and -_./:=@,
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *app) releasesCommand() *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "releases PROJECT",
		Short: "List a project's releases, newest first",
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body shiplog.Page[shiplog.Release]
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "releases"), page.query(nil), &body); done || err != nil {
				return err
			}
			if len(body.Items) == 0 {
				if page.cursor != "" {
					fmt.Fprintln(a.std.out, "no more releases")
				} else {
					fmt.Fprintf(a.std.out, "no releases of %s yet: shiplog release create %s\n", args[0], args[0])
				}
				return nil
			}
			t := a.newTable(a.std.out, "RELEASE", "LABEL", "CREATED", "BY", "DEPLOYED", "VERIFIED IN", "DESCRIPTION")
			for _, r := range body.Items {
				t.row(r.ID, r.Label, a.when(r.CreatedAt), personOf(r.RequestedBy),
					timesDeployed(r), strings.Join(r.VerifiedIn, ", "), clip(r.Description, 50))
			}
			a.more(cmd, body.NextCursor)
			return t.flush()
		},
	}
	page.add(cmd)
	return cmd
}

// timesDeployed says how often a release was deployed. A list of releases does not carry their
// deployments (GET .../deployments?release= does), only how many there are.
func timesDeployed(r shiplog.Release) string {
	n := max(r.DeploymentCount, int64(len(r.Deployments)))
	switch n {
	case 0:
		return ""
	case 1:
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func (a *app) releaseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Show or create a release",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "show PROJECT RELEASE",
		Short: "Show a release: its images and where it was deployed (RELEASE may be latest)",
		Args:  argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.resolveRelease(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			var r shiplog.Release
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "releases", id), nil, &r); done || err != nil {
				return err
			}
			return a.showRelease(r)
		},
	})
	cmd.AddCommand(a.releaseCreateCommand())
	return cmd
}

func (a *app) showRelease(r shiplog.Release) error {
	w := a.std.out
	fmt.Fprintf(w, "%s %s\n", a.paint(bold, "Release"), r.ID)
	fmt.Fprintf(w, "  project:      %s (%s)\n", r.ProjectID, r.ProjectName)
	fmt.Fprintf(w, "  label:        %s\n", r.Label)
	fmt.Fprintf(w, "  created:      %s by %s\n", a.whenLong(r.CreatedAt), personOf(r.RequestedBy))
	if r.Description != "" {
		fmt.Fprintf(w, "  description:  %s\n", oneLine(r.Description))
	}
	fmt.Fprintln(w)
	if err := a.imagesTable(r.Images); err != nil {
		return err
	}
	a.showSources(w, r.Sources)
	if len(r.Deployments) == 0 {
		fmt.Fprintln(w, "\nNot deployed yet.")
		return nil
	}
	fmt.Fprintln(w)
	t := a.newTable(w, "DEPLOYMENT", "ENVIRONMENT", "KIND", "WHEN", "BY", "DESCRIPTION")
	for _, d := range r.Deployments {
		t.row(d.ID, d.Environment.ID, kindOf(d.Kind), a.when(d.CreatedAt), personOf(d.RequestedBy), clip(d.Description, 50))
	}
	if err := t.flush(); err != nil {
		return err
	}
	// The newest deployment's change notes: what it changed where it went.
	if last := r.Deployments[len(r.Deployments)-1]; last.Changes != nil && len(last.Changes.Ranges) > 0 {
		fmt.Fprintf(w, "\nDeployment %s to %s:", last.ID, last.Environment.ID)
		a.printRanges(w, last.Changes.Ranges)
	}
	return nil
}

func kindOf(k string) string {
	if k == "" {
		return shiplog.KindDeploy
	}
	return k
}

func (a *app) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff PROJECT FROM TO",
		Short: "Compare the images of two releases, environments or labels",
		Long: `diff compares two sets of a project's images, service by service. FROM and TO are
release:ID, release:latest, environment:ID or label:LABEL; a bare word is an environment of the
project if it has one by that name, "latest" the newest release, and otherwise a release id.`,
		Example: "  shiplog diff storage prod latest\n  shiplog diff storage environment:stage release:01JD0Z8K3Q4W5E6R7T8Y9U0I1O",
		Args:    argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			from, to, err := a.refs(ctx, args[0], args[1], args[2])
			if err != nil {
				return err
			}
			var d shiplog.Diff
			q := url.Values{"from": {from}, "to": {to}}
			if done, err := a.get(ctx, apiclient.Path("projects", args[0], "diff"), q, &d); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "%s → %s\n\n", sideOf(d.From), sideOf(d.To))
			if err := a.changesTable(d.Services); err != nil {
				return err
			}
			a.showRanges(a.std.out, d.Services)
			return nil
		},
	}
}

func sideOf(s shiplog.DiffSide) string {
	if s.ReleaseID != "" && !strings.HasSuffix(s.Ref, s.ReleaseID) {
		return s.Ref + " (release " + s.ReleaseID + ")"
	}
	return s.Ref
}

func (a *app) changesTable(changes []shiplog.ServiceChange) error {
	t := a.newTable(a.std.out, "SERVICE", "CHANGE", "FROM", "TO")
	for _, c := range changes {
		t.row(c.Service, changeColor(c.Change), shortImage(deref(c.From)), shortImage(deref(c.To)))
	}
	return t.flush()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// refs turns diff's arguments into the API's refs; bare words need the project's environments.
func (a *app) refs(ctx context.Context, project string, from, to string) (string, string, error) {
	c, err := a.client(ctx)
	if err != nil {
		return "", "", err
	}
	res, err := c.Get(ctx, apiclient.Path("projects", project), nil)
	if err != nil {
		return "", "", err
	}
	var p shiplog.Project
	if err := res.Decode(&p); err != nil {
		return "", "", err
	}
	ref := func(s string) (string, error) {
		kind, id, typed := strings.Cut(s, ":")
		switch {
		case typed && kind == "release":
			r, err := a.resolveRelease(ctx, project, id)
			return "release:" + r, err
		case typed:
			return s, nil
		case slices.Contains(envIDs(p), s):
			return "environment:" + s, nil
		}
		neither := withCode(exitNotFound, "%s is neither an environment of %s (%s) nor a release (no release id starts or ends with it); see shiplog releases %s",
			s, project, strings.Join(envIDs(p), ", "), project)
		if !needsLookup(s) && s != shiplog.LatestLabel && len(s) != ulidLen {
			return "", neither
		}
		r, err := a.resolveRelease(ctx, project, s)
		var ce *codeError
		if errors.As(err, &ce) && ce.code == exitNotFound {
			return "", neither
		}
		return "release:" + r, err
	}
	f, err := ref(from)
	if err != nil {
		return "", "", err
	}
	t, err := ref(to)
	return f, t, err
}

func (a *app) historyCommand() *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "history PROJECT [ENVIRONMENT]",
		Short: "List a project's deployments, newest first",
		Args:  argsBetween(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 2 {
				q.Set("environment", args[1])
			}
			var body shiplog.Page[deployment]
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "deployments"), page.query(q), &body); done || err != nil {
				return err
			}
			if len(body.Items) == 0 {
				where := args[0]
				if len(args) == 2 {
					where += "/" + args[1]
				}
				if page.cursor != "" {
					fmt.Fprintln(a.std.out, "no more deployments")
				} else {
					fmt.Fprintf(a.std.out, "no deployments to %s yet: shiplog deploy %s ENVIRONMENT RELEASE\n", where, args[0])
				}
				return nil
			}
			t := a.newTable(a.std.out, "DEPLOYMENT", "ENVIRONMENT", "RELEASE", "KIND", "STATUS", "WHEN", "BY", "DESCRIPTION")
			for _, d := range body.Items {
				t.row(d.ID, d.Environment.ID, d.ReleaseID, kindLabel(d), statusColor(d.Status), a.when(d.CreatedAt),
					personOf(d.RequestedBy), clip(why(d), 50))
			}
			a.more(cmd, body.NextCursor)
			return t.flush()
		},
	}
	page.add(cmd)
	return cmd
}

// kindLabel says how a deployment came about: "promote from stage", "rollback of D", "deploy!"
// for one that broke glass.
func kindLabel(d deployment) any {
	k := kindOf(d.Kind)
	switch {
	case d.PromotedFrom != "":
		k += " from " + d.PromotedFrom
	case d.Reverts != "":
		k += " of " + d.Reverts
	}
	switch {
	case d.Override != nil:
		return styled{k + " (override)", red}
	case d.Kind == shiplog.KindRollback:
		return styled{k, yellow}
	}
	return k
}

// why is a deployment's description, or its override's reason.
func why(d deployment) string {
	if d.Override != nil {
		if d.Description != "" {
			return d.Override.Reason + "; " + d.Description
		}
		return d.Override.Reason
	}
	return d.Description
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status PROJECT [ENVIRONMENT]",
		Short: "Show what each environment runs, its status, lock and drift",
		Args:  argsBetween(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body httpapi.ItemsBody[environment]
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "environments"), nil, &body); done || err != nil {
				return err
			}
			items := body.Items
			if len(args) == 2 {
				var ids []string
				items = nil
				for _, e := range body.Items {
					ids = append(ids, e.Environment.ID)
					if e.Environment.ID == args[1] {
						items = append(items, e)
					}
				}
				if items == nil {
					return withCode(exitNotFound, "environment %q is not one of %s's: %s", args[1], args[0], strings.Join(ids, ", "))
				}
			}
			if len(items) == 0 {
				fmt.Fprintf(a.std.out, "%s has no environments (see shiplog project show %s)\n", args[0], args[0])
				return nil
			}
			var freezes httpapi.ItemsBody[shiplog.Freeze]
			if err := a.read(cmd.Context(), apiclient.Path("projects", args[0], "freezes"), &freezes); err != nil {
				return err
			}
			t := a.newTable(a.std.out, "ENVIRONMENT", "RELEASE", "DEPLOYED", "BY", "STATUS", "LOCK", "FREEZE", "DRIFT")
			for _, e := range items {
				var rel, deployed, by string
				if c := e.Current; c != nil {
					rel, deployed, by = c.ReleaseID, a.when(c.DeployedAt), personOf(c.RequestedBy)
				}
				t.row(e.Environment.ID, rel, deployed, by, statusColor(e.Status), a.lockCell(e.Lock),
					a.freezeCell(e.Environment.ID, freezes.Items), driftCell(e))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if err := a.driftDetail(items); err != nil {
				return err
			}
			if err := a.unreplicatedDetail(items); err != nil {
				return err
			}
			return a.pendingDetail(items)
		},
	}
}

// pendingDetail says, under the table, what each auto-promoted environment waits for: its
// candidate release and each gate that refuses it, with when that gate opens by itself.
func (a *app) pendingDetail(items []environment) error {
	var rows [][]any
	for _, e := range items {
		p := e.Pending
		if p == nil {
			continue
		}
		rel := p.ReleaseID
		if p.From != "" {
			rel += " (verified in " + p.From + ")"
		}
		switch {
		case p.Error != "":
			rows = append(rows, []any{e.Environment.ID, rel, styled{"error", red}, "", p.Error})
		case p.Idle != "":
			rows = append(rows, []any{e.Environment.ID, rel, "idle", "", p.Idle})
		case len(p.Waiting) == 0:
			rows = append(rows, []any{e.Environment.ID, rel, styled{"ready", green}, "next tick", "every gate passes; it deploys at the next tick"})
		}
		for _, g := range p.Waiting {
			opens := a.when(g.RetryAt)
			if opens == "" {
				opens = "when a person acts"
			}
			rows = append(rows, []any{e.Environment.ID, rel, styled{g.Gate, yellow}, opens, g.Message})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(a.std.out)
	t := a.newTable(a.std.out, "AUTO-PROMOTE", "CANDIDATE", "WAITS FOR", "OPENS", "WHY")
	for _, r := range rows {
		t.row(r...)
	}
	return t.flush()
}

func (a *app) lockCell(l *shiplog.EnvironmentLock) any {
	if l == nil {
		return ""
	}
	s := "locked by " + personOf(l.LockedBy) + ": " + clip(l.Reason, 40)
	if l.ExpiresAt != 0 {
		s += " (until " + a.when(l.ExpiresAt) + ")"
	}
	return styled{s, red}
}

// freezeCell says whether a freeze holds env now, or which is next.
func (a *app) freezeCell(env string, freezes []shiplog.Freeze) any {
	now := a.now().Unix()
	var next *shiplog.Freeze
	for i, f := range freezes {
		if len(f.Environments) > 0 && !slices.Contains(f.Environments, env) || f.EndsAt <= now {
			continue
		}
		if f.StartsAt <= now {
			return styled{"frozen (" + f.ID + ") until " + a.when(f.EndsAt) + ": " + clip(f.Reason, 40), red}
		}
		if next == nil || f.StartsAt < next.StartsAt {
			next = &freezes[i]
		}
	}
	if next != nil {
		return styled{"freeze " + next.ID + " from " + a.when(next.StartsAt), yellow}
	}
	return ""
}

func driftCell(e environment) any {
	pending := 0
	if e.Current != nil {
		pending = len(e.Current.Pending)
	}
	switch {
	case len(e.Drift) > 0:
		return styled{fmt.Sprintf("%d service(s) differ", len(e.Drift)), yellow}
	case pending > 0:
		return styled{fmt.Sprintf("%d pending", pending), yellow}
	case e.Current == nil:
		return ""
	}
	return styled{"in sync", green}
}

// driftDetail lists each drifting service under the table.
func (a *app) driftDetail(items []environment) error {
	var rows [][]any
	for _, e := range items {
		for _, d := range e.Drift {
			rows = append(rows, []any{e.Environment.ID, d.Service, styled{d.Kind, yellow}, imageOrValue(d.Recorded), imageOrValue(d.Actual)})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(a.std.out)
	t := a.newTable(a.std.out, "ENVIRONMENT", "SERVICE", "DRIFT", "RECORDED", "ACTUAL")
	for _, r := range rows {
		t.row(r...)
	}
	return t.flush()
}

// unreplicatedDetail says, under the table, which images an environment needs that the registry
// it pulls from lacks (an environment in another account or region that pulls from a replica):
// a deploy of them is refused until ECR replication copies them there.
func (a *app) unreplicatedDetail(items []environment) error {
	var rows [][]any
	for _, e := range items {
		for _, u := range e.Unreplicated {
			// As the dashboard's matrix says it: an image a promotion would bring is not replicated
			// yet; one the environment runs is no longer in its registry.
			mark, need := "not in registry", "runs it"
			if u.From != e.Environment.ID {
				mark, need = "not replicated", "promotion from "+u.From
			}
			rows = append(rows, []any{e.Environment.ID, u.Service, styled{mark, yellow}, need, u.LookedFor})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(a.std.out)
	t := a.newTable(a.std.out, "ENVIRONMENT", "SERVICE", "IMAGE", "NEEDED FOR", "LOOKED FOR")
	for _, r := range rows {
		t.row(r...)
	}
	return t.flush()
}

func imageOrValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return shortImage(x)
	case map[string]string:
		// An event's detail: its fields as key=value, sorted, images short.
		parts := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+imageOrValue(x[k]))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

func (a *app) eventsCommand() *cobra.Command {
	var page pageFlags
	var typ, since string
	cmd := &cobra.Command{
		Use:   "events PROJECT",
		Short: "List what happened in a project, newest first",
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if typ != "" {
				q.Set("type", typ)
			}
			if since != "" {
				t, err := a.parseTime("--since", since, true)
				if err != nil {
					return err
				}
				q.Set("since", strconv.FormatInt(t, 10))
			}
			var body shiplog.Page[event]
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "events"), page.query(q), &body); done || err != nil {
				return err
			}
			if len(body.Items) == 0 {
				fmt.Fprintf(a.std.out, "no events of %s%s\n", args[0], map[bool]string{true: " that match", false: " yet"}[typ != "" || since != "" || page.cursor != ""])
				return nil
			}
			t := a.newTable(a.std.out, "WHEN", "TYPE", "BY", "ENVIRONMENT", "RELEASE", "DEPLOYMENT", "DETAIL")
			for _, e := range body.Items {
				detail := e.Service
				if e.Detail != nil {
					detail = strings.TrimSpace(detail + " " + imageOrValue(e.Detail))
				}
				t.row(a.when(e.At), eventColor(e.Type), personOf(e.By), e.Environment, e.ReleaseID, e.DeploymentID, clip(detail, 60))
			}
			a.more(cmd, body.NextCursor)
			return t.flush()
		},
	}
	page.add(cmd)
	cmd.Flags().StringVar(&typ, "type", "", "only events of this type, e.g. deployment.failed")
	cmd.Flags().StringVar(&since, "since", "", "only events since: a duration ago (90m, 36h, 7d, 2w), a date (2026-11-20) or a time (RFC 3339, Unix seconds)")
	return cmd
}

func eventColor(t string) styled {
	switch {
	case strings.HasSuffix(t, ".failed"):
		return styled{t, red}
	case strings.HasSuffix(t, ".verified"):
		return styled{t, green}
	case strings.HasPrefix(t, "environment.") || strings.HasPrefix(t, "freeze."):
		return styled{t, yellow}
	}
	return styled{t, plain}
}

func (a *app) metricsCommand() *cobra.Command {
	var env, since, until string
	cmd := &cobra.Command{
		Use:   "metrics PROJECT ENVIRONMENT",
		Short: "Show an environment's DORA figures: deployment frequency, lead time, change failure rate, time to restore",
		Args:  argsBetween(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 2 && env != "" && env != args[1]:
				return withCode(exitError, "metrics: the environment is %s or %s? give it once, as status and history take it: shiplog metrics %s ENVIRONMENT", args[1], env, args[0])
			case len(args) == 2:
				env = args[1]
			case env == "":
				return withCode(exitError, "usage: shiplog metrics PROJECT ENVIRONMENT (see --help)")
			}
			q := url.Values{"environment": {env}}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				t, err := a.parseTime("--"+name, v, true)
				if err != nil {
					return err
				}
				q.Set(name, strconv.FormatInt(t, 10))
			}
			var m metrics
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "metrics"), q, &m); done || err != nil {
				return err
			}
			w := a.std.out
			fmt.Fprintf(w, "%s %s/%s, %s to %s\n\n", a.paint(bold, "Metrics"), args[0], m.Environment, a.when(m.Since), a.when(m.Until))
			t := a.newTable(w, "METRIC", "VALUE")
			t.row("deployments", strconv.Itoa(m.Deployments))
			t.row("deployment frequency", fmt.Sprintf("%.2f a day, %.2f a week", m.DeploymentFrequency.PerDay, m.DeploymentFrequency.PerWeek))
			t.row("lead time (median, p90)", fmt.Sprintf("%s, %s (%d changes)", seconds(m.LeadTime.Median), seconds(m.LeadTime.P90), m.LeadTime.Count))
			t.row("change failure rate", fmt.Sprintf("%.0f%% (%d of %d failed)", m.ChangeFailureRate.Rate*100, m.ChangeFailureRate.Failed, m.ChangeFailureRate.Total))
			t.row("time to restore (median)", fmt.Sprintf("%s (%d restores, %d not yet)", seconds(m.TimeToRestore.Median), m.TimeToRestore.Count, m.TimeToRestore.Unrestored))
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&env, "environment", "", "the environment (the argument ENVIRONMENT does the same)")
	_ = cmd.Flags().MarkDeprecated("environment", "give the environment as an argument: shiplog metrics PROJECT ENVIRONMENT")
	cmd.Flags().StringVar(&since, "since", "", "from: a duration ago (30d), a date or a time (default: the API's)")
	cmd.Flags().StringVar(&until, "until", "", "to: a duration ago, a date or a time (default: now)")
	return cmd
}

// seconds shows a duration in seconds as a person reads it.
func seconds(s *int64) string {
	if s == nil {
		return "-"
	}
	d := float64(*s)
	switch {
	case d < 120:
		return fmt.Sprintf("%.0fs", d)
	case d < 7200:
		return fmt.Sprintf("%.0fm", d/60)
	case d < 172800:
		return fmt.Sprintf("%.1fh", d/3600)
	}
	return fmt.Sprintf("%.1fd", d/86400)
}
