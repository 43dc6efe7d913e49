package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/notify"
)

type params map[string]string

func (p params) GetSecureParameters(ctx context.Context, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		if v, ok := p[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

func TestLoader(t *testing.T) {
	const cfg = `{"destinations":{"hook":{"type":"webhook","url_parameter":"/shiplog/notify/hook-url","secret_parameter":"/shiplog/notify/hook-secret"}},"routes":[{"events":["*"],"to":["hook"]}]}`
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	p := params{"/shiplog/notify": cfg, "/shiplog/notify/hook-url": "https://hooks.example.org/x", "/shiplog/notify/hook-secret": "k"}
	l := &notify.Loader{Params: p, Name: "/shiplog/notify", TTL: time.Minute, Now: func() time.Time { return now }}
	c, err := l.Load(t.Context())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if d := c.Destinations["hook"]; d.URL != "https://hooks.example.org/x" || d.Secret != "k" {
		t.Errorf("hook: got %+v, want its URL and secret resolved", d)
	}
	tests := []struct {
		name string
		p    params
		want string
	}{
		{"no configuration", params{}, "no parameter /shiplog/notify"},
		{"a URL parameter missing", params{"/shiplog/notify": cfg, "/shiplog/notify/hook-secret": "k"}, "url_parameter: no parameter /shiplog/notify/hook-url"},
		{"a secret parameter missing", params{"/shiplog/notify": cfg, "/shiplog/notify/hook-url": "https://x.org/y"}, "secret_parameter"},
		{"a URL that is not one", params{"/shiplog/notify": cfg, "/shiplog/notify/hook-url": "file:///etc/passwd", "/shiplog/notify/hook-secret": "k"}, "not an http(s) URL"},
		{"a parameter outside", params{"/shiplog/notify": strings.Replace(cfg, "/shiplog/notify/hook-url", "/other/url", 1)}, "is not under /shiplog/notify/"},
		{"bad JSON", params{"/shiplog/notify": `{"routes":`}, "/shiplog/notify"},
	}
	for _, tt := range tests {
		l := &notify.Loader{Params: tt.p, Name: "/shiplog/notify", TTL: time.Minute}
		if _, err := l.Load(t.Context()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
