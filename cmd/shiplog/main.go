// Command shiplog is shiplog's command line: the CLI people use against the HTTP API (the local
// stack's, or API Gateway's with SigV4), the local dashboard proxy (shiplog ui), and the local
// stack itself (shiplog serve): the HTTP API and the Lambda Invoke API of the ecr-push,
// create-release, deploy and ecs-events functions, on an embedded store, with no AWS account.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/shiplog/shiplog/pkg/apiclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], terminalIO(os.Stdin, os.Stdout, os.Stderr), os.Getenv)
	stop()
	os.Exit(code)
}

// streams are the command's standard streams, and whether each is a terminal.
type streams struct {
	in            io.Reader
	out, err      io.Writer
	inTTY, outTTY bool
}

// terminalIO reports which of the process's streams are terminals.
func terminalIO(in *os.File, out, errw *os.File) streams {
	return streams{in: in, out: out, err: errw, inTTY: isTerminal(in), outTTY: isTerminal(out)}
}

// run runs the command line args and returns the process's exit code; see exitCodesHelp.
func run(ctx context.Context, args []string, std streams, getenv func(string) string) int {
	return runApp(ctx, newApp(std, getenv), args)
}

// runApp runs args with a, whose clock, transport and poll interval tests may set.
func runApp(ctx context.Context, a *app, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		for _, line := range a.after {
			fmt.Fprintln(a.std.err, line)
		}
		return exitOK
	}
	code, msg := a.describe(err)
	if a.output == "table" {
		// An error before the flags were parsed (an unknown command) still honours -o.
		a.output = outputFlag(args)
	}
	if a.jsonOut() {
		// A script that asked for JSON reads errors as JSON too, on stderr as ever.
		a.printError(err, code, msg)
		return code
	}
	if msg != "" {
		fmt.Fprintln(a.std.err, "shiplog:", msg)
	}
	return code
}

// outputFlag finds -o's value in args the way pflag reads it, or "table".
func outputFlag(args []string) string {
	out := "table"
	for i, arg := range args {
		switch {
		case arg == "--":
			return out
		case arg == "-o" || arg == "--output":
			if i+1 < len(args) {
				out = args[i+1]
			}
		case strings.HasPrefix(arg, "--output="):
			out = strings.TrimPrefix(arg, "--output=")
		case strings.HasPrefix(arg, "-o") && !strings.HasPrefix(arg, "--"):
			out = strings.TrimPrefix(strings.TrimPrefix(arg, "-o"), "=")
		}
	}
	return out
}

// kindByExit names each exit code's kind, as the API's errors name theirs.
var kindByExit = map[int]string{
	exitError: "Usage", exitInvalid: "Invalid", exitNotFound: "NotFound", exitConflict: "Conflict",
	exitUnauthorized: "Forbidden", exitUnavailable: "Unavailable", exitInternal: "Internal",
	exitDeployFailed: "DeploymentFailed", exitTimeout: "Timeout",
}

// printError writes an error as the API's error body, with the exit code: JSON, or YAML under
// -o yaml.
func (a *app) printError(err error, code int, msg string) {
	kind := kindByExit[code]
	var ae *apiclient.Error
	if errors.As(err, &ae) && ae.Kind != "" {
		kind = ae.Kind
	}
	body := map[string]any{"error": map[string]any{"kind": kind, "message": msg, "exit_code": code}}
	b, _ := json.Marshal(body)
	if a.output == "yaml" {
		if y, yerr := jsonToYAML(b); yerr == nil {
			a.std.err.Write(y)
			return
		}
	}
	fmt.Fprintln(a.std.err, string(b))
}
