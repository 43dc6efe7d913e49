// Command shiplog runs shiplog's local stack: the web dashboard, the HTTP API and the Lambda
// Invoke API of the ecr-push, create-release and deploy functions, on an embedded store, with no
// AWS account.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/dashboard"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

const usage = `shiplog: release and deployment tracking for container services.

Usage:
  shiplog serve [--addr 127.0.0.1:8080] [--data .shiplog/shiplog.db] [--manifest FILE [--retire P/ENV,...]]
  shiplog create-tables --releases-table NAME --state-table NAME

serve runs the local stack: the web dashboard (/), the HTTP API (/projects/...) and the Lambda
Invoke API (/2015-03-31/functions/{ecr-push,create-release,deploy}/invocations) on an embedded store.

create-tables creates the DynamoDB tables the functions use, with the keys and indexes of
template.yaml, wherever the AWS SDK's environment points (AWS_ENDPOINT_URL=http://127.0.0.1:5000
for a moto_server). Deployed stacks get their tables from template.yaml instead.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "shiplog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "create-tables":
		return createTables(ctx, args[1:], stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", filepath.Join(".shiplog", "shiplog.db"), "the embedded store's file")
	manifestFile := fs.String("manifest", "", "a .wellcome_project file whose projects are registered at start")
	retire := fs.String("retire", "", "project/environment,...: environments, deployed to before, that --manifest drops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if *retire != "" && *manifestFile == "" {
		return errors.New("serve: --retire goes with --manifest, whose registration drops the environments")
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	store, err := bolt.Open(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := shiplog.NewService(store, store, nil, log)

	if *manifestFile != "" {
		b, err := os.ReadFile(*manifestFile)
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
		projects, err := manifest.Parse(b)
		if err == nil {
			in := shiplog.RegisterInput{Projects: projects}
			in.Retired, err = retired(*retire)
			if err == nil {
				projects, err = svc.RegisterProjects(ctx, in)
			}
		}
		if err != nil {
			return fmt.Errorf("register %s: %s", *manifestFile, shiplog.MessageOf(err))
		}
		for _, p := range projects {
			log.Info("project registered", "project", p.ID)
		}
	}

	functions := map[string]lambda.Handler{}
	for name, fn := range awslambda.Functions(svc, log) {
		functions[name] = fn
	}
	invoke := awslambda.InvokeAPI(functions)
	api := httpapi.LocalIdentity(httpapi.NewHandler(svc, log), osUser())
	dash := dashboard.Handler()
	// Dispatch by prefix rather than with a ServeMux, which would redirect unclean paths such as
	// /projects/p/images/.. to another resource instead of letting the API refuse them.
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/"):
			invoke.ServeHTTP(w, r)
		case dashboard.Serves(r.URL.Path):
			dash.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// One request per connection, so that StrictHeaders sees every request's header: a bare LF
	// there would otherwise split X-Shiplog-User into two headers.
	srv.SetKeepAlivesEnabled(false)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpapi.StrictHeaders(ln)) }()
	log.Info("shiplog serving", "addr", ln.Addr().String(), "data", *data)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	log.Info("shiplog stopped")
	return nil
}

func createTables(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("create-tables", flag.ContinueOnError)
	fs.SetOutput(stderr)
	releases := fs.String("releases-table", "", "name of the releases table (SHIPLOG_RELEASES_TABLE)")
	state := fs.String("state-table", "", "name of the state table (SHIPLOG_STATE_TABLE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *releases == "" || *state == "" || fs.NArg() > 0 {
		return errors.New("create-tables: give --releases-table and --state-table, and nothing else")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(cfg), *releases, *state); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "tables %s and %s are ready\n", *releases, *state)
	return nil
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
