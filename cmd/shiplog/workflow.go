package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The commands of locks, freezes and reports on deployments.

func (a *app) lockCommand() *cobra.Command {
	var reason, expires string
	cmd := &cobra.Command{
		Use:   "lock PROJECT ENVIRONMENT --reason TEXT [--expires 2h]",
		Short: "Lock an environment: deploys are refused until it is unlocked or the lock expires",
		Args:  argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return withCode(exitError, "lock: --reason is required: a lock says why")
			}
			body := httpapi.LockBody{Reason: reason}
			if expires != "" {
				t, err := a.parseTime("--expires", expires, false)
				if err != nil {
					return err
				}
				if t <= a.now().Unix() {
					return withCode(exitError, "lock: --expires %s is not in the future", a.whenLong(t))
				}
				body.ExpiresAt = t
			}
			var out httpapi.LockResponse
			if done, err := a.send(cmd.Context(), http.MethodPut, apiclient.Path("projects", args[0], "environments", args[1], "lock"), body, &out); done || err != nil {
				return err
			}
			l := out.Lock
			if l == nil {
				return fmt.Errorf("the API answered no lock")
			}
			fmt.Fprintf(a.std.out, "locked %s/%s by %s: %s", args[0], l.Environment, personOf(l.LockedBy), oneLine(l.Reason))
			if l.ExpiresAt != 0 {
				fmt.Fprintf(a.std.out, " (until %s)", a.whenLong(l.ExpiresAt))
			}
			fmt.Fprintln(a.std.out)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "when the lock ends by itself: a duration from now (90m, 2h, 1d), a date or a time (RFC 3339, Unix seconds)")
	return cmd
}

func (a *app) unlockCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock PROJECT ENVIRONMENT",
		Short: "Remove an environment's lock",
		Args:  argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out httpapi.UnlockResponse
			if done, err := a.send(cmd.Context(), http.MethodDelete, apiclient.Path("projects", args[0], "environments", args[1], "lock"), nil, &out); done || err != nil {
				return err
			}
			if l := out.Removed; l != nil {
				fmt.Fprintf(a.std.out, "unlocked %s/%s (locked by %s since %s: %s)\n", args[0], args[1], personOf(l.LockedBy), a.when(l.LockedAt), oneLine(l.Reason))
				return nil
			}
			fmt.Fprintf(a.std.out, "%s/%s was not locked; nothing changed\n", args[0], args[1])
			return nil
		},
	}
}

func (a *app) freezeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Set, list or delete change windows in which deploys are refused",
	}
	var envs []string
	var starts, ends, reason string
	set := &cobra.Command{
		Use:   "set PROJECT FREEZE --ends TIME --reason TEXT [--environments a,b] [--starts TIME]",
		Short: "Set (or replace) a freeze of some environments (default all)",
		Long: `set sets a freeze. A freeze of one environment goes to that environment's route
(PUT /projects/P/environments/E/freezes/F), which a role allowed that environment may use; a
freeze of several or all environments goes to PUT /projects/P/freezes/F, an admin's route.`,
		Args: argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ends == "" || strings.TrimSpace(reason) == "" {
				return withCode(exitError, "freeze set: --ends and --reason are required")
			}
			body := httpapi.FreezeBody{Environments: envs, Reason: reason, StartsAt: a.now().Unix()}
			if body.Environments == nil {
				body.Environments = []string{}
			}
			var err error
			if starts != "" {
				if body.StartsAt, err = a.parseTime("--starts", starts, false); err != nil {
					return err
				}
			}
			if body.EndsAt, err = a.parseTime("--ends", ends, false); err != nil {
				return err
			}
			// Said here, in dates and flags, rather than by the API in Unix seconds and fields.
			switch {
			case body.EndsAt <= body.StartsAt:
				return withCode(exitError, "freeze set: --ends %s is not after --starts %s", a.whenLong(body.EndsAt), a.whenLong(body.StartsAt))
			case body.EndsAt <= a.now().Unix():
				return withCode(exitError, "freeze set: --ends %s is in the past", a.whenLong(body.EndsAt))
			}
			var req any = body
			path := apiclient.Path("projects", args[0], "freezes", args[1])
			if len(body.Environments) == 1 {
				req = httpapi.EnvironmentFreezeBody{StartsAt: body.StartsAt, EndsAt: body.EndsAt, Reason: body.Reason}
				path = apiclient.Path("projects", args[0], "environments", body.Environments[0], "freezes", args[1])
			}
			var f shiplog.Freeze
			if done, err := a.send(cmd.Context(), http.MethodPut, path, req, &f); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "freeze %s of %s set: %s, %s to %s\n", f.ID, args[0], freezeEnvs(f), a.whenLong(f.StartsAt), a.whenLong(f.EndsAt))
			return nil
		},
	}
	set.Flags().StringSliceVar(&envs, "environments", nil, "the environments frozen (default: all)")
	set.Flags().StringVar(&starts, "starts", "", "when it starts (default now): a duration from now, a date or a time")
	set.Flags().StringVar(&ends, "ends", "", "when it ends (required): a duration from now (2h, 3d), a date or a time")
	set.Flags().StringVar(&reason, "reason", "", "why (required)")
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List the current and future freezes",
		Args:  argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body httpapi.ItemsBody[shiplog.Freeze]
			if done, err := a.get(cmd.Context(), apiclient.Path("projects", args[0], "freezes"), nil, &body); done || err != nil {
				return err
			}
			if len(body.Items) == 0 {
				fmt.Fprintf(a.std.out, "no current or future freezes of %s\n", args[0])
				return nil
			}
			t := a.newTable(a.std.out, "FREEZE", "ENVIRONMENTS", "STARTS", "ENDS", "BY", "REASON")
			for _, f := range body.Items {
				t.row(f.ID, freezeEnvs(f), a.when(f.StartsAt), a.when(f.EndsAt), personOf(f.CreatedBy), clip(f.Reason, 50))
			}
			return t.flush()
		},
	}
	del := &cobra.Command{
		Use:   "delete PROJECT FREEZE",
		Short: "Lift a freeze",
		Long: `delete lifts a freeze: one of a single environment at that environment's route
(DELETE /projects/P/environments/E/freezes/F), which a role allowed that environment may use;
one of several or all environments at DELETE /projects/P/freezes/F, an admin's route.`,
		Args: argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list httpapi.ItemsBody[shiplog.Freeze]
			if err := a.read(cmd.Context(), apiclient.Path("projects", args[0], "freezes"), &list); err != nil {
				return err
			}
			path := apiclient.Path("projects", args[0], "freezes", args[1])
			for _, f := range list.Items {
				if f.ID == args[1] && len(f.Environments) == 1 {
					path = apiclient.Path("projects", args[0], "environments", f.Environments[0], "freezes", args[1])
				}
			}
			var f shiplog.Freeze
			if done, err := a.send(cmd.Context(), http.MethodDelete, path, nil, &f); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "freeze %s of %s lifted\n", f.ID, args[0])
			return nil
		},
	}
	cmd.AddCommand(set, list, del)
	return cmd
}

func freezeEnvs(f shiplog.Freeze) string {
	if len(f.Environments) == 0 {
		return "all environments"
	}
	return strings.Join(f.Environments, ", ")
}

func (a *app) reportCommand() *cobra.Command {
	var detail string
	cmd := &cobra.Command{
		Use:   "report PROJECT DEPLOYMENT verified|failed [--detail TEXT]",
		Short: "Report a deployment verified (it works) or failed",
		Args:  argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			status := args[2]
			if status != "verified" && status != "failed" {
				return withCode(exitError, "report: %q is not verified or failed", status)
			}
			body := map[string]string{"status": status}
			if detail != "" {
				body["detail"] = detail
			}
			// The route names the deployment's environment, so that IAM can scope who reports
			// where: read it first.
			id, err := a.resolveDeployment(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			var d deployment
			if err := a.read(cmd.Context(), apiclient.Path("projects", args[0], "deployments", id), &d); err != nil {
				return err
			}
			path := apiclient.Path("projects", args[0], "environments", d.Environment.ID, "deployments", id, "status")
			if done, err := a.send(cmd.Context(), http.MethodPost, path, body, &d); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "deployment %s (%s, release %s) is %s\n", d.ID, d.Environment.ID, d.ReleaseID, a.paint(statusColor(d.Status).color, d.Status))
			return nil
		},
	}
	cmd.Flags().StringVar(&detail, "detail", "", "what was seen, for the record")
	return cmd
}

// parseTime reads a time flag: a duration (90m, 2h, 7d, 2w; ago when past is true, else from
// now), a date (2026-11-20, local midnight), an RFC 3339 time or Unix seconds.
func (a *app) parseTime(flag, s string, past bool) (int64, error) {
	s = strings.TrimSpace(s)
	if d, ok := parseDuration(s); ok {
		if past {
			d = -d
		}
		return a.now().Add(d).Unix(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		// Unix seconds before 2001 are not a time anyone means: a number of minutes, most likely.
		if n < 1_000_000_000 {
			return 0, withCode(exitError, "%s: %s is not a time: as Unix seconds it is %s%s", flag, s,
				time.Unix(n, 0).UTC().Format("2006-01-02 15:04 UTC"), durationHint(s))
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, a.loc); err == nil {
		return t.Unix(), nil
	}
	return 0, withCode(exitError, "%s: %q is not a duration (90m, 2h, 7d, 2w), a date (2006-01-02), an RFC 3339 time or Unix seconds", flag, s)
}

// parseDuration reads Go durations, and whole days (d) and weeks (w).
func parseDuration(s string) (time.Duration, bool) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			return time.Duration(v) * unit, err == nil && v > 0
		}
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}
