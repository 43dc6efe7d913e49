package main

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Dynamic completion: `shiplog completion bash|zsh|fish` prints cobra's script, which calls the
// hidden `shiplog __complete ARGS...` as a person presses Tab; that asks the API (as --api, or
// SHIPLOG_API_URL, says) for the projects, environments, releases, labels and deployments that
// can come next.

// What an argument is, for completion.
const (
	argProject    = "project"
	argEnv        = "environment"
	argRelease    = "release"
	argLabel      = "label"
	argRef        = "ref" // diff's FROM and TO: an environment, latest or a release
	argDeployment = "deployment"
	argFreeze     = "freeze"
	argReport     = "report" // verified or failed
)

// completeTimeout bounds the API calls of one completion: a Tab that hangs is worse than none.
const completeTimeout = 5 * time.Second

// completeArgs completes a command's positional arguments, each of the kind given in turn.
func (a *app) completeArgs(kinds ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= len(kinds) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		project := ""
		if len(args) > 0 {
			project = args[0]
		}
		return a.candidates(cmd.Context(), kinds[len(args)], project, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFlag completes a flag's value of the kind given; the project is the first argument.
func (a *app) completeFlag(kind string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.candidates(cmd.Context(), kind, args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// candidates asks the API what an argument of the kind may be. An API that does not answer
// completes nothing (cobra's debug log, BASH_COMP_DEBUG_FILE, says why).
func (a *app) candidates(ctx context.Context, kind, project, toComplete string) []cobra.Completion {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	out, err := a.lookup(ctx, kind, project, toComplete)
	if err != nil {
		cobra.CompDebugln("shiplog completion: "+err.Error(), false)
		return nil
	}
	return out
}

func (a *app) lookup(ctx context.Context, kind, project, toComplete string) ([]cobra.Completion, error) {
	switch kind {
	case argProject:
		var body httpapi.ItemsBody[shiplog.Project]
		if err := a.read(ctx, "/projects", &body); err != nil {
			return nil, err
		}
		var out []cobra.Completion
		for _, p := range body.Items {
			out = append(out, cobra.CompletionWithDesc(p.ID, p.Name))
		}
		return out, nil
	case argReport:
		return []cobra.Completion{cobra.CompletionWithDesc("verified", "it works"), cobra.CompletionWithDesc("failed", "it does not")}, nil
	}
	if project == "" {
		return nil, nil
	}
	switch kind {
	case argEnv:
		return a.envCandidates(ctx, project)
	case argLabel:
		envs, err := a.envCandidates(ctx, project)
		return append([]cobra.Completion{cobra.CompletionWithDesc(shiplog.LatestLabel, "the newest pushes")}, envs...), err
	case argRelease:
		rels, err := a.releaseCandidates(ctx, project, toComplete)
		return append([]cobra.Completion{cobra.CompletionWithDesc(shiplog.LatestLabel, "the newest release")}, rels...), err
	case argRef:
		envs, err := a.envCandidates(ctx, project)
		if err != nil {
			return nil, err
		}
		rels, err := a.releaseCandidates(ctx, project, toComplete)
		return append(append(envs, cobra.CompletionWithDesc(shiplog.LatestLabel, "the newest release")), rels...), err
	case argDeployment:
		var page shiplog.Page[deployment]
		if err := a.readQuery(ctx, apiclient.Path("projects", project, "deployments"), url.Values{"limit": {"100"}}, &page); err != nil {
			return nil, err
		}
		var ids []string
		var descs []string
		for _, d := range page.Items {
			ids = append(ids, d.ID)
			descs = append(descs, d.Environment.ID+", release "+shortID(d.ReleaseID)+", "+d.Status)
		}
		return idCandidates(ids, descs, toComplete), nil
	case argFreeze:
		var body httpapi.ItemsBody[shiplog.Freeze]
		if err := a.read(ctx, apiclient.Path("projects", project, "freezes"), &body); err != nil {
			return nil, err
		}
		var out []cobra.Completion
		for _, f := range body.Items {
			out = append(out, cobra.CompletionWithDesc(f.ID, clip(f.Reason, 40)))
		}
		return out, nil
	}
	return nil, nil
}

func (a *app) envCandidates(ctx context.Context, project string) ([]cobra.Completion, error) {
	var p shiplog.Project
	if err := a.read(ctx, apiclient.Path("projects", project), &p); err != nil {
		return nil, err
	}
	var out []cobra.Completion
	for _, e := range p.Environments {
		out = append(out, cobra.CompletionWithDesc(e.ID, e.Name))
	}
	return out, nil
}

// releaseCandidates are the newest 100 releases: their short ids (the last 8 characters, as
// tables show them), or their full ids when what is typed so far begins one.
func (a *app) releaseCandidates(ctx context.Context, project, toComplete string) ([]cobra.Completion, error) {
	var page shiplog.Page[shiplog.Release]
	if err := a.readQuery(ctx, apiclient.Path("projects", project, "releases"), url.Values{"limit": {"100"}}, &page); err != nil {
		return nil, err
	}
	var ids, descs []string
	for _, r := range page.Items {
		ids = append(ids, r.ID)
		descs = append(descs, strings.TrimSpace(r.Label+" "+time.Unix(r.CreatedAt, 0).In(a.loc).Format("2006-01-02 15:04")+" "+clip(r.Description, 30)))
	}
	return idCandidates(ids, descs, toComplete), nil
}

// idCandidates offers each id short (its last 8 characters), or whole when toComplete begins
// it, so that the shell's own prefix filter keeps the ones that fit.
func idCandidates(ids, descs []string, toComplete string) []cobra.Completion {
	typed := strings.ToUpper(toComplete)
	shortFits, wholeFits := false, false
	for _, id := range ids {
		shortFits = shortFits || strings.HasPrefix(shortID(id), typed)
		wholeFits = wholeFits || strings.HasPrefix(id, typed)
	}
	whole := typed != "" && wholeFits && !shortFits
	out := make([]cobra.Completion, 0, len(ids))
	for i, id := range ids {
		c := shortID(id)
		if whole {
			c = id
		}
		if toComplete != "" && typed == toComplete || toComplete == "" {
			out = append(out, cobra.CompletionWithDesc(c, descs[i]))
			continue
		}
		// Typed in lower case: offer the id in the case typed, or the shell filters it out.
		out = append(out, cobra.CompletionWithDesc(strings.ToLower(c), descs[i]))
	}
	return out
}

// readQuery GETs path with a query into v whatever the output format.
func (a *app) readQuery(ctx context.Context, path string, q url.Values, v any) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	res, err := c.Get(ctx, path, q)
	if err != nil {
		return err
	}
	return res.Decode(v)
}

// addCompletions gives each command's arguments and flags their completions.
func (a *app) addCompletions(root *cobra.Command) {
	args := map[string][]string{
		"project show":   {argProject},
		"images":         {argProject, argLabel},
		"releases":       {argProject},
		"release show":   {argProject, argRelease},
		"release create": {argProject},
		"diff":           {argProject, argRef, argRef},
		"history":        {argProject, argEnv},
		"status":         {argProject, argEnv},
		"events":         {argProject},
		"metrics":        {argProject, argEnv},
		"deploy":         {argProject, argEnv, argRelease},
		"promote":        {argProject, argEnv, argEnv},
		"rollback":       {argProject, argEnv},
		"wait":           {argProject, argDeployment},
		"lock":           {argProject, argEnv},
		"unlock":         {argProject, argEnv},
		"approve":        {argProject, argEnv, argRelease},
		"approvals":      {argProject, argEnv, argRelease},
		"freeze set":     {argProject},
		"freeze list":    {argProject},
		"freeze delete":  {argProject, argFreeze},
		"report":         {argProject, argDeployment, argReport},
		"projects":       {},
	}
	flags := map[string]map[string]string{
		"release create": {"label": argLabel},
		"rollback":       {"to": argDeployment},
		"freeze set":     {"environments": argEnv},
		"metrics":        {"environment": argEnv},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if kinds, ok := args[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = a.completeArgs(kinds...)
		}
		for name, kind := range flags[path] {
			_ = c.RegisterFlagCompletionFunc(name, a.completeFlag(kind))
		}
		for _, fixed := range []struct{ flag, values string }{{"wait", "applied verified"}, {"for", "applied verified"}} {
			if c.Flags().Lookup(fixed.flag) != nil && c.Flags().Lookup(fixed.flag).Value.Type() == "string" {
				_ = c.RegisterFlagCompletionFunc(fixed.flag, cobra.FixedCompletions(strings.Fields(fixed.values), cobra.ShellCompDirectiveNoFileComp))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
