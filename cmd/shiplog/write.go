package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// send sends a write and, with -o json, prints the answer as is; done then says there is nothing
// left to print.
func (a *app) send(ctx context.Context, method, path string, body, v any) (done bool, err error) {
	c, err := a.client(ctx)
	if err != nil {
		return false, err
	}
	res, err := c.Do(ctx, method, path, nil, body)
	if err != nil {
		return false, err
	}
	if a.jsonOut() {
		return true, a.printJSON(res.Body)
	}
	return false, res.Decode(v)
}

func (a *app) registerCommand() *cobra.Command {
	var file, retire string
	var only []string
	cmd := &cobra.Command{
		Use:   "register -f .wellcome_project [--project ID]...",
		Short: "Register the projects of a .wellcome_project file (or only --project's)",
		Long: `register registers each project of a .wellcome_project file with PUT /projects/{id}. The whole
file is checked first: if any entry is wrong, nothing is registered.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return withCode(exitError, "project register: -f FILE is required")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return withCode(exitError, "%v", err)
			}
			projects, err := manifest.Parse(data)
			if err != nil {
				return withCode(exitInvalid, "%s", manifestProblems(file, err))
			}
			var entries map[string]json.RawMessage
			if err := json.Unmarshal(data, &entries); err != nil {
				return withCode(exitInvalid, "%s: %v", file, err)
			}
			var ids []string
			for _, p := range projects {
				ids = append(ids, p.ID)
			}
			for _, id := range only {
				if !slices.Contains(ids, id) {
					return withCode(exitInvalid, "--project %q: %s declares %s", id, file, strings.Join(ids, ", "))
				}
			}
			if len(only) > 0 {
				ids = only
			}
			if retire != "" && len(ids) != 1 {
				return withCode(exitError, "--retire: give one --project, whose environments it names")
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			for _, id := range ids {
				path := apiclient.Path("projects", id)
				var q map[string][]string
				if retire != "" {
					q = map[string][]string{"retire": {retire}}
				}
				res, err := c.Do(cmd.Context(), http.MethodPut, path, q, entries[id])
				if err != nil {
					return fmt.Errorf("register %s: %w", id, err)
				}
				if a.jsonOut() {
					if err := a.printJSON(res.Body); err != nil {
						return err
					}
					continue
				}
				var p shiplog.Project
				if err := res.Decode(&p); err != nil {
					return err
				}
				fmt.Fprintf(a.std.out, "registered %s (%s): environments %s; %d services\n", p.ID, p.Name, strings.Join(envIDs(p), ", "), len(services(p)))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the .wellcome_project file")
	cmd.Flags().StringArrayVar(&only, "project", nil, "register only this project of the file (repeatable)")
	cmd.Flags().StringVar(&retire, "retire", "", "env1,env2: environments, deployed to before, that the entry drops")
	return cmd
}

// manifestProblems says everything wrong in a manifest file, a line each, as compilers do:
// FILE:LINE:COLUMN: MESSAGE.
func manifestProblems(file string, err error) string {
	ps := manifest.ProblemsOf(err)
	if len(ps) == 0 {
		return file + ": " + shiplog.MessageOf(err)
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = file + ":" + p.String()
	}
	if len(ps) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s has %d problems; nothing was registered:\n  %s", file, len(ps), strings.Join(lines, "\n  "))
}

func (a *app) releaseCreateCommand() *cobra.Command {
	var in httpapi.CreateReleaseBody
	cmd := &cobra.Command{
		Use:   "create PROJECT [--label LABEL] [--description TEXT]",
		Short: "Create a release from the images under a label (default latest)",
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r shiplog.Release
			done, err := a.send(cmd.Context(), http.MethodPost, apiclient.Path("projects", args[0], "releases"), in, &r)
			var ae *apiclient.Error
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound && in.Label != "" && strings.Contains(ae.Message, "label") {
				// The project is there (the API names the label): say which labels have images.
				return a.noLabel(cmd.Context(), args[0], in.Label)
			}
			if done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "created release %s of %s from %s (%d images)\n\n", a.paint(bold, r.ID), r.ProjectID, r.Label, len(r.Images))
			return a.imagesTable(r.Images)
		},
	}
	cmd.Flags().StringVar(&in.Label, "label", "", "the label whose images the release takes (default latest)")
	cmd.Flags().StringVar(&in.Description, "description", "", "what the release is")
	return cmd
}

// waitFlags are the flags of the commands that deploy.
type waitFlags struct {
	yes     bool
	wait    string
	noWait  bool
	timeout time.Duration
}

func (w *waitFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&w.yes, "yes", "y", false, "do not ask for confirmation (needed when stdin is not a terminal)")
	cmd.Flags().StringVar(&w.wait, "wait", "applied", "wait until the deployment is applied, or verified")
	cmd.Flags().BoolVar(&w.noWait, "no-wait", false, "return once the deployment is recorded")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Minute, "how long to wait")
}

func (w *waitFlags) check() error {
	if w.wait != "applied" && w.wait != "verified" {
		return withCode(exitError, "--wait: %q is not applied or verified", w.wait)
	}
	return nil
}

func (a *app) deployCommand() *cobra.Command {
	var wf waitFlags
	var description, override string
	cmd := &cobra.Command{
		Use:   "deploy PROJECT ENVIRONMENT RELEASE",
		Short: "Deploy a release (an id, or latest) to an environment, after showing the plan",
		Long: `deploy shows the plan (what each service changes from and to, and any refusal: a lock, a freeze,
a promotion gate), asks to confirm when stdin is a terminal (--yes skips that, and is needed
otherwise), deploys, then waits, showing progress, until the deployment is applied (or verified,
with --wait verified). Ctrl-C stops the waiting, not the deployment.

--override REASON breaks glass: an emergency deployment that passes locks, freezes and gates,
and records why.`,
		Args: argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := a.resolveRelease(cmd.Context(), args[0], args[2])
			if err != nil {
				return err
			}
			body := map[string]any{"release_id": id}
			if description != "" {
				body["description"] = description
			}
			route := "deployments"
			if override != "" {
				route, body["reason"] = "emergency-deployments", override
			}
			return a.deployFlow(cmd.Context(), wf, args[0], args[1], apiclient.Path("projects", args[0], "environments", args[1], route), body)
		},
	}
	wf.add(cmd)
	cmd.Flags().StringVar(&description, "description", "", "why, for the record")
	cmd.Flags().StringVar(&override, "override", "", "break glass: deploy past locks, freezes and gates, for this reason")
	return cmd
}

func (a *app) promoteCommand() *cobra.Command {
	var wf waitFlags
	var description string
	cmd := &cobra.Command{
		Use:   "promote PROJECT FROM TO",
		Short: "Deploy to TO the release that environment FROM runs, after showing the plan",
		Long:  "promote deploys what FROM runs to TO; it shows the plan, confirms and waits as deploy does.",
		Args:  argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"from_environment": args[1]}
			if description != "" {
				body["description"] = description
			}
			return a.deployFlow(cmd.Context(), wf, args[0], args[2], apiclient.Path("projects", args[0], "environments", args[2], "deployments"), body)
		},
	}
	wf.add(cmd)
	cmd.Flags().StringVar(&description, "description", "", "why, for the record")
	return cmd
}

func (a *app) rollbackCommand() *cobra.Command {
	var wf waitFlags
	var reason, to string
	var hold bool
	cmd := &cobra.Command{
		Use:   "rollback PROJECT ENVIRONMENT --reason TEXT [--hold] [--to DEPLOYMENT]",
		Short: "Deploy again the release an environment ran before, after showing the plan",
		Long: `rollback deploys the release of the newest earlier deployment of the environment whose release
differs (or --to's), after showing the plan and confirming as deploy does. --hold also locks the
environment, so that nothing deploys over the rollback until someone unlocks it.`,
		Args: argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return withCode(exitError, "rollback: --reason is required: a rollback records why")
			}
			body := map[string]any{"reason": reason}
			if to != "" {
				id, err := a.resolveDeployment(cmd.Context(), args[0], to)
				if err != nil {
					return err
				}
				body["to_deployment"] = id
			}
			if hold {
				body["hold"] = true
			}
			return a.deployFlow(cmd.Context(), wf, args[0], args[1], apiclient.Path("projects", args[0], "environments", args[1], "rollback"), body)
		},
	}
	wf.add(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&to, "to", "", "roll back to this deployment's release")
	cmd.Flags().BoolVar(&hold, "hold", false, "lock the environment after the rollback")
	return cmd
}

func (a *app) waitCommand() *cobra.Command {
	var wf waitFlags
	cmd := &cobra.Command{
		Use:   "wait PROJECT DEPLOYMENT [--for applied|verified]",
		Short: "Wait until a deployment is applied (or verified), showing its progress",
		Long: `wait watches a deployment that deploy, promote or rollback recorded, as they do after
recording it: after Ctrl-C, or with --no-wait, this is how to keep watching.`,
		Args: argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := wf.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			id, err := a.resolveDeployment(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			res, err := c.Get(ctx, apiclient.Path("projects", args[0], "deployments", id), nil)
			if err != nil {
				return err
			}
			var d deployment
			if err := res.Decode(&d); err != nil {
				return err
			}
			if d.Status == "" {
				return withCode(exitError, "wait: this API does not report deployment statuses")
			}
			final, err := a.waitFor(ctx, c, args[0], d, wf)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				if final == nil {
					final = res.Body
				}
				return a.printJSON(final)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&wf.wait, "for", "applied", "the status to wait for: applied, or verified")
	cmd.Flags().DurationVar(&wf.timeout, "timeout", 30*time.Minute, "how long to wait")
	return cmd
}

// deployFlow plans, confirms, deploys and waits: the one flow of deploy, promote and rollback.
func (a *app) deployFlow(ctx context.Context, wf waitFlags, project, env, path string, body map[string]any) error {
	if err := wf.check(); err != nil {
		return err
	}
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	// People read the plan; scripts reading -o json get only the API's answers on stdout.
	human := a.std.out
	if a.jsonOut() {
		human = a.std.err
	}
	plan := map[string]any{"dry_run": true}
	for k, v := range body {
		plan[k] = v
	}
	res, err := c.Do(ctx, http.MethodPost, path, nil, plan)
	if err != nil {
		return err
	}
	var p shiplog.PlanResult
	if err := res.Decode(&p); err != nil {
		return err
	}
	a.showPlan(human, project, p.Plan)
	if r := p.Plan.Refusal; r != nil {
		msg := strings.ReplaceAll(a.forPeople(r.Message), "shiplog deploy ...", "shiplog deploy "+project+" "+env+" "+shortID(p.Plan.ReleaseID))
		return withCode(exitCodeOf(0, r.Kind), "refused (%s): %s", r.Kind, msg)
	}
	if !wf.yes {
		if !a.std.inTTY {
			return withCode(exitError, "not deploying without confirmation: stdin is not a terminal; pass --yes")
		}
		fmt.Fprintf(a.std.err, "%s release %s to %s/%s? [y/N] ", titleKind(p.Plan.Kind), p.Plan.ReleaseID, project, env)
		line, _ := bufio.NewReader(a.std.in).ReadString('\n')
		if answer := strings.ToLower(strings.TrimSpace(line)); answer != "y" && answer != "yes" {
			return withCode(exitError, "not deployed: not confirmed")
		}
	}
	res, err = c.Do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	var dr deployResult
	if err := res.Decode(&dr); err != nil {
		return err
	}
	d := dr.Deployment
	fmt.Fprintf(human, "deployment %s recorded: release %s to %s/%s\n", a.paint(bold, d.ID), dr.Release.ID, project, env)
	if wf.noWait {
		if a.jsonOut() {
			return a.printJSON(res.Body)
		}
		return nil
	}
	if d.Status == "" {
		// An API without deployment statuses: a recorded deployment has written its parameters.
		if wf.wait == "verified" {
			return withCode(exitError, "--wait verified: this API does not report deployment statuses")
		}
		if a.jsonOut() {
			return a.printJSON(res.Body)
		}
		return nil
	}
	if d.ReleaseID == "" {
		d.ReleaseID = dr.Release.ID
	}
	final, err := a.waitFor(ctx, c, project, d, wf)
	if err != nil {
		return err
	}
	if a.jsonOut() {
		return a.printJSON(final)
	}
	return nil
}

func titleKind(k string) string {
	switch k {
	case shiplog.KindPromote:
		return "Promote"
	case shiplog.KindRollback:
		return "Roll back to"
	}
	return "Deploy"
}

// showPlan prints what a deploy would do.
func (a *app) showPlan(w interface{ Write([]byte) (int, error) }, project string, p shiplog.Plan) {
	what := kindOf(p.Kind)
	if p.PromotedFrom != "" {
		what += " from " + p.PromotedFrom
	}
	fmt.Fprintf(w, "%s %s release %s to %s/%s\n\n", a.paint(bold, "Plan:"), what, p.ReleaseID, project, p.Environment)
	t := a.newTable(w, "SERVICE", "CHANGE", "FROM", "TO")
	for _, c := range p.Services {
		t.row(c.Service, changeColor(c.Change), shortImage(deref(c.From)), shortImage(deref(c.To)))
	}
	_ = t.flush()
	a.showRanges(w, p.Services)
	fmt.Fprintf(w, "\n%d parameter(s) to write\n", len(p.ParametersToWrite))
	if len(p.Gates) == 0 {
		return
	}
	fmt.Fprintln(w)
	t = a.newTable(w, "GATE", "DECISION", "OPENS", "WHY")
	for _, g := range p.Gates {
		t.row(g.Gate, gateColor(g), a.when(g.RetryAt), g.Message)
	}
	_ = t.flush()
}

// gateColor says a gate's decision in a plan: pass, refused, or passed by break glass.
func gateColor(g shiplog.GateDecision) styled {
	switch {
	case g.Allow:
		return styled{"pass", green}
	case g.Overridden:
		return styled{"break glass", yellow}
	}
	return styled{"refused", red}
}

// waitFor polls the deployment until it reaches the status waited for, showing each step of its
// history once. It returns the deployment as the API last answered it (GET), for -o json.
func (a *app) waitFor(ctx context.Context, c *apiclient.Client, project string, d deployment, wf waitFlags) ([]byte, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, wf.timeout)
	defer cancel()
	path := apiclient.Path("projects", project, "deployments", d.ID)
	start := a.now()
	keepWatching := fmt.Sprintf("shiplog wait %s %s --for %s", project, shortID(d.ID), wf.wait)
	fmt.Fprintf(a.std.err, "waiting until deployment %s (release %s to %s/%s) is %s, for at most %s (Ctrl-C stops waiting, not the deployment)\n",
		shortID(d.ID), shortID(d.ReleaseID), project, d.Environment.ID, wf.wait, wf.timeout)
	shown, lastStatus := 0, ""
	lastSaid := start
	show := func(d deployment) {
		elapsed := a.now().Sub(start).Round(time.Second)
		for ; shown < len(d.StatusHistory); shown++ {
			s := d.StatusHistory[shown]
			line := fmt.Sprintf("  %-10s %s [%s]", s.Status, a.whenLong(s.At), elapsed)
			if s.By.ID != "" {
				line += " by " + personOf(s.By)
			}
			if s.Detail != "" {
				line += ": " + oneLine(s.Detail)
			}
			fmt.Fprintln(a.std.err, a.paint(statusColor(s.Status).color, line))
			lastStatus, lastSaid = s.Status, a.now()
		}
		if d.Status != lastStatus {
			fmt.Fprintln(a.std.err, a.paint(statusColor(d.Status).color, fmt.Sprintf("  %-10s [%s]", d.Status, elapsed)))
			lastStatus, lastSaid = d.Status, a.now()
		}
		// A long wait says now and then that it still waits, and for what.
		if a.now().Sub(lastSaid) >= 30*time.Second {
			fmt.Fprintf(a.std.err, "  still %s after %s; waiting for %s\n", d.Status, elapsed, wf.wait)
			lastSaid = a.now()
		}
	}
	fetch := func() ([]byte, deployment, error) {
		res, err := c.Get(ctx, path, nil)
		if err != nil {
			return nil, deployment{}, err
		}
		var next deployment
		return res.Body, next, res.Decode(&next)
	}
	show(d)
	var last []byte
	for {
		var err error
		switch d.Status {
		case "verified":
			err = errReached
		case "applied":
			if wf.wait == "applied" {
				err = errReached
			}
		case "failed", "superseded":
			err = withCode(exitDeployFailed, "deployment %s is %s (see shiplog history %s %s)", d.ID, d.Status, project, d.Environment.ID)
		}
		if err != nil {
			if last == nil && a.jsonOut() {
				last, _, _ = fetch()
			}
			if err == errReached {
				err = nil
			}
			return last, err
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return last, withCode(exitError, "stopped waiting after %s: deployment %s is %s and goes on; keep watching: %s",
					a.now().Sub(start).Round(time.Second), shortID(d.ID), d.Status, keepWatching)
			}
			return last, withCode(exitTimeout, "deployment %s is still %s after %s; keep watching: %s", shortID(d.ID), d.Status, wf.timeout, keepWatching)
		case <-time.After(a.pollInterval):
		}
		body, next, err := fetch()
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return last, err
		}
		last, d = body, next
		show(d)
	}
}

// errReached ends waitFor's loop: the deployment has the status waited for.
var errReached = errors.New("reached")
