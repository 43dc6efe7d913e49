package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The commands of approvals (docs/approvals.md).

func (a *app) approveCommand() *cobra.Command {
	var withdraw bool
	cmd := &cobra.Command{
		Use:   "approve PROJECT ENVIRONMENT RELEASE [--withdraw]",
		Short: "Approve a release for an environment whose deploys need approvals (or --withdraw yours)",
		Long: `approve records your approval of a release for an environment whose .wellcome_project entry
asks for approvals ({"required": 2, "from": [...], "self_approval": false}). Approving again
changes nothing. --withdraw removes your own approval. RELEASE is an id, a unique prefix or
suffix of one (the last 8 characters tables show), or latest (the newest release, resolved now:
an approval is of one release).`,
		Args: argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			project, env := args[0], args[1]
			id, err := a.approvalRelease(ctx, project, args[2])
			if err != nil {
				return err
			}
			var st shiplog.ApprovalStatus
			path := apiclient.Path("projects", project, "environments", env, "approvals")
			if withdraw {
				c, err := a.client(ctx)
				if err != nil {
					return err
				}
				res, err := c.Do(ctx, http.MethodDelete, path, url.Values{"release_id": {id}}, nil)
				if err != nil {
					return err
				}
				if a.jsonOut() {
					return a.printJSON(res.Body)
				}
				if err := res.Decode(&st); err != nil {
					return err
				}
			} else if done, err := a.send(ctx, http.MethodPost, path, httpapi.ApprovalBody{ReleaseID: id}, &st); done || err != nil {
				return err
			}
			switch {
			case withdraw && st.Changed:
				fmt.Fprintf(a.std.out, "withdrew your approval of release %s for %s/%s\n", st.ReleaseID, project, env)
			case withdraw:
				fmt.Fprintf(a.std.out, "you had not approved release %s for %s/%s; nothing changed\n", st.ReleaseID, project, env)
			case st.Changed:
				fmt.Fprintf(a.std.out, "approved release %s for %s/%s\n", st.ReleaseID, project, env)
			default:
				fmt.Fprintf(a.std.out, "you had approved release %s for %s/%s already; nothing changed\n", st.ReleaseID, project, env)
			}
			a.printApprovals(st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&withdraw, "withdraw", false, "withdraw your approval instead")
	return cmd
}

func (a *app) approvalsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "approvals PROJECT ENVIRONMENT RELEASE",
		Short: "Who approved a release for an environment, and whether it is enough",
		Args:  argsBetween(3, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, err := a.approvalRelease(ctx, args[0], args[2])
			if err != nil {
				return err
			}
			var st shiplog.ApprovalStatus
			path := apiclient.Path("projects", args[0], "releases", id, "approvals")
			if done, err := a.get(ctx, path, url.Values{"environment": {args[1]}}, &st); done || err != nil {
				return err
			}
			fmt.Fprintf(a.std.out, "release %s for %s/%s\n", st.ReleaseID, args[0], args[1])
			a.printApprovals(st)
			return nil
		},
	}
}

// approvalRelease resolves RELEASE to a full id: an approval is of one release, so latest is
// read now, not left to the API.
func (a *app) approvalRelease(ctx context.Context, project, arg string) (string, error) {
	id, err := a.resolveRelease(ctx, project, arg)
	if err != nil || id != shiplog.LatestRelease {
		return id, err
	}
	var r shiplog.Release
	if err := a.read(ctx, apiclient.Path("projects", project, "releases", shiplog.LatestRelease), &r); err != nil {
		return "", err
	}
	return r.ID, nil
}

// printApprovals shows where a release stands with an environment's approvals.
func (a *app) printApprovals(st shiplog.ApprovalStatus) {
	if st.Required == 0 {
		fmt.Fprintf(a.std.out, "%s needs no approvals\n", st.Environment)
		return
	}
	verdict := "not enough yet"
	if st.Approved {
		verdict = "enough (for a deploy by someone who did not approve)"
	}
	fmt.Fprintf(a.std.out, "approvals: %d of %d counted, %s\n", len(st.Counted), st.Required, verdict)
	if len(st.From) > 0 {
		fmt.Fprintf(a.std.out, "who may approve: %s\n", strings.Join(st.From, ", "))
	}
	if len(st.Approvals) == 0 {
		return
	}
	tw := a.newTable(a.std.out, "APPROVED BY", "AT", "COUNTS")
	for _, ap := range st.Approvals {
		counts := "no"
		for _, id := range st.Counted {
			if id == ap.By.ID {
				counts = "yes"
			}
		}
		tw.row(personOf(ap.By), a.when(ap.At), counts)
	}
	_ = tw.flush()
}
