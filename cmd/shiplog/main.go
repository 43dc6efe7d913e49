// Command shiplog is shiplog's command line: the CLI people use against the HTTP API (the local
// stack's, or API Gateway's with SigV4), the local dashboard proxy (shiplog ui), and the local
// stack itself (shiplog serve): the HTTP API and the Lambda Invoke API of the ecr-push,
// create-release, deploy and ecs-events functions, on an embedded store, with no AWS account.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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
	if msg != "" {
		fmt.Fprintln(a.std.err, "shiplog:", msg)
	}
	return code
}
