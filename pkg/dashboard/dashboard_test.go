package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := dashboard.Handler()
	tests := []struct {
		method, path string
		status       int
		contentType  string
		body         string // a part of the body
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/assets/js/app.js">`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/assets/js/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"GET", "/assets/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"GET", "/assets/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/assets/nope.js", 404, "application/json", `{"error":{"kind":"NotFound","message":"no dashboard page or file /assets/nope.js"}}`},
		{"GET", "/assets/index.html", 404, "application/json", `"kind":"NotFound"`},
		{"GET", "/assets/js/../app.css", 404, "application/json", `"kind":"NotFound"`},
		{"GET", "/assets/", 404, "application/json", `"kind":"NotFound"`},
		{"POST", "/", 405, "application/json", `"message":"method POST is not allowed on /; allowed: GET, HEAD"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", res.StatusCode, tt.status, b)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type: got %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(string(b), tt.body) {
				t.Errorf("body: got %s, want it to contain %s", b, tt.body)
			}
			if tt.status == 200 {
				if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
					t.Errorf("Content-Security-Policy: got %q, want the page limited to its own origin", csp)
				}
				if res.Header.Get("ETag") == "" {
					t.Error("no ETag")
				}
			}
		})
	}
}

func TestConditionalGet(t *testing.T) {
	h := dashboard.Handler()
	etag := get(t, h, "GET", "/assets/app.css").Header.Get("ETag")
	req := httptest.NewRequest("GET", "/assets/app.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: got %d, want 304", etag, rec.Code)
	}
}

func TestServes(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/assets/app.css": true, "/assets/js/app.js": true,
		"/projects": false, "/projects/storage": false, "/2015-03-31/functions/deploy/invocations": false, "/assets": false, "": false,
	} {
		if got := dashboard.Serves(path); got != want {
			t.Errorf("Serves(%q): got %v, want %v", path, got, want)
		}
	}
}

// TestAssetsAreSelfContained checks that every file the page loads is embedded (each module's
// imports and index.html's links resolve) and that no file points at another origin.
func TestAssetsAreSelfContained(t *testing.T) {
	h := dashboard.Handler()
	ref := regexp.MustCompile(`(?:from\s+'([^']+)'|(?:src|href)="(/[^"]+)")`)
	external := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	refs := 0
	err := filepath.WalkDir("assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		for _, m := range external.FindAllString(strings.ReplaceAll(text, "http://www.w3.org/2000/svg", ""), -1) {
			t.Errorf("%s refers to another origin: %s", p, m)
		}
		for _, m := range ref.FindAllStringSubmatch(text, -1) {
			target := m[2]
			if m[1] != "" {
				target = "/" + filepath.ToSlash(filepath.Join(filepath.Dir(p), m[1]))
			}
			refs++
			if res := get(t, h, "GET", target); res.StatusCode != 200 {
				t.Errorf("%s refers to %s, which answers %d", p, target, res.StatusCode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refs < 20 {
		t.Errorf("found %d references between the files; the pattern no longer matches how they refer to each other", refs)
	}
}
