package awsapp

// BenchmarkColdStart measures issue 12's first goal: how long each function takes from the start
// of aws-lambda-rie to its first answer, next to a hello-world aws-lambda-go function built the
// same way, and how large each bootstrap is.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// coldStartRounds is how many times each bootstrap is started. The rounds interleave the
	// bootstraps, so that a slow spell of this shared machine falls on all of them alike.
	coldStartRounds = 41
	// coldStartFastest is the share of a bootstrap's rounds whose mean is its time: its fastest
	// quarter. On a loaded machine a first invoke takes from 1 to 40 times its quiet time,
	// whichever process the scheduler runs at that moment; a round's ratio to hello-world's, or
	// a median of them, then measures the load more than the bootstrap (0.1 to 5.9 in one run at
	// load 25). The fastest starts are those the load touched least, on every bootstrap alike.
	coldStartFastest = 4
	// coldStartGoal is the most a function's first invoke may take, as a multiple of hello-world's.
	coldStartGoal = 1.25
)

// lambdaBuildFlags are the Makefile's GO_LAMBDA_BUILD flags, less GOOS and GOARCH; the benchmark
// checks that the Makefile still says so.
// The version the Makefile stamps is a string the size of a commit id.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w -X github.com/shiplog/shiplog/pkg/version.Version=v0.0.0-bench-000000000000"}

// coldStartCase is a bootstrap and a payload it refuses before any AWS call, so that what is
// timed is the start of the process and not a round trip.
type coldStartCase struct {
	name    string // "hello-world" or a function's directory name
	pkg     string // the package to build, relative to the repository root
	payload string
	answer  string // a piece of the answer that says the payload was refused, as it should be
}

var coldStartCases = []coldStartCase{
	{"hello-world", "./pkg/awsapp/testdata/hello", `{}`, `"hello"`},
	{"ecr-push", "./functions/ecr-push", `{"source":"aws.s3"}`, `not an ECR image action`},
	{"create-release", "./functions/create-release", `[]`, `got a JSON array, want an object`},
	{"deploy", "./functions/deploy", `[]`, `got a JSON array, want an object`},
	{"ecs-events", "./functions/ecs-events", `{"source":"aws.s3"}`, `not an ECS deployment or service event`},
	{"api", "./functions/api", `{"rawPath":"/","requestContext":{"http":{"method":"GET","path":"/"}}}`, `"statusCode":404`},
	// No records: nothing to publish, so no call to EventBridge.
	{"events", "./functions/events", `{"Records":[]}`, `batchItemFailures`},
}

func BenchmarkColdStart(b *testing.B) {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	checkMakefileFlags(b, root)
	gogc := templateGOGC(b, root)
	rie := riePath(b, root)
	dir := b.TempDir()

	// The timing runs this machine's build (rie runs only what the host can execute); the sizes
	// are those of the linux/arm64 build that `make build` zips for Lambda.
	type built struct {
		host            string
		armSize, zipped int64
	}
	bins := map[string]built{}
	for _, c := range coldStartCases {
		host := filepath.Join(dir, "host", c.name, "bootstrap")
		goBuild(b, root, c.pkg, host, "", "")
		arm := filepath.Join(dir, "arm64", c.name, "bootstrap")
		goBuild(b, root, c.pkg, arm, "linux", "arm64")
		armSize, zipped := sizes(b, arm)
		bins[c.name] = built{host, armSize, zipped}
	}

	env := append(coldStartEnv(b), "GOGC="+gogc)
	priority := "at this machine's load"
	if restore, err := favour(); err != nil {
		b.Logf("the starts run at normal priority, among whatever else this machine runs: %v", err)
	} else {
		defer restore()
		priority = "at nice -20"
	}
	times, cpus := map[string][]time.Duration{}, map[string][]time.Duration{}
	ratios := map[string][]float64{}
	for round := range coldStartRounds {
		// Rotate the order each round: whichever runs first after a pause is not always the same.
		order := slices.Clone(coldStartCases)
		k := round % len(order)
		order = append(order[k:], order[:k]...)
		got := map[string]time.Duration{}
		for _, c := range order {
			d, cpu, err := firstInvoke(rie, bins[c.name].host, env, c)
			if err != nil {
				b.Fatalf("%s, round %d: %v", c.name, round, err)
			}
			got[c.name] = d
			times[c.name] = append(times[c.name], d)
			cpus[c.name] = append(cpus[c.name], cpu)
		}
		for _, c := range coldStartCases[1:] {
			ratios[c.name] = append(ratios[c.name], float64(got[c.name])/float64(got["hello-world"]))
		}
	}
	floor := fastest(times["hello-world"])

	var rows, over []string
	for _, c := range coldStartCases {
		bin := bins[c.name]
		fast := fastest(times[c.name])
		ms := float64(fast) / float64(time.Millisecond)
		medMS := float64(median(times[c.name])) / float64(time.Millisecond)
		cpuMS := float64(median(cpus[c.name])) / float64(time.Millisecond)
		ic := initCost(b, bin.host, gogc)
		ratio, paired, verdict := 1.0, 1.0, "the floor"
		if c.name != "hello-world" {
			ratio = float64(fast) / float64(floor)
			paired = medianFloat(ratios[c.name])
			verdict = "goal reached"
			if ratio > coldStartGoal {
				verdict = fmt.Sprintf("OVER %.2f", coldStartGoal)
				over = append(over, fmt.Sprintf("%s: %.2f× hello-world", c.name, ratio))
			}
			b.ReportMetric(ratio, c.name+"-ratio")
		}
		b.ReportMetric(float64(bin.armSize), c.name+"-bootstrap-bytes")
		rows = append(rows, fmt.Sprintf("%-14s  %6.1f  %5.2f  %6.1f  %6.2f  %6.1f  %7.1f  %6d  %6.1f  %6d  %8.1f  %6.1f  %s", c.name, ms, ratio, medMS, paired, cpuMS,
			ic.ms, ic.allocs, ic.sdkMS, ic.sdkAlloc, float64(bin.armSize)/1e6, float64(bin.zipped)/1e6, verdict))
	}
	for b.Loop() {
	}
	b.Logf("first invoke from the start of aws-lambda-rie in %d interleaved rounds, %s (%s/%s build); ms: the mean of each bootstrap's fastest 1/%d; ratio: that to hello-world's, goal <= %.2f\n",
		coldStartRounds, priority, runtime.GOOS, runtime.GOARCH, coldStartFastest, coldStartGoal)
	b.Logf("%-14s  %6s  %5s  %6s  %6s  %6s  %7s  %6s  %6s  %6s  %8s  %6s  %s\n%s\n"+
		"median ms, paired: the median first invoke, and the median of each round's ratio to hello-world's (both move with the machine's load);\n"+
		"cpu: rie's and the bootstrap's CPU time, start to exit (median); init: package init (GODEBUG=inittrace=1, median of 5); of it, sdk: the SDK's service client packages (%s*);\n"+
		"sizes: linux/arm64, as `make build` makes them",
		"function", "ms", "ratio", "med ms", "paired", "cpu ms", "init ms", "allocs", "sdk ms", "sdk al", "arm64 MB", "zip MB", "verdict", strings.Join(rows, "\n"), sdkServicePrefix)
	if len(over) > 0 {
		b.Fatalf("first invoke above %.2f× hello-world: %s", coldStartGoal, strings.Join(over, "; "))
	}
}

// favour gives every thread of this process nice -20, so that rie and the bootstraps, which
// inherit it from the thread that starts them, and the client that times them, take the CPU
// from the rest of a loaded machine, as a Lambda function has its sandbox's CPU to itself. It
// takes CAP_SYS_NICE (root has it). restore puts each thread back to the nice it had (threads
// started meanwhile to the process's first).
func favour() (restore func(), err error) {
	tids := func() []int {
		entries, _ := os.ReadDir("/proc/self/task")
		var ids []int
		for _, e := range entries {
			if id, err := strconv.Atoi(e.Name()); err == nil {
				ids = append(ids, id)
			}
		}
		return ids
	}
	// Linux's getpriority answers 20 - nice.
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("getpriority: %w", err)
	}
	was := map[int]int{}
	first := 20 - raw
	restore = func() {
		for _, id := range tids() {
			nice, ok := was[id]
			if !ok {
				nice = first
			}
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, id, nice)
		}
	}
	for _, id := range tids() {
		raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, id)
		if err != nil {
			continue // the thread has exited
		}
		was[id] = 20 - raw
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, id, -20); err != nil {
			restore()
			return nil, fmt.Errorf("setpriority -20: %w", err)
		}
	}
	return restore, nil
}

// checkMakefileFlags fails unless the Makefile builds functions with lambdaBuildFlags, so that
// the benchmark measures the bootstraps Lambda gets.
func checkMakefileFlags(b *testing.B, root string) {
	b.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		b.Fatal(err)
	}
	want := `GO_LAMBDA_BUILD := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)"`
	if !bytes.Contains(mk, []byte(want+"\n")) {
		b.Fatalf("the Makefile no longer says %q: update lambdaBuildFlags and this check to what it says", want)
	}
}

// templateGOGC returns the GOGC that template.yaml's Globals give every function, so that the
// benchmark runs the bootstraps as Lambda does (hello-world too).
func templateGOGC(b *testing.B, root string) string {
	b.Helper()
	tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^        GOGC: "([0-9]+|off)"$`).FindSubmatch(tpl)
	if m == nil {
		b.Fatal(`template.yaml's Globals no longer set GOGC: "N" for every function: update templateGOGC to what they set`)
	}
	return string(m[1])
}

func riePath(b *testing.B, root string) string {
	b.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	p := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err != nil {
		b.Fatalf("aws-lambda-rie is neither on PATH nor at %s: run `make tools`", p)
	}
	return p
}

// goBuild builds pkg as the Makefile builds a function, for goos/goarch ("" for this machine).
func goBuild(b *testing.B, root, pkg, out, goos, goarch string) {
	b.Helper()
	args := append([]string{"build"}, lambdaBuildFlags...)
	cmd := exec.Command("go", append(args, "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s (GOOS=%q GOARCH=%q): %v\n%s", pkg, goos, goarch, err, out)
	}
}

// sizes returns the size of the bootstrap at path and of a zip of it, deflated as zip(1) does.
func sizes(b *testing.B, path string) (int64, int64) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	return int64(len(data)), int64(buf.Len())
}

// coldStartEnv is the environment of every run: what Lambda sets, with every AWS endpoint on a
// port where nothing listens, so that a call to AWS would fail rather than be timed. Nothing of
// this machine's environment comes in: AWS_CA_BUNDLE in particular, which Lambda does not set.
func coldStartEnv(b *testing.B) []string {
	b.Helper()
	closed, err := closedAddr()
	if err != nil {
		b.Fatal(err)
	}
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIAEXAMPLEEXAMPLE00",
		"AWS_SECRET_ACCESS_KEY=example/example/example/example/example0",
		"AWS_SESSION_TOKEN=example-session-token",
		"AWS_ENDPOINT_URL=http://" + closed,
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		ReleasesTableEnv + "=bench-releases",
		StateTableEnv + "=bench-state",
		"SHIPLOG_EVENT_BUS=bench-bus",
		"SHIPLOG_ACCOUNT_ID=123456789012",
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	}
}

// firstInvoke starts rie with bootstrap and returns the time from then to the first answer.
// The CPU time of rie and the bootstrap, start to exit, is returned too: unlike the wall time,
// it does not grow with the load of this shared machine.
func firstInvoke(rie, bootstrap string, env []string, c coldStartCase) (time.Duration, time.Duration, error) {
	for attempt := 0; ; attempt++ {
		var cpu time.Duration
		d, err := tryFirstInvoke(rie, bootstrap, env, c, &cpu)
		if (errors.Is(err, errPortTaken) || errors.Is(err, errRuntimeAPIRace)) && attempt < 3 {
			continue
		}
		return d, cpu, err
	}
}

var errPortTaken = errors.New("port taken")

// errRuntimeAPIRace is rie starting the bootstrap before its Runtime API listens, which it does
// now and then on a busy machine (the bootstrap's first poll is refused and rie answers 502).
var errRuntimeAPIRace = errors.New("the bootstrap found no Runtime API")

func tryFirstInvoke(rie, bootstrap string, env []string, c coldStartCase, cpu *time.Duration) (time.Duration, error) {
	emulator, err := closedAddr()
	if err != nil {
		return 0, err
	}
	runtimeAPI, err := closedAddr()
	if err != nil {
		return 0, err
	}
	var logs bytes.Buffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", emulator, "--runtime-api-address", runtimeAPI, bootstrap)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	url := "http://" + emulator + "/2015-03-31/functions/function/invocations"

	started := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start aws-lambda-rie: %w", err)
	}
	// exited is closed once rie has exited and waitErr says how: both the loop below and the
	// deferred stop wait on it, so it must be a close, not one value sent.
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			*cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}()

	for {
		resp, err := client.Post(url, "application/json", strings.NewReader(c.payload))
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			elapsed := time.Since(started)
			if err != nil {
				return 0, err
			}
			if resp.StatusCode == http.StatusBadGateway && strings.Contains(logs.String(), "failed to get the next invoke") {
				return 0, errRuntimeAPIRace
			}
			if !strings.Contains(string(body), c.answer) {
				return 0, fmt.Errorf("answered %s %q, want one with %q; rie's output:\n%s", resp.Status, body, c.answer, &logs)
			}
			return elapsed, nil
		}
		select {
		case <-exited:
			if strings.Contains(logs.String(), "address already in use") {
				return 0, errPortTaken
			}
			return 0, fmt.Errorf("aws-lambda-rie exited (%v) before answering; its output:\n%s", waitErr, &logs)
		default:
		}
		if time.Since(started) > 20*time.Second {
			return 0, fmt.Errorf("no answer after 20s: %v; rie's output:\n%s", err, &logs)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// closedAddr returns a 127.0.0.1 address where nothing listens (for now).
func closedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, [0-9]+ bytes, ([0-9]+) allocs`)

// initCosts is what package init took in one start of a bootstrap: in all, and in the packages of
// the SDK's service clients (github.com/aws/aws-sdk-go-v2/service/...), whose generated schemas
// are most of it.
type initCosts struct {
	ms, sdkMS        float64
	allocs, sdkAlloc int
}

const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// initCost runs bootstrap with GODEBUG=inittrace=1 and no Runtime API to talk to, so that it exits
// right after main starts, and sums what its packages' init took (the median of a few runs).
func initCost(b *testing.B, bootstrap, gogc string) initCosts {
	b.Helper()
	var runs []initCosts
	for range 5 {
		runs = append(runs, initCostOnce(b, bootstrap, gogc))
	}
	slices.SortFunc(runs, func(x, y initCosts) int { return cmp.Compare(x.ms, y.ms) })
	return runs[len(runs)/2]
}

func initCostOnce(b *testing.B, bootstrap, gogc string) initCosts {
	b.Helper()
	closed, err := closedAddr()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bootstrap)
	cmd.Env = append(coldStartEnv(b), "GOGC="+gogc, "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API="+closed)
	out, _ := cmd.CombinedOutput() // it fails: there is no Runtime API
	var c initCosts
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := initLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		clock, _ := strconv.ParseFloat(m[2], 64)
		n, _ := strconv.Atoi(m[3])
		c.ms, c.allocs, lines = c.ms+clock, c.allocs+n, lines+1
		if strings.HasPrefix(m[1], sdkServicePrefix) {
			c.sdkMS, c.sdkAlloc = c.sdkMS+clock, c.sdkAlloc+n
		}
	}
	if lines == 0 {
		b.Fatalf("%s printed no inittrace lines:\n%s", bootstrap, out)
	}
	return c
}

// fastest returns the mean of the fastest 1/coldStartFastest of ds (at least one).
func fastest(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	s = s[:max(1, len(s)/coldStartFastest)]
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(len(s))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}

func medianFloat(fs []float64) float64 {
	s := slices.Sorted(slices.Values(fs))
	return s[len(s)/2]
}
