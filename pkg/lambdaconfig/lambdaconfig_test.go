package lambdaconfig

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// lambdaEnv clears every variable Load reads and sets what Lambda sets, then vars over it.
func lambdaEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, name := range []string{regionEnv, defaultRegionEnv, accessKeyIDEnv, accessKeyEnv, secretAccessKeyEnv, secretKeyEnv,
		sessionTokenEnv, accountIDEnv, containerFullURIEnv, containerRelativeURIEnv, containerTokenEnv, containerTokenFileEnv,
		endpointURLEnv, endpointURLEnv + "_DYNAMODB", endpointURLEnv + "_SSM", ignoreConfiguredEndpoint, caBundleEnv} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	base := map[string]string{
		regionEnv:          "eu-west-1",
		defaultRegionEnv:   "eu-west-1",
		accessKeyIDEnv:     "ASIAENVKEY",
		secretAccessKeyEnv: "env-secret",
		sessionTokenEnv:    "env-session-token",
	}
	for k, v := range vars {
		base[k] = v
	}
	for k, v := range base {
		if v != "" {
			t.Setenv(k, v)
		}
	}
}

func TestLoadRegion(t *testing.T) {
	tests := []struct {
		name            string
		region, deflt   string
		want, wantError string
	}{
		{name: "AWS_REGION", region: "eu-west-1", want: "eu-west-1"},
		{name: "AWS_REGION over AWS_DEFAULT_REGION", region: "eu-west-1", deflt: "us-east-2", want: "eu-west-1"},
		{name: "AWS_DEFAULT_REGION alone", deflt: "us-east-2", want: "us-east-2"},
		{name: "neither", wantError: "AWS_REGION is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lambdaEnv(t, map[string]string{regionEnv: tt.region, defaultRegionEnv: tt.deflt})
			cfg, err := Load()
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("got error %v, want one saying %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.want {
				t.Errorf("got region %q, want %q", cfg.Region, tt.want)
			}
		})
	}
}

func TestLoadEnvironmentCredentials(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		want      aws.Credentials
		wantError string
	}{
		{
			name: "Lambda's keys and session token",
			want: aws.Credentials{AccessKeyID: "ASIAENVKEY", SecretAccessKey: "env-secret", SessionToken: "env-session-token"},
		},
		{
			name: "with an account id",
			vars: map[string]string{accountIDEnv: "123456789012"},
			want: aws.Credentials{AccessKeyID: "ASIAENVKEY", SecretAccessKey: "env-secret", SessionToken: "env-session-token", AccountID: "123456789012"},
		},
		{
			name: "the older names",
			vars: map[string]string{accessKeyIDEnv: "", secretAccessKeyEnv: "", sessionTokenEnv: "", accessKeyEnv: "AKIAOLD", secretKeyEnv: "old-secret"},
			want: aws.Credentials{AccessKeyID: "AKIAOLD", SecretAccessKey: "old-secret"},
		},
		{
			name:      "a key id without its secret",
			vars:      map[string]string{secretAccessKeyEnv: ""},
			wantError: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
		},
		{
			name:      "nothing",
			vars:      map[string]string{accessKeyIDEnv: "", secretAccessKeyEnv: "", sessionTokenEnv: ""},
			wantError: "no AWS credentials in the environment",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lambdaEnv(t, tt.vars)
			cfg, err := Load()
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("got error %v, want one saying %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.Credentials.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got.Source = ""
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// credentialsServer is a container credentials endpoint that answers requests carrying token.
func credentialsServer(t *testing.T, token string) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if got := r.Header.Get("Authorization"); got != token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code":"Unauthorized","message":"bad token"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"container-secret","Token":"container-token","Expiration":"` +
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestLoadContainerCredentials(t *testing.T) {
	want := aws.Credentials{AccessKeyID: "ASIACONTAINER", SecretAccessKey: "container-secret", SessionToken: "container-token"}
	noKeys := map[string]string{accessKeyIDEnv: "", secretAccessKeyEnv: "", sessionTokenEnv: ""}
	with := func(vars map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range noKeys {
			out[k] = v
		}
		for k, v := range vars {
			out[k] = v
		}
		return out
	}

	t.Run("full URI with a token", func(t *testing.T) {
		srv, calls := credentialsServer(t, "the-token")
		lambdaEnv(t, with(map[string]string{containerFullURIEnv: srv.URL + "/creds", containerTokenEnv: "the-token"}))
		cfg, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		if *calls != 0 {
			t.Errorf("Load fetched credentials %d times; it must leave that to the first call", *calls)
		}
		checkCredentials(t, cfg, want)
	})
	t.Run("full URI with a token file", func(t *testing.T) {
		srv, _ := credentialsServer(t, "token-from-file")
		file := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(file, []byte("token-from-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		lambdaEnv(t, with(map[string]string{containerFullURIEnv: srv.URL, containerTokenFileEnv: file, containerTokenEnv: "stale"}))
		cfg, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		checkCredentials(t, cfg, want)
	})
	t.Run("relative URI", func(t *testing.T) {
		srv, _ := credentialsServer(t, "")
		old := containerHost
		containerHost = srv.URL
		t.Cleanup(func() { containerHost = old })
		lambdaEnv(t, with(map[string]string{containerRelativeURIEnv: "/v2/credentials/abc"}))
		cfg, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		checkCredentials(t, cfg, want)
	})
	t.Run("keys win over the endpoint", func(t *testing.T) {
		srv, calls := credentialsServer(t, "")
		lambdaEnv(t, map[string]string{containerFullURIEnv: srv.URL})
		cfg, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		checkCredentials(t, cfg, aws.Credentials{AccessKeyID: "ASIAENVKEY", SecretAccessKey: "env-secret", SessionToken: "env-session-token"})
		if *calls != 0 {
			t.Errorf("the endpoint was called %d times", *calls)
		}
	})
	for _, uri := range []string{"http://192.0.2.10/creds", "ftp://127.0.0.1/creds", "not a url"} {
		t.Run("refuses "+uri, func(t *testing.T) {
			lambdaEnv(t, with(map[string]string{containerFullURIEnv: uri}))
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), containerFullURIEnv) {
				t.Fatalf("got error %v, want one about %s", err, containerFullURIEnv)
			}
		})
	}
	t.Run("accepts https anywhere", func(t *testing.T) {
		lambdaEnv(t, with(map[string]string{containerFullURIEnv: "https://creds.example.com/x"}))
		if _, err := Load(); err != nil {
			t.Fatal(err)
		}
	})
}

func checkCredentials(t *testing.T, cfg aws.Config, want aws.Credentials) {
	t.Helper()
	got, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey || got.SessionToken != want.SessionToken {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// hostRecorder is an HTTP client that notes the host of each request and sends none.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

var errNotSent = errors.New("not sent")

func (h *hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hosts = append(h.hosts, r.URL.Host)
	return nil, errNotSent
}

// TestLoadEndpoints holds the real service clients, made from Load's config, to the SDK's rules
// for AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
func TestLoadEndpoints(t *testing.T) {
	tests := []struct {
		name         string
		vars         map[string]string
		dynamo, ssmH string
	}{
		{name: "none", dynamo: "dynamodb.eu-west-1.amazonaws.com", ssmH: "ssm.eu-west-1.amazonaws.com"},
		{name: "one for all", vars: map[string]string{endpointURLEnv: "http://127.0.0.1:5000"},
			dynamo: "127.0.0.1:5000", ssmH: "127.0.0.1:5000"},
		{name: "one service's over all", vars: map[string]string{endpointURLEnv: "http://127.0.0.1:5000", endpointURLEnv + "_DYNAMODB": "http://127.0.0.1:8000"},
			dynamo: "127.0.0.1:8000", ssmH: "127.0.0.1:5000"},
		{name: "one service's alone", vars: map[string]string{endpointURLEnv + "_SSM": "http://127.0.0.1:5001"},
			dynamo: "dynamodb.eu-west-1.amazonaws.com", ssmH: "127.0.0.1:5001"},
		{name: "ignored", vars: map[string]string{endpointURLEnv: "http://127.0.0.1:5000", endpointURLEnv + "_SSM": "http://127.0.0.1:5001", ignoreConfiguredEndpoint: "true"},
			dynamo: "dynamodb.eu-west-1.amazonaws.com", ssmH: "ssm.eu-west-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lambdaEnv(t, tt.vars)
			cfg, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			rec := &hostRecorder{}
			cfg.HTTPClient = rec
			ctx := context.Background()
			_, err = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }).
				ListTables(ctx, &dynamodb.ListTablesInput{})
			if !errors.Is(err, errNotSent) {
				t.Fatalf("ListTables: %v", err)
			}
			_, err = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.RetryMaxAttempts = 1 }).
				GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
			if !errors.Is(err, errNotSent) {
				t.Fatalf("GetParameter: %v", err)
			}
			if want := []string{tt.dynamo, tt.ssmH}; strings.Join(rec.hosts, " ") != strings.Join(want, " ") {
				t.Errorf("DynamoDB and SSM went to %v, want %v", rec.hosts, want)
			}
		})
	}
	t.Run("bad AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", func(t *testing.T) {
		lambdaEnv(t, map[string]string{ignoreConfiguredEndpoint: "sometimes"})
		if _, err := Load(); err == nil || !strings.Contains(err.Error(), ignoreConfiguredEndpoint) {
			t.Fatalf("got error %v, want one about %s", err, ignoreConfiguredEndpoint)
		}
	})
}

func TestLoadCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, cert, 0o600); err != nil {
		t.Fatal(err)
	}

	get := func(cfg aws.Config) error {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		client := cfg.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	lambdaEnv(t, nil)
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := get(cfg); err == nil {
		t.Fatal("without AWS_CA_BUNDLE the test server's certificate was trusted; the test proves nothing")
	}

	lambdaEnv(t, map[string]string{caBundleEnv: bundle})
	if cfg, err = Load(); err != nil {
		t.Fatal(err)
	}
	if err := get(cfg); err != nil {
		t.Errorf("with AWS_CA_BUNDLE: %v", err)
	}

	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing"), 0o600)
	lambdaEnv(t, map[string]string{caBundleEnv: empty})
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("got error %v, want one saying the bundle holds no certificate", err)
	}
}
