// Package localaws starts real implementations of the AWS APIs on free 127.0.0.1 ports, so that
// adapters are tested through the real SDK against real servers rather than against fakes:
// moto_server (SSM, ECR, STS and the rest) and AWS's DynamoDB Local, whose transactions are
// isolated as DynamoDB's are (moto's are not).
//
// A test that wants a server of its own calls StartMoto or StartDynamoDBLocal; the server is
// stopped when the test ends. Starting moto takes a second or so and DynamoDB Local a few, so
// packages with many tests share one per test binary with SharedMoto/SharedDynamoDBLocal and stop
// it from TestMain:
//
//	func TestMain(m *testing.M) { localaws.Main(m) }
//
// Tests that share a server must not depend on it being empty: they use names of their own
// (a unique parameter path, table or repository) instead of resetting it.
package localaws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The credentials and region every local server is used with. Neither server checks signatures,
// but the SDK needs something to sign with.
const (
	AccessKeyID     = "test"
	SecretAccessKey = "test"
	Region          = "eu-west-1"
)

// startTimeout bounds how long a server may take to start listening: a cold Python start on a
// loaded machine running several test binaries at once can take many seconds (on 2 cores at a
// load of 40, moto_server took over a minute). A server that never listens still fails the tests,
// with its output.
const startTimeout = 3 * time.Minute

// Server is a local AWS API implementation running as a child process.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string

	name   string
	cmd    *exec.Cmd
	out    *outputWatcher
	exited chan struct{}
	once   sync.Once
}

// Config returns an SDK configuration that sends every client built from it (ssm, dynamodb,
// ecr, sts, ...) to the server, with static test credentials and region eu-west-1. It is built
// from scratch, not from the environment or ~/.aws, so that a developer's profile cannot leak in.
// opts are applied last, e.g. a CallRecorder's Option.
func (s *Server) Config(_ context.Context, opts ...func(*aws.Config)) aws.Config {
	cfg := aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// Env returns the environment variables that point the SDKs and the aws CLI of a child process
// at the server, as KEY=value pairs to append to os.Environ().
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		// Keep the child off the instance metadata service and the CLI off a pager.
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}
}

// Output returns the last lines the server wrote, for diagnosing a failing test.
func (s *Server) Output() string { return s.out.tail() }

// Close stops the server and its children. It is safe to call more than once.
func (s *Server) Close() error {
	s.once.Do(func() {
		killGroup(s.cmd)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
		}
	})
	return nil
}

// launch starts argv (with the port appended by args) on a free port and waits until the
// server says it listens and answers HTTP. It retries on a new port if another process took
// the chosen one between choosing and binding.
func launch(name string, bin string, args func(port int) []string, ready func(port int) string) (*Server, error) {
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("start %s: choose a port: %w", name, err)
		}
		s, err := launchOn(name, bin, args(port), port, ready(port))
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port already in use")

func launchOn(name, bin string, args []string, port int, marker string) (*Server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	out := &outputWatcher{marker: marker, seen: make(chan struct{})}
	cmd.Stdout = out
	cmd.Stderr = out
	// Without it, Wait blocks as long as any grandchild holds the output pipe.
	cmd.WaitDelay = 2 * time.Second
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	s := &Server{
		URL:    "http://127.0.0.1:" + strconv.Itoa(port),
		name:   name,
		cmd:    cmd,
		out:    out,
		exited: make(chan struct{}),
	}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(s.exited)
	}()

	// The marker is printed only once the server has bound the port, so a server of someone
	// else's that happens to answer on it cannot be mistaken for ours.
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case <-out.seen:
	case <-s.exited:
		text := out.tail()
		if strings.Contains(text, "Address already in use") || strings.Contains(text, "EADDRINUSE") {
			return nil, fmt.Errorf("start %s on port %d: %w", name, port, errPortTaken)
		}
		return nil, fmt.Errorf("%s (%s %s) exited before listening (%v); its output:\n%s",
			name, bin, strings.Join(args, " "), waitErr, text)
	case <-timeout.C:
		s.Close()
		return nil, fmt.Errorf("%s (%s) did not listen on port %d within %s; its output:\n%s",
			name, bin, port, startTimeout, out.tail())
	}
	if err := s.probe(timeout.C); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// probe waits until the server answers an HTTP request, whatever the status.
func (s *Server) probe(deadline <-chan time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited while starting; its output:\n%s", s.name, s.out.tail())
		case <-deadline:
			return fmt.Errorf("%s at %s does not answer: %v; its output:\n%s", s.name, s.URL, err, s.out.tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a port on 127.0.0.1 that nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// outputWatcher keeps the end of a server's output and signals when the marker appears in it.
type outputWatcher struct {
	marker string
	seen   chan struct{}

	mu    sync.Mutex
	buf   []byte
	found bool
}

const outputTail = 64 << 10

func (w *outputWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if !w.found && bytes.Contains(w.buf, []byte(w.marker)) {
		w.found = true
		close(w.seen)
	}
	if w.found && len(w.buf) > outputTail {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-outputTail/2:]...)
	}
	return len(p), nil
}

func (w *outputWatcher) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
