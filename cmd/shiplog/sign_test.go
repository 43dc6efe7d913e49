package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/apiclient/apiclienttest"
	"github.com/shiplog/shiplog/pkg/dashboard"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var testCreds = apiclienttest.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}

// awsEnv gives the AWS SDK's default chain static credentials from the environment, and no
// file or instance metadata: no test reaches real AWS.
func awsEnv(t *testing.T, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": testCreds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "eu-west-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": none,
		"AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// signedLocal is the local stack's API behind a SigV4 check, as API Gateway puts it: the
// identity is the signer's, never a header.
func signedLocal(t *testing.T, tlsServer bool) (*local, *apiclienttest.Checker, *httptest.Server) {
	l := newLocal(t)
	api := httpapi.NewHandler(l.svc, nil)
	checker := &apiclienttest.Checker{Credentials: testCreds, Region: "eu-west-1", Service: "execute-api",
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(apiclient.UserHeader) != "" {
				http.Error(w, "a signed request carries X-Shiplog-User", http.StatusBadRequest)
				return
			}
			api.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice"})))
		})}
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(checker)
	} else {
		srv = httptest.NewServer(checker)
	}
	t.Cleanup(srv.Close)
	return l, checker, srv
}

// TestCLISigned: with --sign, every request passes a server that recomputes SigV4 with the same
// static credentials; a wrongly signed one is refused, exit 5 with the gateway's message.
func TestCLISigned(t *testing.T) {
	awsEnv(t, testCreds.SecretAccessKey)
	l, checker, srv := signedLocal(t, false)
	env := map[string]string{"USER": "mallory"}
	inv := invocation{env: env}
	inv.run(t, "--api", srv.URL, "--sign", "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json"), "--project", "storage").want(t, 0, "registered storage")
	for i, repo := range storageRepos() {
		l.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	inv.run(t, "--api", srv.URL, "--sign", "release", "create", "storage", "--description", "signed").want(t, 0, "created release")
	inv.run(t, "--api", srv.URL, "--sign", "deploy", "storage", "stage", "latest", "--yes").want(t, 0)
	inv.run(t, "--api", srv.URL, "--sign", "history", "storage", "stage").want(t, 0, "alice (arn:aws:iam::123456789012:user/alice)")
	if refused := checker.Refused(); len(refused) != 0 {
		t.Fatalf("refused: %q", refused)
	}
	accepted := checker.Accepted()

	awsEnv(t, "wrong-secret")
	r := inv.run(t, "--api", srv.URL, "--sign", "release", "create", "storage")
	r.want(t, exitUnauthorized)
	if !strings.Contains(r.stderr, "403 Forbidden: The request signature we calculated does not match") {
		t.Errorf("stderr %q, want the gateway's refusal", r.stderr)
	}
	if checker.Accepted() != accepted || len(checker.Refused()) != 1 {
		t.Errorf("wrongly signed: accepted %d (was %d), refused %d; want it refused", checker.Accepted(), accepted, len(checker.Refused()))
	}
	rels, _ := l.svc.Releases(context.Background(), "storage", shiplog.PageRequest{})
	if len(rels.Items) != 1 {
		t.Errorf("releases: %d, want 1 (the refused create wrote nothing)", len(rels.Items))
	}
}

// TestCLISignsExecuteAPIURLs: an execute-api URL is signed without --sign, in the URL's region.
func TestCLISignsExecuteAPIURLs(t *testing.T) {
	awsEnv(t, testCreds.SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1")
	_, checker, srv := signedLocal(t, true)
	inv := invocation{env: map[string]string{"SHIPLOG_API_URL": "https://abc123defg.execute-api.eu-west-1.amazonaws.com"},
		setup: func(a *app) { a.transport = dialTo(srv) }}
	inv.run(t, "projects").want(t, 0, "no projects registered yet")
	if checker.Accepted() != 1 {
		t.Errorf("accepted %d, refused %q; want the request signed for eu-west-1", checker.Accepted(), checker.Refused())
	}
}

// dialTo sends every request to srv whatever its host, trusting srv's certificate.
func dialTo(srv *httptest.Server) http.RoundTripper {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: "example.com"}
	return tr
}

// TestUIForwards: shiplog ui serves the dashboard at / and forwards /projects... signed; the
// browser's cookies do not travel; other hosts and other sites' pages are refused.
func TestUIForwards(t *testing.T) {
	awsEnv(t, testCreds.SecretAccessKey)
	l, checker, upstream := signedLocal(t, false)
	if _, err := l.svc.RegisterProjects(context.Background(), shiplog.RegisterInput{Projects: []shiplog.Project{{ID: "storage", Name: "S",
		Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}}, ImageRepositories: []shiplog.ImageRepository{{ID: "a/b", Services: []string{"b"}}},
		Manifest: []byte(`{"name":"S","environments":[{"id":"stage"}],"image_repositories":[{"id":"a/b"}]}`)}}}); err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(context.Background(), apiclient.Options{URL: upstream.URL, Sign: true})
	if err != nil {
		t.Fatal(err)
	}
	standIn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard at "+r.URL.Path) })
	ui := httptest.NewServer(uiServer(c, standIn, slog.New(slog.DiscardHandler)))
	defer ui.Close()

	do := func(method, path string, header map[string]string, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ui.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := do("GET", "/projects", map[string]string{"Cookie": "session=x", "X-Shiplog-User": "mallory"}, ""); code != 200 || !strings.Contains(body, `"id":"storage"`) {
		t.Fatalf("GET /projects through ui: %d %s (refused %q)", code, body, checker.Refused())
	}
	if code, body := do("GET", "/projects/storage/environments", nil, ""); code != 200 || !strings.Contains(body, `"items"`) {
		t.Errorf("GET environments through ui: %d %s", code, body)
	}
	if checker.Accepted() != 2 {
		t.Errorf("upstream accepted %d signed requests, want 2", checker.Accepted())
	}
	if code, body := do("GET", "/", nil, ""); code != 200 || body != "dashboard at /" {
		t.Errorf("GET /: %d %q, want the dashboard", code, body)
	}
	before := checker.Accepted() + len(checker.Refused())
	for _, tt := range []struct {
		name, host string
		header     map[string]string
	}{
		{"another host (DNS rebinding)", "evil.example:" + strings.Split(ui.Listener.Addr().String(), ":")[1], nil},
		{"another origin", "", map[string]string{"Origin": "http://evil.example"}},
		{"a cross-site fetch", "", map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if code, body := do("DELETE", "/projects/storage/environments/stage/lock", tt.header, tt.host); code != http.StatusForbidden || !strings.Contains(body, `"kind":"Invalid"`) {
			t.Errorf("%s: %d %s, want a 403 JSON error", tt.name, code, body)
		}
	}
	if after := checker.Accepted() + len(checker.Refused()); after != before {
		t.Errorf("refused requests reached the API (%d requests before, %d after)", before, after)
	}
}

// TestUIUnsigned: against the local stack, ui names the caller as --user, whatever the
// browser's header says.
func TestUIUnsigned(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get(apiclient.UserHeader)+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, `{"items":[]}`)
	}))
	defer upstream.Close()
	c, err := apiclient.New(context.Background(), apiclient.Options{URL: upstream.URL, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ui := httptest.NewServer(uiServer(c, http.NotFoundHandler(), slog.New(slog.DiscardHandler)))
	defer ui.Close()
	req, _ := http.NewRequest("GET", ui.URL+"/projects", nil)
	req.Header.Set(apiclient.UserHeader, "mallory")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(seen) != 1 || seen[0] != "alice " {
		t.Errorf("upstream saw %q, want X-Shiplog-User alice and no Authorization", seen)
	}
}

func TestUIRefusesNonLoopback(t *testing.T) {
	invocation{}.run(t, "ui", "--addr", "0.0.0.0:0").want(t, exitError)
}

// cannedDeploy is an API that answers a deploy's plan and deployment, then the deployment's
// statuses in turn, one per GET (the last one repeats).
type cannedDeploy struct {
	mu       sync.Mutex
	statuses []string
	gets     int
	posts    int
}

func (c *cannedDeploy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	dep := func(n int) string {
		var hist []string
		for i, s := range c.statuses[:n+1] {
			hist = append(hist, fmt.Sprintf(`{"status":%q,"at":%d,"by":{"id":"bob","name":"Bob"}}`, s, clock.Unix()+int64(i)))
		}
		return fmt.Sprintf(`{"deployment_id":"D1","environment":{"id":"stage","name":"Staging"},"created_at":%d,"requested_by":{"id":"bob","name":"Bob"},"description":"","project_id":"p","release_id":"R1","status":%q,"status_history":[%s]}`,
			clock.Unix(), c.statuses[n], strings.Join(hist, ","))
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/projects/p/environments/stage/deployments":
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"dry_run":true`) {
			io.WriteString(w, `{"plan":{"release_id":"R1","environment":"stage","kind":"deploy","services":[{"service":"app","change":"changed","from":"r/app@sha256:1111111111111111","to":"r/app@sha256:2222222222222222"}],"parameters_to_write":["/p/images/stage/app"],"refusal":null}}`)
			return
		}
		c.posts++
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"deployment":`+dep(0)+`,"release":{"release_id":"R1","project_id":"p"}}`)
	case r.Method == "GET" && r.URL.Path == "/projects/p/deployments/D1":
		c.gets++
		n := min(c.gets, len(c.statuses)-1)
		io.WriteString(w, dep(n)+"\n")
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"kind":"NotFound","message":"no route"}}`)
	}
}

// TestDeployWaits: deploy polls the deployment until it is applied (or verified with --wait
// verified), shows each status, and exits 8 if it fails, 9 if it takes longer than --timeout.
func TestDeployWaits(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []string
		args      []string
		wantCode  int
		wantShown []string
		wantGets  int
	}{
		{"applied", []string{"requested", "requested", "applied", "verified"}, nil, 0, []string{"requested", "applied"}, 2},
		{"verified", []string{"requested", "applied", "verified"}, []string{"--wait", "verified"}, 0, []string{"requested", "applied", "verified"}, 2},
		{"failed", []string{"requested", "failed"}, []string{"--wait", "verified"}, exitDeployFailed, []string{"failed"}, 1},
		{"superseded", []string{"requested", "superseded"}, nil, exitDeployFailed, []string{"superseded"}, 1},
		{"too slow", []string{"requested"}, []string{"--timeout", "30ms"}, exitTimeout, []string{"requested"}, -1},
		{"no wait", []string{"requested", "applied"}, []string{"--no-wait"}, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &cannedDeploy{statuses: tt.statuses}
			srv := httptest.NewServer(api)
			defer srv.Close()
			r := invocation{env: map[string]string{"SHIPLOG_API_URL": srv.URL}}.run(t, append([]string{"deploy", "p", "stage", "R1", "--yes"}, tt.args...)...)
			r.want(t, tt.wantCode, "Plan: deploy release R1 to p/stage", "r/app@sha256:111111111111", "deployment D1 recorded")
			for _, s := range tt.wantShown {
				if !regexp.MustCompile(`(?m)^  ` + s + ` `).MatchString(r.stderr) {
					t.Errorf("stderr lacks status %s:\n%s", s, r.stderr)
				}
			}
			if tt.wantGets >= 0 && api.gets != tt.wantGets {
				t.Errorf("GETs of the deployment: %d, want %d", api.gets, tt.wantGets)
			}
			if api.posts != 1 {
				t.Errorf("deploys: %d, want 1", api.posts)
			}
		})
	}
	// -o json: stdout is only the API's last answer about the deployment.
	api := &cannedDeploy{statuses: []string{"requested", "applied"}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	r := invocation{env: map[string]string{"SHIPLOG_API_URL": srv.URL}}.run(t, "-o", "json", "deploy", "p", "stage", "R1", "--yes")
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, `{"deployment_id":"D1"`) || !strings.Contains(r.stdout, `"status":"applied"`) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("-o json deploy: stdout %q, want the deployment's last answer alone", r.stdout)
	}
}

// TestUIIdentity: the page behind shiplog ui reads, at dashboard.IdentityPath, exactly who the API
// will record for its writes: the IAM identity the proxy signs as (STS GetCallerIdentity with the
// same credentials, on moto), or --user against the local stack; never a name the page sends.
func TestUIIdentity(t *testing.T) {
	identity := func(t *testing.T, c *apiclient.Client) (int, dashboard.Writer, string) {
		t.Helper()
		ui := httptest.NewServer(uiServer(c, uiHandler(c), slog.New(slog.DiscardHandler)))
		defer ui.Close()
		req, _ := http.NewRequest("GET", ui.URL+dashboard.IdentityPath, nil)
		req.Header.Set(apiclient.UserHeader, "erin")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var w dashboard.Writer
		_ = json.Unmarshal(b, &w)
		return res.StatusCode, w, string(b)
	}

	t.Run("signed", func(t *testing.T) {
		awsEnv(t, testCreds.SecretAccessKey)
		t.Setenv("AWS_ENDPOINT_URL_STS", localaws.SharedMoto(t).URL)
		c, err := apiclient.New(context.Background(), apiclient.Options{URL: "http://127.0.0.1:1", Sign: true, User: "erin"})
		if err != nil {
			t.Fatal(err)
		}
		arn, err := c.SignerARN(context.Background())
		if err != nil || !strings.HasPrefix(arn, "arn:aws:") {
			t.Fatalf("STS says the signer is %q, %v", arn, err)
		}
		code, w, body := identity(t, c)
		want := dashboard.Writer{ID: arn, Name: arn[strings.LastIndex(arn, "/")+1:], Fixed: true}
		if w.How == "" {
			t.Errorf("%s says not how the identity is had", dashboard.IdentityPath)
		}
		w.How = ""
		if code != 200 || w != want {
			t.Errorf("GET %s: %d %s, want %+v (the signer, as API Gateway names it)", dashboard.IdentityPath, code, body, want)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		awsEnv(t, testCreds.SecretAccessKey)
		t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
		c, err := apiclient.New(context.Background(), apiclient.Options{URL: "http://127.0.0.1:1", Sign: true})
		if err != nil {
			t.Fatal(err)
		}
		code, _, body := identity(t, c)
		if code != http.StatusBadGateway || !strings.Contains(body, "cannot tell which AWS identity it signs as") {
			t.Errorf("GET %s with STS unreachable: %d %s, want 502 saying so", dashboard.IdentityPath, code, body)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		c, err := apiclient.New(context.Background(), apiclient.Options{URL: "http://127.0.0.1:1", User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		code, w, body := identity(t, c)
		if code != 200 || w.ID != "alice" || w.Name != "alice" || !w.Fixed {
			t.Errorf("GET %s: %d %s, want alice, fixed (the proxy sends --user, never the page's name)", dashboard.IdentityPath, code, body)
		}
	})
}
