package notify

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Message is what a person reads of one event, whatever the destination: what happened and
// where, by whom (and through which channel), why, the change notes, and where to look.
type Message struct {
	EventID string   `json:"event_id"`
	Title   string   `json:"title"`
	Status  string   `json:"status,omitempty"` // ok, warning, failure, info
	Facts   []Fact   `json:"facts"`
	Changes []Change `json:"changes,omitempty"`
	Links   []Link   `json:"links,omitempty"`
}

// Fact is one labelled line of a message.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Change is one service's range of revisions in a message.
type Change struct {
	Service    string `json:"service"`
	Revisions  string `json:"revisions"`
	CompareURL string `json:"compare_url,omitempty"`
	Backwards  bool   `json:"backwards,omitempty"`
}

// Link is a place to look.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// NewMessage renders ev as a Message; dashboard, if set, is the dashboard's base URL.
func NewMessage(ev shiplog.Event, dashboard string) Message {
	m := Message{EventID: ev.ID, Status: "info"}
	d := ev.Detail
	where := ev.ProjectID
	if ev.Environment != "" {
		where += "/" + ev.Environment
	}
	switch ev.Type {
	case shiplog.EventDeploymentRequested:
		verb := "Deploy"
		switch d["kind"] {
		case shiplog.KindPromote:
			verb = "Promotion from " + d["promoted_from"]
		case shiplog.KindRollback:
			verb, m.Status = "Rollback", "warning"
		}
		m.Title = fmt.Sprintf("%s of release %s to %s requested", verb, ev.ReleaseID, where)
		if d["override_reason"] != "" {
			m.Status = "warning"
			m.Facts = append(m.Facts, Fact{"Break glass", d["override_reason"]})
		}
	case shiplog.EventDeploymentApplied:
		m.Title = fmt.Sprintf("Release %s applied to %s", ev.ReleaseID, where)
	case shiplog.EventDeploymentVerified:
		m.Title, m.Status = fmt.Sprintf("Release %s verified in %s", ev.ReleaseID, where), "ok"
	case shiplog.EventDeploymentFailed:
		m.Title, m.Status = fmt.Sprintf("Release %s FAILED in %s", ev.ReleaseID, where), "failure"
	case shiplog.EventDeploymentSuperseded:
		m.Title = fmt.Sprintf("Deployment %s in %s superseded", ev.DeploymentID, where)
	case shiplog.EventReleaseCreated:
		m.Title = fmt.Sprintf("Release %s of %s created from %s", ev.ReleaseID, ev.ProjectID, d["label"])
	case shiplog.EventImageRecorded:
		m.Title = fmt.Sprintf("New image of %s/%s", ev.ProjectID, ev.Service)
	case shiplog.EventEnvironmentLocked:
		m.Title, m.Status = fmt.Sprintf("%s locked", where), "warning"
	case shiplog.EventEnvironmentUnlocked:
		m.Title = fmt.Sprintf("%s unlocked", where)
	case shiplog.EventFreezeSet:
		m.Title, m.Status = fmt.Sprintf("Freeze set on %s", ev.ProjectID), "warning"
	case shiplog.EventFreezeDeleted:
		m.Title = fmt.Sprintf("Freeze lifted on %s", ev.ProjectID)
	case shiplog.EventApprovalGranted:
		m.Title = fmt.Sprintf("Release %s approved for %s", ev.ReleaseID, where)
	case shiplog.EventApprovalWithdrawn:
		m.Title = fmt.Sprintf("Approval of release %s for %s withdrawn", ev.ReleaseID, where)
	case shiplog.EventProjectRegistered:
		m.Title = fmt.Sprintf("Project %s registered", ev.ProjectID)
	default:
		m.Title = fmt.Sprintf("%s: %s", ev.Type, where)
	}
	m.Facts = append(m.Facts, Fact{"By", person(ev.By)})
	m.Facts = append(m.Facts, Fact{"When", time.Unix(ev.At, 0).UTC().Format("2006-01-02 15:04:05 UTC")})
	for _, k := range []string{"detail", "description", "reason", "image", "revision", "source"} {
		if v := d[k]; v != "" {
			m.Facts = append(m.Facts, Fact{factName(k), v})
		}
	}
	m.Changes = changesOf(d)
	if dashboard != "" {
		base := strings.TrimRight(dashboard, "/") + "/#/p/" + url.PathEscape(ev.ProjectID)
		switch {
		case ev.ReleaseID != "":
			m.Links = append(m.Links, Link{"Release " + ev.ReleaseID, base + "/releases/" + url.PathEscape(ev.ReleaseID)})
		default:
			m.Links = append(m.Links, Link{"Project " + ev.ProjectID, base})
		}
	}
	return m
}

func factName(k string) string {
	switch k {
	case "detail":
		return "Why"
	case "source":
		return "Source"
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// person names who did it, and through which channel shiplog learnt it: an identity the API
// authenticated, or one a direct invocation asserted.
func person(p shiplog.Person) string {
	name := p.Name
	if name == "" {
		name = p.ID
	}
	switch p.Via {
	case shiplog.ViaAPI:
		return name + " (via the API, authenticated)"
	case shiplog.ViaInvoke:
		return name + " (via a direct invocation, as asserted by the invoker)"
	}
	return name
}

// changesOf reads the ranges a deployment.requested event carries (revision.{service}, ...).
func changesOf(d map[string]string) []Change {
	bySvc := map[string]*Change{}
	get := func(svc string) *Change {
		if bySvc[svc] == nil {
			bySvc[svc] = &Change{Service: svc}
		}
		return bySvc[svc]
	}
	for k, v := range d {
		key, svc, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		switch key {
		case "revision":
			from, to, _ := strings.Cut(v, "..")
			get(svc).Revisions = short(from) + ".." + short(to)
		case "compare":
			get(svc).CompareURL = v
		case "backwards":
			get(svc).Backwards = v == "true"
		}
	}
	out := make([]Change, 0, len(bySvc))
	for _, c := range bySvc {
		if c.Revisions == "" {
			c.Revisions = "?..?"
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	if len(out) == 0 {
		return nil
	}
	return out
}

func short(rev string) string {
	if rev == "" {
		return "?"
	}
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Text is the message as plain lines, for fallbacks and logs.
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Title)
	for _, f := range m.Facts {
		fmt.Fprintf(&b, "\n%s: %s", f.Name, f.Value)
	}
	for _, c := range m.Changes {
		fmt.Fprintf(&b, "\n%s %s", c.Service, c.Revisions)
		if c.Backwards {
			b.WriteString(" (goes back)")
		}
		if c.CompareURL != "" {
			b.WriteString(" " + c.CompareURL)
		}
	}
	return b.String()
}
