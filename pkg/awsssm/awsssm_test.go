package awsssm_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// newClient returns an SSM client for endpoint whose calls are checked, when the test ends,
// against awsssm.Actions: the Store must call nothing a least-privilege policy would deny.
func newClient(t *testing.T, cfg aws.Config, optFns ...func(*ssm.Options)) (*ssm.Client, *localaws.CallRecorder) {
	t.Helper()
	rec := localaws.NewCallRecorder()
	rec.Option()(&cfg)
	t.Cleanup(func() {
		for _, action := range rec.Actions() {
			if !slices.Contains(awsssm.Actions, action) {
				t.Errorf("the Store called %s, which is not in awsssm.Actions %v", action, awsssm.Actions)
			}
		}
	})
	return ssm.NewFromConfig(cfg, optFns...), rec
}

func TestParameterStoreContract(t *testing.T) {
	// A moto of its own, because the contract wants an empty store for every subtest.
	m := localaws.StartMoto(t)
	shiplogtest.RunParameterStoreTests(t, func(t *testing.T) shiplog.ParameterStore {
		m.Reset(t)
		client, _ := newClient(t, m.Config(t.Context()), awsssm.WithRetries)
		return awsssm.New(client)
	})
}

// The contract holds for a Store with a prefix too: the domain sees its own names.
func TestPrefixedParameterStoreContract(t *testing.T) {
	m := localaws.StartMoto(t)
	shiplogtest.RunParameterStoreTests(t, func(t *testing.T) shiplog.ParameterStore {
		m.Reset(t)
		client, _ := newClient(t, m.Config(t.Context()), awsssm.WithRetries)
		return awsssm.New(client).WithPrefix("/stack-a")
	})
}

// TestPrefixKeepsStacksApart puts the same domain names through a Store without a prefix and one
// with, on one SSM: each reads only its own, and SSM holds the prefixed ones under the prefix.
func TestPrefixKeepsStacksApart(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	client, _ := newClient(t, m.Config(ctx))
	plain := awsssm.New(client)
	prefix := localaws.UniqueName("/stack")
	prefixed := plain.WithPrefix(prefix)
	project := localaws.UniqueName("proj")
	path := shiplog.ParameterPath(project, "latest")
	name := shiplog.ParameterName(project, "latest", "web")

	if err := plain.PutParameters(ctx, map[string]string{name: "plain"}); err != nil {
		t.Fatal(err)
	}
	if err := prefixed.PutParameters(ctx, map[string]string{name: "prefixed", path + "api": "prefixed-api"}); err != nil {
		t.Fatal(err)
	}
	// What SSM holds, read past the Store.
	for ssmName, want := range map[string]string{name: "plain", prefix + name: "prefixed", prefix + path + "api": "prefixed-api"} {
		out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ssmName)})
		if err != nil {
			t.Errorf("SSM GetParameter %s: %v", ssmName, err)
		} else if got := aws.ToString(out.Parameter.Value); got != want {
			t.Errorf("SSM %s: got %q, want %q", ssmName, got, want)
		}
	}
	if _, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(path + "api")}); err == nil {
		t.Errorf("the prefixed Store wrote %s outside its prefix", path+"api")
	}

	for _, tt := range []struct {
		store *awsssm.Store
		want  map[string]string
	}{
		{plain, map[string]string{name: "plain"}},
		{prefixed, map[string]string{name: "prefixed", path + "api": "prefixed-api"}},
	} {
		byPath, err := tt.store.GetParametersByPath(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if !mapsEqual(byPath, tt.want) {
			t.Errorf("GetParametersByPath %s: got %v, want %v", path, byPath, tt.want)
		}
		byName, err := tt.store.GetParameters(ctx, []string{name, path + "api"})
		if err != nil {
			t.Fatal(err)
		}
		if !mapsEqual(byName, tt.want) {
			t.Errorf("GetParameters: got %v, want %v", byName, tt.want)
		}
		if got, err := tt.store.GetParameter(ctx, name); err != nil || got != tt.want[name] {
			t.Errorf("GetParameter %s: got %q, %v; want %q", name, got, err, tt.want[name])
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, ok := range []string{"", "/shiplog-staging", "/a", "/team_b.v2"} {
		if err := awsssm.CheckPrefix(ok); err != nil {
			t.Errorf("CheckPrefix(%q): %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"shiplog", "/", "/a/b", "/a/", "/with space", "/aws-x", "/SSM", "/" + string(make([]byte, 65))} {
		err := awsssm.CheckPrefix(bad)
		if shiplog.KindOf(err) != shiplog.Invalid {
			t.Errorf("CheckPrefix(%q): got %v, want an Invalid error", bad, err)
		}
	}
}

// TestActions holds awsssm.Actions to exactly what the Store calls, so the list grants
// nothing unused either.
func TestActions(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	client, rec := newClient(t, m.Config(ctx))
	s := awsssm.New(client)
	path := localaws.UniqueName("/actions") + "/images/latest/"
	if err := s.PutParameters(ctx, map[string]string{path + "a": "x"}); err != nil {
		t.Fatalf("PutParameters: %v", err)
	}
	if _, err := s.GetParameter(ctx, path+"a"); err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	if _, err := s.GetParametersByPath(ctx, path); err != nil {
		t.Fatalf("GetParametersByPath: %v", err)
	}
	if _, err := s.GetParameters(ctx, []string{path + "a", path + "b"}); err != nil {
		t.Fatalf("GetParameters: %v", err)
	}
	got, want := rec.Actions(), slices.Sorted(slices.Values(awsssm.Actions))
	if !slices.Equal(got, want) {
		t.Errorf("actions called: got %v, want %v", got, want)
	}
}

// TestGetParametersCalls checks that reading S parameters by name takes ceil(S/10) calls, the
// floor a release of S services is held to, whatever the store holds besides.
func TestGetParametersCalls(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	client, rec := newClient(t, m.Config(ctx))
	s := awsssm.New(client)
	path := localaws.UniqueName("/calls") + "/images/latest/"
	all := map[string]string{}
	var names []string
	for i := range 100 {
		name := fmt.Sprintf("%ssvc-%03d", path, i)
		all[name] = fmt.Sprintf("uri-%d", i)
		names = append(names, name)
	}
	if err := s.PutParameters(ctx, all); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 10, 11, 100} {
		rec.Reset()
		got, err := s.GetParameters(ctx, names[:n])
		if err != nil {
			t.Fatalf("GetParameters of %d: %v", n, err)
		}
		if len(got) != n {
			t.Errorf("GetParameters of %d: got %d values, want %d", n, len(got), n)
		}
		if calls, want := rec.Count("ssm:GetParameters"), (n+9)/10; calls != want || rec.Total() != want {
			t.Errorf("GetParameters of %d: %d calls (%d in all), want %d", n, calls, rec.Total(), want)
		}
	}
}

// TestGetParametersByPathPages checks that a big project's images are all read, in the fewest
// calls: one GetParametersByPath per 10 parameters.
func TestGetParametersByPathPages(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	client, rec := newClient(t, m.Config(ctx))
	s := awsssm.New(client)

	for _, n := range []int{0, 1, 10, 11, 150} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := localaws.UniqueName("/paging") + "/images/latest/"
			want := map[string]string{}
			for i := range n {
				want[fmt.Sprintf("%ssvc-%03d", path, i)] = fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-%03d@sha256:%064x", i, i)
			}
			deeper := map[string]string{path + "deeper/x": "not a direct child", path[:len(path)-1] + "-sibling/y": "not under the path"}
			rec.Reset()
			if err := s.PutParameters(ctx, want); err != nil {
				t.Fatalf("PutParameters: %v", err)
			}
			if got := rec.Count("ssm:PutParameter"); got != n {
				t.Errorf("PutParameter calls for %d parameters: got %d, want %d", n, got, n)
			}
			if err := s.PutParameters(ctx, deeper); err != nil {
				t.Fatalf("PutParameters: %v", err)
			}

			rec.Reset()
			got, err := s.GetParametersByPath(ctx, path)
			if err != nil {
				t.Fatalf("GetParametersByPath: %v", err)
			}
			if !mapsEqual(got, want) {
				t.Errorf("GetParametersByPath %s: got %d parameters %v, want %d %v", path, len(got), got, len(want), want)
			}
			// One call per page of 10, and one more after a full last page: moto answers a full
			// page with a NextToken, so n parameters take n/10+1 calls, not ceil(n/10). (SSM may
			// return short pages with a NextToken too: ceil(n/10) is a lower bound, no promise.)
			wantCalls := n/10 + 1
			if got := rec.Count("ssm:GetParametersByPath"); got != wantCalls {
				t.Errorf("GetParametersByPath calls for %d parameters: got %d, want %d", n, got, wantCalls)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// throttler stands in front of moto and answers some PutParameter calls as SSM does when its
// quota is exceeded, passing everything else through.
type throttler struct {
	proxy    *httputil.ReverseProxy
	throttle func(n int64) bool // given the 1-based number of the PutParameter request

	puts      atomic.Int64
	mu        sync.Mutex
	inFlight  int
	maxFlight int
}

func newThrottler(t *testing.T, target string, throttle func(n int64) bool) (*throttler, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	th := &throttler{proxy: httputil.NewSingleHostReverseProxy(u), throttle: throttle}
	srv := httptest.NewServer(th)
	t.Cleanup(srv.Close)
	return th, srv.URL
}

func (th *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSSM.PutParameter" {
		th.proxy.ServeHTTP(w, r)
		return
	}
	th.mu.Lock()
	th.inFlight++
	th.maxFlight = max(th.maxFlight, th.inFlight)
	th.mu.Unlock()
	defer func() {
		th.mu.Lock()
		th.inFlight--
		th.mu.Unlock()
	}()
	// Hold each write a moment so that writes the Store runs at once overlap here.
	time.Sleep(5 * time.Millisecond)
	if th.throttle(th.puts.Add(1)) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		return
	}
	th.proxy.ServeHTTP(w, r)
}

// fastRetries retries as WithRetries does, without the backoff, to keep the test quick.
func fastRetries(o *ssm.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 10
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

func TestPutParametersThrottled(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	direct := ssm.NewFromConfig(m.Config(ctx))

	t.Run("RetriedUntilWritten", func(t *testing.T) {
		// The first 12 writes are throttled: each write is retried until it lands.
		th, endpoint := newThrottler(t, m.URL, func(n int64) bool { return n <= 12 })
		cfg := m.Config(ctx)
		cfg.BaseEndpoint = aws.String(endpoint)
		client, rec := newClient(t, cfg, fastRetries)
		s := awsssm.New(client)

		path := localaws.UniqueName("/throttled") + "/images/stage/"
		want := map[string]string{}
		for i := range 40 {
			want[fmt.Sprintf("%ssvc-%02d", path, i)] = fmt.Sprintf("image-%02d", i)
		}
		if err := s.PutParameters(ctx, want); err != nil {
			t.Fatalf("PutParameters: %v", err)
		}
		got, err := awsssm.New(direct).GetParametersByPath(ctx, path)
		if err != nil {
			t.Fatalf("GetParametersByPath: %v", err)
		}
		if !mapsEqual(got, want) {
			t.Errorf("stored after throttling: got %v, want %v", got, want)
		}
		if got, want := th.puts.Load(), int64(40+12); got != want {
			t.Errorf("PutParameter requests: got %d, want %d", got, want)
		}
		if got := rec.Count("ssm:PutParameter"); got != 40 {
			t.Errorf("PutParameter operations: got %d, want 40", got)
		}
		if th.maxFlight > 4 {
			t.Errorf("PutParameter requests at once: got %d, want at most 4", th.maxFlight)
		}
		if th.maxFlight < 2 {
			t.Errorf("PutParameter requests at once: got %d, want writes to overlap", th.maxFlight)
		}
	})

	t.Run("ThrottledForGoodIsUnavailable", func(t *testing.T) {
		_, endpoint := newThrottler(t, m.URL, func(int64) bool { return true })
		cfg := m.Config(ctx)
		cfg.BaseEndpoint = aws.String(endpoint)
		client, _ := newClient(t, cfg, fastRetries)
		name := localaws.UniqueName("/throttled") + "/images/stage/svc"
		err := awsssm.New(client).PutParameters(ctx, map[string]string{name: "v"})
		if got := shiplog.KindOf(err); got != shiplog.Unavailable {
			t.Errorf("PutParameters while throttled: got kind %v (%v), want Unavailable", got, err)
		}
		if _, err := awsssm.New(direct).GetParameter(ctx, name); shiplog.KindOf(err) != shiplog.NotFound {
			t.Errorf("GetParameter of a parameter whose write failed: got %v, want NotFound", err)
		}
	})
}

func TestErrorKinds(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	client, _ := newClient(t, m.Config(ctx))
	s := awsssm.New(client)
	base := localaws.UniqueName("/kinds")

	tests := []struct {
		name string
		call func() error
		want shiplog.Kind
	}{
		{"missing parameter", func() error { _, err := s.GetParameter(ctx, base+"/images/latest/none"); return err }, shiplog.NotFound},
		{"empty value", func() error { return s.PutParameters(ctx, map[string]string{base + "/images/latest/a": ""}) }, shiplog.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := shiplog.KindOf(err); got != tt.want {
				t.Errorf("got kind %v (%v), want %v", got, err, tt.want)
			}
		})
	}

	// A server that is down is Unavailable once the retries are spent.
	down := m.Config(ctx)
	down.BaseEndpoint = aws.String("http://127.0.0.1:1")
	c, _ := newClient(t, down, fastRetries)
	if _, err := awsssm.New(c).GetParameter(ctx, base+"/images/latest/a"); shiplog.KindOf(err) != shiplog.Unavailable {
		t.Errorf("GetParameter from a server that is down: got kind %v (%v), want Unavailable", shiplog.KindOf(err), err)
	}
}

func TestWithRetries(t *testing.T) {
	client := ssm.NewFromConfig(aws.Config{Region: localaws.Region}, awsssm.WithRetries)
	if got := client.Options().Retryer.MaxAttempts(); got != 10 {
		t.Errorf("MaxAttempts: got %d, want 10", got)
	}
}
