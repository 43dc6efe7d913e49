package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// SecureParameters reads parameters, SecureString ones decrypted (SSM: awsssm.Store).
type SecureParameters interface {
	GetSecureParameters(ctx context.Context, names []string) (map[string]string, error)
}

// Loader reads the configuration from the parameter Name and resolves its destinations' URLs
// and secrets, at most once every TTL (a changed route or rotated secret is seen within it).
type Loader struct {
	Params SecureParameters
	Name   string
	TTL    time.Duration
	Now    func() time.Time

	mu     sync.Mutex
	cached Config
	at     time.Time
}

// Load returns the configuration, resolved.
func (l *Loader) Load(ctx context.Context) (Config, error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.at.IsZero() && now.Sub(l.at) < l.TTL {
		return l.cached, nil
	}
	got, err := l.Params.GetSecureParameters(ctx, []string{l.Name})
	if err != nil {
		return Config{}, err
	}
	raw, ok := got[l.Name]
	if !ok {
		return Config{}, shiplog.Errorf(shiplog.NotFound, "notification configuration: no parameter %s", l.Name)
	}
	cfg, err := ParseConfig([]byte(raw))
	if err != nil {
		return Config{}, fmt.Errorf("parameter %s: %w", l.Name, err)
	}
	var names []string
	for _, name := range sortedKeys(cfg.Destinations) {
		d := cfg.Destinations[name]
		for _, n := range []string{d.URLParameter, d.SecretParameter} {
			if n == "" {
				continue
			}
			// The function's role reads only the configuration's own parameter and those under it.
			if !strings.HasPrefix(n, l.Name+"/") {
				return Config{}, shiplog.Errorf(shiplog.Invalid, "destinations.%s: parameter %s is not under %s/, where the notify function may read", name, n, l.Name)
			}
			names = append(names, n)
		}
	}
	secrets, err := l.Params.GetSecureParameters(ctx, names)
	if err != nil {
		return Config{}, err
	}
	for name, d := range cfg.Destinations {
		if d.URLParameter != "" {
			u, ok := secrets[d.URLParameter]
			if !ok {
				return Config{}, shiplog.Errorf(shiplog.NotFound, "destinations.%s.url_parameter: no parameter %s", name, d.URLParameter)
			}
			if err := checkURL(u); err != nil {
				return Config{}, shiplog.Errorf(shiplog.Invalid, "destinations.%s: parameter %s: %v", name, d.URLParameter, err)
			}
			d.URL = u
		}
		if d.SecretParameter != "" {
			s, ok := secrets[d.SecretParameter]
			if !ok || s == "" {
				return Config{}, shiplog.Errorf(shiplog.NotFound, "destinations.%s.secret_parameter: no parameter %s", name, d.SecretParameter)
			}
			d.Secret = s
		}
		cfg.Destinations[name] = d
	}
	l.cached, l.at = cfg, now
	return cfg, nil
}
