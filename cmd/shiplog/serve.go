package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/dashboard"
	"github.com/shiplog/shiplog/pkg/github"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func (a *app) serveCommand() *cobra.Command {
	var addr, data, manifestFile, retire, invokeAllow, invokePrivileged string
	var nopts notifyOptions
	var ghTokenEnv, ghAPIURL string
	var tick time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local stack: the HTTP API and the Lambda Invoke API on an embedded store",
		Long: `serve runs the local stack: the HTTP API (/projects/...) and the Lambda Invoke API
(/2015-03-31/functions/{ecr-push,create-release,deploy,ecs-events}/invocations, and ListFunctions) on an
embedded store. It logs every request and every release and deployment as JSON on stderr, and
stops cleanly on Ctrl-C (SIGINT) or SIGTERM. Whoever reaches it acts as you, so it refuses
requests that name a host other than localhost or an IP address (DNS rebinding) or come from
another site's page (Origin, Sec-Fetch-Site).

The Invoke API allows every project, environment and privileged field by default, as the HTTP API
does locally; --invoke-allow and --invoke-privileged take a stack's InvokeAllowList and
InvokePrivilegedActions, to try a CI pipeline against what the stack will allow it.

Every --tick (a minute by default; 0: never) it runs the time-driven work that EventBridge
Scheduler runs in AWS: auto-promotion once a soak ends or a window opens (docs/automation.md).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if retire != "" && manifestFile == "" {
				return errors.New("serve: --retire goes with --manifest, whose registration drops the environments")
			}
			policy, err := awslambda.ParseInvokePolicy(invokeAllow, invokePrivileged)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			if nopts.secret == "" {
				nopts.secret = os.Getenv("SHIPLOG_NOTIFY_SECRET")
			}
			if tick < 0 {
				return fmt.Errorf("serve: --tick %s: must be a duration of at least 0 (0: no tick)", tick)
			}
			commits, err := localCommits(ghTokenEnv, ghAPIURL)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			return serve(cmd.Context(), serveOptions{addr: addr, data: data, manifest: manifestFile, retire: retire, invoke: policy, notify: nopts, commits: commits, tick: tick}, a.std.err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&data, "data", filepath.Join(".shiplog", "shiplog.db"), "the embedded store's file")
	f.StringVar(&manifestFile, "manifest", "", "a .wellcome_project file whose projects are registered at start")
	f.StringVar(&retire, "retire", "", "project/environment,...: environments, deployed to before, that --manifest drops")
	all := awslambda.AllowAll()
	f.StringVar(&invokeAllow, "invoke-allow", all.AllowList(), "project/environment,...: what the Invoke API's create-release and deploy may act on (* is any; empty: nothing), as a stack's InvokeAllowList")
	f.StringVar(&invokePrivileged, "invoke-privileged", all.PrivilegeList(), "the privileged payload fields the Invoke API allows (empty: none), as a stack's InvokePrivilegedActions")
	f.StringVar(&nopts.url, "notify-webhook", "", "post every event to this URL (docs/notifications.md)")
	f.StringVar(&nopts.kind, "notify-type", notify.Webhook, "what --notify-webhook is: webhook (signed JSON), slack or teams")
	f.DurationVar(&tick, "tick", time.Minute, "how often to run the time-driven work (auto-promotion); 0: never")
	f.StringVar(&nopts.secret, "notify-secret", "", "the HMAC secret a webhook's messages are signed with (default: SHIPLOG_NOTIFY_SECRET)")
	f.StringVar(&ghTokenEnv, "github-token-env", "", "the environment variable holding a GitHub token: deploys then keep their ranges' commits (docs/change-notes.md); none: GitHub is never called")
	f.StringVar(&ghAPIURL, "github-api-url", github.DefaultAPIURL, "the GitHub API --github-token-env's token is for (GitHub Enterprise: https://HOST/api/v3)")
	return cmd
}

type serveOptions struct {
	addr, data, manifest, retire string
	invoke                       awslambda.InvokePolicy
	notify                       notifyOptions
	commits                      shiplog.CommitHistory // nil: no GitHub enrichment
	tick                         time.Duration
}

// localCommits is the local stack's GitHub enrichment: the token from the environment variable
// tokenEnv (never a flag's value, which the process list shows), for the API at apiURL, whose
// repositories are on its web host. No variable named: nil, and GitHub is never called.
func localCommits(tokenEnv, apiURL string) (shiplog.CommitHistory, error) {
	if tokenEnv == "" {
		return nil, nil
	}
	token := os.Getenv(tokenEnv)
	if token == "" {
		return nil, fmt.Errorf("--github-token-env: the environment variable %s is empty or not set", tokenEnv)
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--github-api-url: %q is not an http(s) URL", apiURL)
	}
	// github.com's repositories, unless the API is GitHub Enterprise Server's (https://HOST/api/v3),
	// which serves the repositories of its own web host.
	host := "github.com"
	if strings.TrimSuffix(u.Path, "/") == "/api/v3" {
		host = u.Hostname()
	}
	return &github.Client{APIURL: apiURL, Token: token, Host: host}, nil
}

// serve runs the local stack until ctx is done (main's ctx ends on SIGINT and SIGTERM).
func serve(ctx context.Context, o serveOptions, stderr interface{ Write([]byte) (int, error) }) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	// The address first: a second `make run` meets the port the first holds, and is told how to
	// run beside it, before it waits for the store's file.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return listenError(o.addr, err)
	}
	defer ln.Close()
	store, err := bolt.Open(o.data)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("%w; to run a second local stack, give it its own file and address: make run ADDR=%s DATA=.shiplog/second.db (shiplog serve --addr %s --data .shiplog/second.db)",
				err, nextAddr(o.addr), nextAddr(o.addr))
		}
		return err
	}
	defer store.Close()
	svc := localService(store, log)
	if o.commits != nil {
		svc.Commits = o.commits
		log.Info("reading deploys' commits from GitHub")
	}
	if o.notify.url != "" {
		n, err := localNotifier(o.notify, store, log)
		if err != nil {
			return err
		}
		nctx, stop := context.WithCancel(ctx)
		defer stop()
		go runNotifier(nctx, svc, n, time.Second, log)
		log.Info("posting events", "to", o.notify.kind)
	}

	if o.manifest != "" {
		b, err := os.ReadFile(o.manifest)
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
		projects, err := manifest.Parse(b)
		if err != nil {
			return fmt.Errorf("register: %s", manifestProblems(o.manifest, err))
		}
		if err == nil {
			in := shiplog.RegisterInput{Projects: projects, By: osUser()}
			in.Retired, err = retired(o.retire)
			if err == nil {
				projects, err = svc.RegisterProjects(ctx, in)
			}
		}
		if err != nil {
			return fmt.Errorf("register %s: %s", o.manifest, shiplog.MessageOf(err))
		}
		for _, p := range projects {
			log.Info("project registered", "project", p.ID)
		}
	}

	if o.tick > 0 {
		tctx, stop := context.WithCancel(ctx)
		defer stop()
		go runTicks(tctx, svc, o.tick, log)
	}

	functions := map[string]lambda.Handler{}
	for name, fn := range awslambda.Functions(svc, log, o.invoke) {
		functions[name] = fn
	}
	invoke := awslambda.InvokeAPI(functions)
	fallback := osUser()
	api := httpapi.LocalIdentity(httpapi.NewHandler(svc, log), fallback)
	// Dispatch by prefix rather than with a ServeMux, which would redirect unclean paths such as
	// /projects/p/images/.. to another resource instead of letting the API refuse them.
	// The stack records as the OS user whoever reaches it, so requests a browser sends for another
	// site's page (a no-cors POST, a rebound name) are refused before any of the three.
	// The page may name someone (X-Shiplog-User); when it does not, the record names fallback,
	// which the page shows before each write.
	dash := dashboard.HandlerFor(func(context.Context) (dashboard.Writer, error) {
		return dashboard.Writer{ID: fallback.ID, Name: fallback.Name,
			How: "the local stack records the name this page sends, or else the user running it"}, nil
	})
	mux := httpapi.AccessLog(sameSiteOnly("shiplog serve", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case lambdaAPIPath(r.URL.Path):
			invoke.ServeHTTP(w, r)
		case dashboard.Serves(r.URL.Path):
			dash.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})), log)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// One request per connection, so that StrictHeaders sees every request's header: a bare LF
	// there would otherwise split X-Shiplog-User into two headers.
	srv.SetKeepAlivesEnabled(false)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpapi.StrictHeaders(ln)) }()
	log.Info("shiplog serving", "addr", ln.Addr().String(), "data", o.data)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shiplog stopping: finishing the requests in flight")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	log.Info("shiplog stopped")
	return nil
}

// listenError says why the stack cannot listen on addr; a port in use says how to choose another.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: the address is in use (another make run or shiplog serve?); stop that one, or choose another address: make run ADDR=%s (shiplog serve --addr %s)",
			addr, nextAddr(addr), nextAddr(addr))
	}
	return fmt.Errorf("listen on %s: %w (make run ADDR=HOST:PORT, shiplog serve --addr HOST:PORT choose the address)", addr, err)
}

// nextAddr is addr with the next port, to suggest.
func nextAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n >= 65535 {
		return "127.0.0.1:8081"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// lambdaAPIPath reports whether path is one of the Lambda API's, whose first segment is the
// operation's API version (2015-03-31 for Invoke and ListFunctions, 2016-08-19 for
// GetAccountSettings, 2017-03-31 for ListTags, ...). The Invoke API answers them all, the ones it
// does not serve with an error in Lambda's shape, which the aws CLI prints; the HTTP API's routes
// all begin with /projects.
func lambdaAPIPath(path string) bool {
	version, _, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || len(version) != len("2015-03-31") {
		return false
	}
	for i, c := range version {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// localService is the local stack's Service on its store, which holds the parameters too: a
// deploy records, writes and settles in one write of the file.
func localService(store *bolt.Store, log *slog.Logger) *shiplog.Service {
	logged := loggingStore{Store: store, log: log}
	svc := shiplog.NewService(store, logged, nil, log)
	svc.Atomic = logged
	// No Runtime: the local stack has no ECS access, so an ECS event it would have to check
	// answers Unavailable. Its home is the account its function ARNs name, in no real region.
	svc.Home = localHome
	// It deploys, so it acts on automation at once (auto-rollback, auto-promotion).
	svc.Automate = true
	return svc
}

// localHome is where the local stack stands for a stack: the account of its function ARNs
// (awslambda's ListFunctions), in a region no AWS event names.
var localHome = shiplog.Location{Account: "000000000000", Region: "local"}

// loggingStore logs each release and deployment the local stack records, whichever API asked
// for it, once the store has it.
type loggingStore struct {
	*bolt.Store
	log *slog.Logger
}

func (s loggingStore) CreateRelease(ctx context.Context, w shiplog.ReleaseWrite) error {
	if err := s.Store.CreateRelease(ctx, w); err != nil {
		return err
	}
	r := w.Release
	s.log.InfoContext(ctx, "release created", "project", r.ProjectID, "release", r.ID, "label", r.Label,
		"by", r.RequestedBy.ID, "services", len(r.Images))
	return nil
}

func (s loggingStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if err := s.Store.WriteEnvironment(ctx, w); err != nil {
		return err
	}
	s.logDeployment(ctx, w)
	return nil
}

// WriteEnvironmentAndParameters is the store's write of a deploy with its parameters, logged.
func (s loggingStore) WriteEnvironmentAndParameters(ctx context.Context, w shiplog.EnvironmentWrite, params map[string]string) error {
	if err := s.Store.WriteEnvironmentAndParameters(ctx, w, params); err != nil {
		return err
	}
	s.logDeployment(ctx, w)
	return nil
}

func (s loggingStore) logDeployment(ctx context.Context, w shiplog.EnvironmentWrite) {
	if d := w.Deployment; d != nil {
		s.log.InfoContext(ctx, "deployment recorded", "project", d.ProjectID, "environment", d.Environment.ID,
			"release", d.ReleaseID, "deployment", d.ID, "kind", d.Kind, "by", d.RequestedBy.ID)
	}
}

func (a *app) createTablesCommand() *cobra.Command {
	var releases, state string
	cmd := &cobra.Command{
		Use:   "create-tables --releases-table NAME --state-table NAME",
		Short: "Create the DynamoDB tables the functions use (for moto or DynamoDB Local)",
		Long: `create-tables creates the DynamoDB tables the functions use, with the keys and indexes of
template.yaml, wherever the AWS SDK's environment points (AWS_ENDPOINT_URL=http://127.0.0.1:5000
for a moto_server). Deployed stacks get their tables from template.yaml instead.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if releases == "" || state == "" || len(args) > 0 {
				return errors.New("create-tables: give --releases-table and --state-table, and nothing else")
			}
			cfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("load AWS configuration: %w", err)
			}
			if err := awsdynamo.CreateTables(cmd.Context(), dynamodb.NewFromConfig(cfg), releases, state); err != nil {
				return err
			}
			fmt.Fprintf(a.std.err, "tables %s and %s are ready\n", releases, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&releases, "releases-table", "", "name of the releases table (SHIPLOG_RELEASES_TABLE)")
	cmd.Flags().StringVar(&state, "state-table", "", "name of the state table (SHIPLOG_STATE_TABLE)")
	return cmd
}

// retired parses --retire's project/environment list.
func retired(s string) ([]shiplog.EnvironmentRef, error) {
	var out []shiplog.EnvironmentRef
	if s == "" {
		return nil, nil
	}
	for _, ref := range strings.Split(s, ",") {
		project, env, ok := strings.Cut(ref, "/")
		if !ok {
			return nil, shiplog.Errorf(shiplog.Invalid, "--retire: %q is not project/environment", ref)
		}
		out = append(out, shiplog.EnvironmentRef{ProjectID: project, EnvironmentID: env})
	}
	return out, nil
}

// osUser is who the local API's callers are when they send no X-Shiplog-User header.
func osUser() shiplog.Person {
	if u, err := user.Current(); err == nil && u.Username != "" {
		name := u.Name
		if name == "" {
			name = u.Username
		}
		return shiplog.Person{ID: u.Username, Name: name}
	}
	if u := os.Getenv("USER"); u != "" {
		return shiplog.Person{ID: u, Name: u}
	}
	return shiplog.AnonymousPerson
}

// runTicks runs the Service's tick every interval until ctx is done, as EventBridge Scheduler
// does in AWS; what it did, and what failed, goes to the log.
func runTicks(ctx context.Context, svc *shiplog.Service, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		out, err := svc.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "tick", "err", err)
		}
		for _, o := range out {
			if o.Actions > 0 {
				log.InfoContext(ctx, "tick", "work", o.Work, "projects", o.Projects, "actions", o.Actions)
			}
		}
	}
}
