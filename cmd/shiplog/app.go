package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/version"
)

// The exit codes, one per kind of failure, so that scripts can tell them apart.
const (
	exitOK           = 0
	exitError        = 1 // usage, a local error, a refused confirmation
	exitInvalid      = 2 // the API refused the request as invalid (400, 405, 413)
	exitNotFound     = 3 // 404
	exitConflict     = 4 // 409, or a plan's refusal: a lock, a freeze, a gate
	exitUnauthorized = 5 // 401, 403, or no AWS credentials
	exitUnavailable  = 6 // 502, 503, 504, or no answer at all
	exitInternal     = 7 // 500
	exitDeployFailed = 8 // the deployment waited on became failed or superseded
	exitTimeout      = 9 // --timeout passed before the deployment reached the status waited for
)

const exitCodesHelp = `Exit codes:
  0  success
  1  usage error, local error, or the confirmation was declined
  2  invalid request (the API answered 400, 405 or 413)
  3  not found (404)
  4  conflict (409, or the plan's refusal: a lock, a freeze, a promotion gate)
  5  unauthorized or forbidden (401, 403, or no AWS credentials)
  6  unavailable (502, 503, 504, or the API did not answer)
  7  internal error of the API (500)
  8  the deployment waited on became failed or superseded
  9  --timeout passed before the deployment reached the status waited for`

// app holds a run's streams, environment and global flags.
type app struct {
	std    streams
	getenv func(string) string
	now    func() time.Time
	loc    *time.Location
	// transport, if set, carries the client's requests (tests point it at their servers).
	transport http.RoundTripper
	// pollInterval is how often deploy checks the deployment's status.
	pollInterval time.Duration

	api, profile, region, user, output string
	sign                               bool

	// after holds what to tell a person on stderr once a command has printed its output.
	after []string
}

func newApp(std streams, getenv func(string) string) *app {
	return &app{std: std, getenv: getenv, now: time.Now, loc: time.Local, pollInterval: 2 * time.Second}
}

// exitError is an error with its exit code, for failures that are not API errors.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

func withCode(code int, format string, args ...any) error {
	return &codeError{code: code, err: fmt.Errorf(format, args...)}
}

// describe returns the exit code and the message for err.
func (a *app) describe(err error) (int, string) {
	var ce *codeError
	var ae *apiclient.Error
	var ne *apiclient.NetworkError
	var cred *apiclient.CredentialsError
	switch {
	case errors.As(err, &ce):
		return ce.code, err.Error()
	case errors.As(err, &ae):
		return exitCodeOf(ae.Status, ae.Kind), a.forPeople(err.Error())
	case errors.As(err, &cred):
		return exitUnauthorized, err.Error()
	case errors.As(err, &ne):
		return exitUnavailable, err.Error() + " (is `shiplog serve` or `make run` running? --api or SHIPLOG_API_URL say where the API is)"
	case errors.Is(err, context.Canceled):
		return exitError, "interrupted"
	}
	return exitError, err.Error()
}

// exitCodeOf maps an API answer to an exit code: by status, which is more precise than the
// kind (a 401 is of kind Invalid), else by kind (a plan's refusal has only a kind).
func exitCodeOf(status int, kind string) int {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return exitUnauthorized
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusConflict:
		return exitConflict
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return exitUnavailable
	case http.StatusInternalServerError:
		return exitInternal
	}
	if status >= 400 && status < 500 {
		return exitInvalid
	}
	switch kind {
	case shiplog.Invalid.String():
		return exitInvalid
	case shiplog.NotFound.String():
		return exitNotFound
	case shiplog.Conflict.String():
		return exitConflict
	case shiplog.Unavailable.String():
		return exitUnavailable
	case shiplog.Internal.String():
		return exitInternal
	case shiplog.Forbidden.String():
		return exitUnauthorized
	}
	return exitError
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "shiplog",
		Short: "shiplog: release and deployment tracking for container services",
		Long: `shiplog: release and deployment tracking for container services.

The CLI talks to the HTTP API at --api (or SHIPLOG_API_URL; default ` + apiclient.DefaultURL + `, the
local stack that "shiplog serve" and "make run" start). An API Gateway URL
(https://ID.execute-api.REGION.amazonaws.com) is called with every request signed with SigV4,
with your AWS credentials (environment, profiles, SSO: --profile, --region); --sign forces it
for other URLs (a custom domain). Against the local stack, --user (default $USER) says who you are.

Who did something is shown as NAME (ID); "invoke" in the brackets, as in "CI (ci, invoke)", marks
an identity a direct Lambda invocation asserted: the invoker may name anyone, no one authenticated it.`,
		Example: `  shiplog project register -f .wellcome_project
  shiplog images storage
  shiplog release create storage --description "weekly"
  shiplog deploy storage stage latest
  shiplog promote storage stage prod
  shiplog status storage
  source <(shiplog completion bash)    # Tab completes projects, environments, releases`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.String(),
	}
	root.SetVersionTemplate("shiplog {{.Version}}\n")
	root.SetOut(a.std.out)
	root.SetErr(a.std.err)
	root.SetIn(a.std.in)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return withCode(exitError, "%v (see %s --help)", err, cmd.CommandPath())
	})
	root.SetHelpTemplate(root.HelpTemplate() + "\nExit codes: shiplog help exit-codes\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.api, "api", "", "the HTTP API's base URL (default $SHIPLOG_API_URL, else "+apiclient.DefaultURL+")")
	pf.BoolVar(&a.sign, "sign", false, "sign requests with SigV4 even when --api is not an execute-api URL")
	pf.StringVar(&a.profile, "profile", "", "AWS profile for signing (default $AWS_PROFILE)")
	pf.StringVar(&a.region, "region", "", "AWS region for signing (default: the execute-api URL's, else $AWS_REGION)")
	pf.StringVar(&a.user, "user", "", "who you are to the local stack, sent as X-Shiplog-User (default $USER)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table (for people), json (the API's JSON as is) or yaml (the same, as YAML)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if a.output != "table" && a.output != "json" && a.output != "yaml" {
			return withCode(exitError, "--output: %q is not table, json or yaml", a.output)
		}
		return nil
	}
	root.AddGroup(&cobra.Group{ID: "read", Title: "Reading:"}, &cobra.Group{ID: "write", Title: "Changing:"},
		&cobra.Group{ID: "local", Title: "Local stack and tools:"})
	for _, c := range []*cobra.Command{a.projectsCommand(), a.projectCommand(), a.imagesCommand(), a.releasesCommand(),
		a.releaseCommand(), a.diffCommand(), a.historyCommand(), a.statusCommand(), a.eventsCommand(), a.metricsCommand()} {
		c.GroupID = "read"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.deployCommand(), a.promoteCommand(), a.rollbackCommand(), a.lockCommand(),
		a.unlockCommand(), a.freezeCommand(), a.reportCommand(), a.waitCommand(), a.approveCommand(), a.approvalsCommand()} {
		c.GroupID = "write"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.uiCommand(), a.serveCommand(), a.createTablesCommand()} {
		c.GroupID = "local"
		root.AddCommand(c)
	}
	root.AddCommand(exitCodesCommand())
	root.SetHelpCommandGroupID("local")
	root.SetCompletionCommandGroupID("local")
	// Build the completion command now, so that examples reach it.
	root.InitDefaultCompletionCmd()
	addExamples(root)
	a.addCompletions(root)
	return root
}

// client returns the API client the global flags describe.
func (a *app) client(ctx context.Context) (*apiclient.Client, error) {
	url := a.api
	if url == "" {
		url = a.getenv("SHIPLOG_API_URL")
	}
	user := a.user
	if user == "" {
		user = a.getenv("USER")
	}
	c, err := apiclient.New(ctx, apiclient.Options{URL: url, Sign: a.sign, Profile: a.profile, Region: a.region, User: user, Transport: a.transport})
	if err != nil {
		return nil, withCode(exitError, "%v", err)
	}
	return c, nil
}

// jsonOut reports whether -o json or -o yaml was asked for: the API's answers, not tables.
func (a *app) jsonOut() bool { return a.output == "json" || a.output == "yaml" }

// printJSON prints an API answer as it came, ending in a newline; with -o yaml, as YAML.
func (a *app) printJSON(body []byte) error {
	out := strings.TrimRight(string(body), "\n")
	if !json.Valid([]byte(out)) {
		return fmt.Errorf("the API answered something that is not JSON: %.200s", out)
	}
	if a.output == "yaml" {
		y, err := jsonToYAML([]byte(out))
		if err != nil {
			return err
		}
		_, err = a.std.out.Write(y)
		return err
	}
	_, err := fmt.Fprintln(a.std.out, out)
	return err
}

// jsonToYAML turns JSON into block-style YAML, keeping the order of keys.
func jsonToYAML(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the API's JSON as YAML: %w", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		// JSON is YAML in flow style with quoted strings; a person reads the block style.
		n.Style = 0
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("the API's JSON as YAML: %w", err)
	}
	return buf.Bytes(), enc.Close()
}

// noArgs refuses positional arguments with a message naming the first.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return withCode(exitError, "%s: unexpected argument %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// argsBetween wants between min and max positional arguments, named in the command's Use line.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return withCode(exitError, "usage: %s (see --help)", cmd.UseLine())
		}
		return nil
	}
}
