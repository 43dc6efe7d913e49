package apiclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/apiclient/apiclienttest"
	"github.com/shiplog/shiplog/pkg/version"
)

var creds = apiclienttest.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: "session-token"}

// awsEnv points the AWS SDK's default chain at static credentials in the environment, and at no
// file or instance metadata, so that no test reaches real AWS.
func awsEnv(t *testing.T, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": creds.SessionToken,
		"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": none,
		"AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// echo answers what the API would see: the path, query, body and identity header.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"path":"`+r.URL.EscapedPath()+`","query":"`+r.URL.RawQuery+`","user":"`+r.Header.Get(apiclient.UserHeader)+`","body":`+string(body)+`}`)
})

func TestAPIGatewayRegion(t *testing.T) {
	tests := []struct {
		host, region string
		ok           bool
	}{
		{"abc123defg.execute-api.eu-west-1.amazonaws.com", "eu-west-1", true},
		{"ABC123DEFG.Execute-API.us-east-2.amazonaws.com", "us-east-2", true},
		{"abc.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1", true},
		{"127.0.0.1", "", false},
		{"api.example.com", "", false},
		{"execute-api.eu-west-1.amazonaws.com", "", false},
		{"abc.execute-api.eu-west-1.amazonaws.com.evil.example", "", false},
	}
	for _, tt := range tests {
		region, ok := apiclient.APIGatewayRegion(tt.host)
		if region != tt.region || ok != tt.ok {
			t.Errorf("APIGatewayRegion(%q) = %q, %v; want %q, %v", tt.host, region, ok, tt.region, tt.ok)
		}
	}
}

// TestSigned: a forced --sign client's requests pass a checker that recomputes SigV4 from the
// specification with the same credentials, GETs with queries and PUTs with bodies alike.
func TestSigned(t *testing.T) {
	awsEnv(t, creds.SecretAccessKey)
	checker := &apiclienttest.Checker{Credentials: creds, Region: "eu-west-1", Service: "execute-api", Next: echo}
	srv := httptest.NewServer(checker)
	defer srv.Close()
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL + "/stage", Sign: true, User: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Signing || c.Region != "eu-west-1" {
		t.Fatalf("Signing, Region = %v, %q; want true, eu-west-1", c.Signing, c.Region)
	}
	res, err := c.Get(t.Context(), apiclient.Path("projects", "storage", "diff"), map[string][]string{"to": {"release:latest"}, "from": {"environment:prod"}})
	if err != nil {
		t.Fatalf("signed GET refused: %v (%q)", err, checker.Refused())
	}
	if got, want := string(res.Body), `{"path":"/stage/projects/storage/diff","query":"from=environment%3Aprod&to=release%3Alatest","user":"","body":}`; got != want {
		t.Errorf("GET answer: got %s, want %s", got, want)
	}
	res, err = c.Do(t.Context(), http.MethodPut, apiclient.Path("projects", "a b"), nil, map[string]string{"name": "x"})
	if err != nil {
		t.Fatalf("signed PUT refused: %v (%q)", err, checker.Refused())
	}
	if !strings.Contains(string(res.Body), `"path":"/stage/projects/a%20b"`) || !strings.Contains(string(res.Body), `"body":{"name":"x"}`) {
		t.Errorf("PUT answer: %s", res.Body)
	}
	if checker.Accepted() != 2 {
		t.Errorf("accepted %d requests, want 2", checker.Accepted())
	}
}

// TestWronglySigned: a request signed with another secret is refused, and the client reports
// API Gateway's 403 and its message.
func TestWronglySigned(t *testing.T) {
	awsEnv(t, "not-the-secret")
	checker := &apiclienttest.Checker{Credentials: creds, Region: "eu-west-1", Service: "execute-api", Next: echo}
	srv := httptest.NewServer(checker)
	defer srv.Close()
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL, Sign: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(t.Context(), "/projects", nil)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || !strings.Contains(ae.Message, "signature") {
		t.Fatalf("wrongly signed GET: got %v, want a 403 about the signature", err)
	}
	if checker.Accepted() != 0 || len(checker.Refused()) != 1 {
		t.Errorf("accepted %d, refused %q; want 0 and 1", checker.Accepted(), checker.Refused())
	}
}

// TestCheckerRefusesTampering: the checker is not a rubber stamp: a signed request whose body,
// path or region is changed on the way is refused.
func TestCheckerRefusesTampering(t *testing.T) {
	awsEnv(t, creds.SecretAccessKey)
	tests := []struct {
		name   string
		tamper func(*http.Request)
		region string
	}{
		{"body", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"name":"y"}`))
		}, "eu-west-1"},
		{"path", func(r *http.Request) { r.URL.Path = "/projects/other" }, "eu-west-1"},
		{"region", func(r *http.Request) {}, "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checker := &apiclienttest.Checker{Credentials: creds, Region: tt.region, Service: "execute-api", Next: echo}
			srv := httptest.NewServer(checker)
			defer srv.Close()
			c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL, Sign: true, Transport: tamperer{tt.tamper}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Do(t.Context(), http.MethodPut, "/projects/x", nil, map[string]string{"name": "x"})
			var ae *apiclient.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
				t.Fatalf("tampered request: got %v, want 403", err)
			}
		})
	}
}

// tamperer changes a request after it is signed.
type tamperer struct{ f func(*http.Request) }

func (t tamperer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	t.f(r)
	return http.DefaultTransport.RoundTrip(r)
}

// TestExecuteAPIURLIsSigned: an execute-api URL is signed without --sign, for the region its
// host names.
func TestExecuteAPIURLIsSigned(t *testing.T) {
	awsEnv(t, creds.SecretAccessKey)
	t.Setenv("AWS_REGION", "us-east-1") // the host's region wins
	checker := &apiclienttest.Checker{Credentials: creds, Region: "eu-west-2", Service: "execute-api", Next: echo}
	srv := httptest.NewTLSServer(checker)
	defer srv.Close()
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: "https://abc123.execute-api.eu-west-2.amazonaws.com", User: "mallory", Transport: dialTo(srv)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Get(t.Context(), "/projects", nil)
	if err != nil {
		t.Fatalf("GET: %v (%q)", err, checker.Refused())
	}
	if !strings.Contains(string(res.Body), `"user":""`) {
		t.Errorf("a signed request carries X-Shiplog-User: %s", res.Body)
	}
}

// dialTo is a transport that sends every request to srv, whatever its host, trusting srv's
// certificate: an execute-api URL served on 127.0.0.1.
func dialTo(srv *httptest.Server) http.RoundTripper {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: "example.com"}
	return tr
}

// TestUnsigned: the local stack gets X-Shiplog-User and no signature.
func TestUnsigned(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		echo(w, r)
	}))
	defer srv.Close()
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Get(t.Context(), "/projects", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Signing || auth != "" || !strings.Contains(string(res.Body), `"user":"alice"`) {
		t.Errorf("unsigned client: Signing %v, Authorization %q, answer %s; want no signature and user alice", c.Signing, auth, res.Body)
	}
}

// TestUserAgent: every request names shiplog and this build's version, so that an access log
// tells which CLI sent it.
func TestUserAgent(t *testing.T) {
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		echo(w, r)
	}))
	defer srv.Close()
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), "/projects", nil); err != nil {
		t.Fatal(err)
	}
	if want := version.UserAgent("cli"); ua != want || !strings.HasPrefix(ua, "shiplog-cli/") {
		t.Errorf("User-Agent %q, want %q", ua, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, body  string
		status      int
		kind, inMsg string
	}{
		{"shiplog's error", `{"error":{"kind":"Conflict","message":"stage is locked"}}`, 409, "Conflict", "stage is locked"},
		{"API Gateway's", `{"message":"Forbidden"}`, 403, "", "403 Forbidden: Forbidden"},
		{"not JSON", `<html>bad gateway</html>`, 502, "", "502 Bad Gateway: <html>bad gateway</html>"},
		{"empty", ``, 500, "", "GET /projects: 500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := apiclient.New(t.Context(), apiclient.Options{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Get(t.Context(), "/projects", nil)
			var ae *apiclient.Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *apiclient.Error", err)
			}
			if ae.Status != tt.status || ae.Kind != tt.kind || !strings.Contains(ae.Error(), tt.inMsg) {
				t.Errorf("got status %d kind %q message %q; want %d, %q, containing %q", ae.Status, ae.Kind, ae.Error(), tt.status, tt.kind, tt.inMsg)
			}
		})
	}
	c, err := apiclient.New(t.Context(), apiclient.Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(t.Context(), "/projects", nil)
	var ne *apiclient.NetworkError
	if !errors.As(err, &ne) {
		t.Errorf("no server: got %v, want a *apiclient.NetworkError", err)
	}
	for _, bad := range []string{"ftp://x", "127.0.0.1:8080", "http://", "http://h/?q=1", "http://u:p@h/"} {
		if _, err := apiclient.New(t.Context(), apiclient.Options{URL: bad}); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
}
