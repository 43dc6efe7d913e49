// Package notify turns shiplog's events into messages people read where they work: Slack (Block
// Kit through an incoming webhook), Microsoft Teams (an Adaptive Card through a workflow webhook)
// and generic webhooks (JSON signed with HMAC-SHA256 over a timestamp and the body). Which events
// go where is the stack's configuration (Config), never the manifest CI writes; destination URLs
// and secrets are resolved from a secret store (SSM SecureString) when the configuration is
// loaded. See docs/notifications.md.
package notify

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// The kinds of destination.
const (
	Slack   = "slack"
	Teams   = "teams"
	Webhook = "webhook"
)

// Config is where notifications go: named destinations, and routes from events to them.
type Config struct {
	// DashboardURL, if set, is where messages link to (the dashboard's base URL).
	DashboardURL string                 `json:"dashboard_url,omitempty"`
	Destinations map[string]Destination `json:"destinations"`
	Routes       []Route                `json:"routes"`
}

// Destination is one place messages are posted. Its URL (and a webhook's signing secret) are
// named by secret parameters, read when the configuration is loaded; a local destination may
// give the URL itself.
type Destination struct {
	Type string `json:"type"`
	// URLParameter names the SecureString parameter that holds the URL (Slack's and Teams'
	// webhook URLs are credentials: whoever has one may post).
	URLParameter string `json:"url_parameter,omitempty"`
	// SecretParameter names the SecureString parameter of a webhook's HMAC secret.
	SecretParameter string `json:"secret_parameter,omitempty"`
	// URL and Secret are the resolved values (or given directly, for the local stack).
	URL    string `json:"url,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// Route sends the events that match it to destinations.
type Route struct {
	// Projects are project ids; "*" or none: every project.
	Projects []string `json:"projects,omitempty"`
	// Environments are environment ids; none: any event, with an environment or without.
	Environments []string `json:"environments,omitempty"`
	// Events are event types ("deployment.failed"), a family ("deployment.*") or "*"; a
	// deployment.requested of one kind is "deployment.requested:rollback".
	Events []string `json:"events"`
	To     []string `json:"to"`
}

// ParseConfig decodes and checks a configuration: every route names known destinations and event
// types, every destination has a type and a way to its URL.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := strictjson.Decode(data, &c, strictjson.Options{Name: "notification configuration"}); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Validate checks a configuration, naming what is wrong.
func (c Config) Validate() error {
	if c.DashboardURL != "" {
		if u, err := url.Parse(c.DashboardURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return shiplog.Errorf(shiplog.Invalid, "dashboard_url: %q is not an http(s) URL", c.DashboardURL)
		}
	}
	for name, d := range c.Destinations {
		if err := shiplog.ValidateID("destinations key", name); err != nil {
			return err
		}
		switch d.Type {
		case Slack, Teams, Webhook:
		default:
			return shiplog.Errorf(shiplog.Invalid, "destinations.%s.type: %q is not one of slack, teams, webhook", name, d.Type)
		}
		if d.URLParameter == "" && d.URL == "" {
			return shiplog.Errorf(shiplog.Invalid, "destinations.%s: needs url_parameter, the SecureString parameter holding its URL", name)
		}
		if d.URL != "" {
			if err := checkURL(d.URL); err != nil {
				return shiplog.Errorf(shiplog.Invalid, "destinations.%s.url: %v", name, err)
			}
		}
		if d.Type == Webhook && d.SecretParameter == "" && d.Secret == "" {
			return shiplog.Errorf(shiplog.Invalid, "destinations.%s: a webhook needs secret_parameter, the SecureString parameter holding its signing secret", name)
		}
	}
	for i, r := range c.Routes {
		if len(r.Events) == 0 {
			return shiplog.Errorf(shiplog.Invalid, "routes[%d].events: names no event type", i)
		}
		for _, e := range r.Events {
			if !knownPattern(e) {
				return shiplog.Errorf(shiplog.Invalid, "routes[%d].events: %q is no event type, family (deployment.*) or *; the types are %s", i, e, strings.Join(shiplog.EventTypes, ", "))
			}
		}
		if len(r.To) == 0 {
			return shiplog.Errorf(shiplog.Invalid, "routes[%d].to: names no destination", i)
		}
		for _, to := range r.To {
			if _, ok := c.Destinations[to]; !ok {
				return shiplog.Errorf(shiplog.Invalid, "routes[%d].to: %q is not a destination (%s)", i, to, strings.Join(sortedKeys(c.Destinations), ", "))
			}
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("not an http(s) URL")
	}
	return nil
}

func knownPattern(p string) bool {
	if p == "*" {
		return true
	}
	typ, kind, hasKind := strings.Cut(p, ":")
	if hasKind {
		return typ == shiplog.EventDeploymentRequested && slices.Contains([]string{shiplog.KindDeploy, shiplog.KindPromote, shiplog.KindRollback}, kind)
	}
	if fam, ok := strings.CutSuffix(p, ".*"); ok {
		return slices.ContainsFunc(shiplog.EventTypes, func(t string) bool { return strings.HasPrefix(t, fam+".") })
	}
	return slices.Contains(shiplog.EventTypes, p)
}

// For returns the names of the destinations an event goes to, sorted, each once.
func (c Config) For(ev shiplog.Event) []string {
	set := map[string]bool{}
	for _, r := range c.Routes {
		if r.matches(ev) {
			for _, to := range r.To {
				set[to] = true
			}
		}
	}
	return sortedKeys(set)
}

func (r Route) matches(ev shiplog.Event) bool {
	if len(r.Projects) > 0 && !slices.Contains(r.Projects, "*") && !slices.Contains(r.Projects, ev.ProjectID) {
		return false
	}
	if len(r.Environments) > 0 && !slices.Contains(r.Environments, ev.Environment) {
		return false
	}
	return slices.ContainsFunc(r.Events, func(p string) bool { return eventMatches(p, ev) })
}

func eventMatches(p string, ev shiplog.Event) bool {
	if typ, kind, ok := strings.Cut(p, ":"); ok {
		return ev.Type == typ && ev.Detail["kind"] == kind
	}
	if fam, ok := strings.CutSuffix(p, ".*"); ok {
		return strings.HasPrefix(ev.Type, fam+".")
	}
	return p == "*" || p == ev.Type
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
