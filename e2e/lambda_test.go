package e2e

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// function is one Lambda function: its bootstrap running under aws-lambda-rie.
//
// aws-lambda-rie answers an invocation that failed with the error payload but without the
// X-Amz-Function-Error header that Lambda sets (aws/aws-lambda-runtime-interface-emulator#20:
// its response writer drops every header), so the aws CLI would not report FunctionError. Lambda
// sets that header when the runtime reported the failure on the Runtime API's
// /runtime/invocation/{id}/error; so the test does what Lambda does, from the same signal: the
// runtime talks to rie's Runtime API through a proxy that notes which invocations it reported
// as failed, and the CLI talks to rie's invoke endpoint through a proxy that adds
// "X-Amz-Function-Error: Unhandled" to the answers of exactly those. Neither proxy changes a
// request or response body.
type function struct {
	name string
	// URL is what `aws lambda invoke --endpoint-url` is given.
	URL  string
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{}

	servers []*http.Server

	mu     sync.Mutex
	failed map[string]bool // invocation ids the runtime reported an error for
}

// startFunction runs bootstrap under aws-lambda-rie, both rie addresses on free 127.0.0.1 ports,
// and waits until rie accepts invocations.
func startFunction(name, rie, bootstrap string, env []string) (*function, error) {
	var lastErr error
	for range 3 {
		f, err := tryStartFunction(name, rie, bootstrap, env)
		if err == nil {
			return f, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

func tryStartFunction(name, rie, bootstrap string, env []string) (*function, error) {
	f := &function{name: name, logs: &logBuffer{}, done: make(chan struct{}), failed: map[string]bool{}}
	emulatorAddr, runtimeAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}

	// The Runtime API proxy, which the bootstrap is pointed at.
	runtime := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: runtimeAddr})
	runtime.ErrorLog = log.New(f.logs, "runtime API proxy: ", 0)
	runtimeProxy, err := f.serve(runtime, f.noteErrors)
	if err != nil {
		return nil, err
	}
	envPath, err := exec.LookPath("env")
	if err != nil {
		f.stop()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	// rie sets AWS_LAMBDA_RUNTIME_API itself, over anything it is given, so the bootstrap is
	// started through env(1) to point it at the proxy.
	f.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", emulatorAddr,
		"--runtime-api-address", runtimeAddr,
		envPath, "AWS_LAMBDA_RUNTIME_API="+runtimeProxy, bootstrap)
	f.cmd.Env = env
	f.cmd.Stdout = f.logs
	f.cmd.Stderr = f.logs
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	f.cmd.WaitDelay = 2 * time.Second
	if err := f.cmd.Start(); err != nil {
		f.stop()
		return nil, fmt.Errorf("start aws-lambda-rie for %s: %w", name, err)
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.done)
	}()

	// The invoke proxy, which the aws CLI is pointed at.
	invoke := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: emulatorAddr})
	invoke.ModifyResponse = f.markFailure
	invoke.ErrorLog = log.New(f.logs, "invoke proxy: ", 0)
	invokeAddr, err := f.serve(invoke, f.nameInvocation)
	if err != nil {
		f.stop()
		return nil, err
	}
	f.URL = "http://" + invokeAddr

	if err := f.waitReady(emulatorAddr); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// serve starts an HTTP server on a free 127.0.0.1 port with h behind the middleware mw.
func (f *function) serve(h http.Handler, mw func(http.Handler) http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: mw(h), ReadHeaderTimeout: 10 * time.Second}
	f.servers = append(f.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// nameInvocation gives each invocation an id, which rie passes on to the runtime as the request
// id, as Lambda does.
func (f *function) nameInvocation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Amzn-RequestId", newID())
		next.ServeHTTP(w, r)
	})
}

// noteErrors records the invocations the runtime reports as failed.
func (f *function) noteErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// POST /2018-06-01/runtime/invocation/{id}/error
		if rest, ok := strings.CutPrefix(r.URL.Path, "/2018-06-01/runtime/invocation/"); ok && r.Method == http.MethodPost {
			if id, ok := strings.CutSuffix(rest, "/error"); ok {
				f.mu.Lock()
				f.failed[id] = true
				f.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (f *function) markFailure(resp *http.Response) error {
	id := resp.Request.Header.Get("X-Amzn-RequestId")
	resp.Header.Set("X-Amzn-RequestId", id)
	f.mu.Lock()
	failed := f.failed[id]
	f.mu.Unlock()
	if failed {
		resp.Header.Set("X-Amz-Function-Error", "Unhandled")
	}
	return nil
}

// waitReady waits until rie accepts connections on its invoke address (it starts the bootstrap
// on the first invocation).
func (f *function) waitReady(addr string) error {
	stop := time.Now().Add(deadline)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-f.done:
			if strings.Contains(f.logs.String(), "address already in use") {
				return fmt.Errorf("start aws-lambda-rie for %s: %w", f.name, errPortTaken)
			}
			return fmt.Errorf("aws-lambda-rie for %s exited before listening on %s; its output:\n%s", f.name, addr, f.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(stop) {
			return fmt.Errorf("aws-lambda-rie for %s does not listen on %s after %s; its output:\n%s", f.name, addr, deadline, f.logs)
		}
	}
}

// stop ends rie, which ends the bootstrap it started (SIGTERM lets it do so; SIGKILL is the
// fallback, after which the bootstrap exits on its own when its Runtime API connection drops).
func (f *function) stop() {
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
			<-f.done
		}
	}
	for _, srv := range f.servers {
		_ = srv.Close()
	}
}

// freeAddrs returns two distinct 127.0.0.1 addresses that nothing listens on.
func freeAddrs() (string, string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs[0], addrs[1], nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// logBuffer collects a process's output for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
