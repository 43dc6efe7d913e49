package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestAccessLog: one line per request with method, path, status, duration and who: the
// identity LocalIdentity gave it, also for a request LocalIdentity refused (who is then empty).
func TestAccessLog(t *testing.T) {
	e := newTestEnv(t)
	var buf bytes.Buffer
	h := httpapi.AccessLog(httpapi.LocalIdentity(e.api, shiplog.Person{}), slog.New(slog.NewJSONHandler(&buf, nil)))
	tests := []struct {
		method, target, body string
		header               map[string]string
		status               int
		who                  string
	}{
		{"GET", "/projects/storage", "", map[string]string{"X-Shiplog-User": "alice"}, 200, "alice"},
		{"GET", "/projects/nope", "", nil, 404, ""},
		{"POST", "/projects/storage/releases", "", map[string]string{"X-Shiplog-User": "bob"}, 201, "bob"},
		{"GET", "/projects", "", map[string]string{"X-Shiplog-User": "a b"}, 400, ""},
	}
	for _, tt := range tests {
		buf.Reset()
		rec := serve(t, h, tt.method, tt.target, tt.body, tt.header)
		if rec.Code != tt.status {
			t.Fatalf("%s %s: status %d, want %d (%s)", tt.method, tt.target, rec.Code, tt.status, rec.Body)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var got struct {
			Msg, Method, Path, Who string
			Status                 int
			Duration               *float64 `json:"duration_ms"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
			t.Fatalf("log line %q: %v", lines[len(lines)-1], err)
		}
		if got.Msg != "request" || got.Method != tt.method || got.Path != tt.target || got.Status != tt.status || got.Who != tt.who || got.Duration == nil {
			t.Errorf("%s %s: logged %+v, want status %d who %q", tt.method, tt.target, got, tt.status, tt.who)
		}
	}
}
