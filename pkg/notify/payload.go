package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Payload returns the body posted to a destination of type typ for ev.
func Payload(typ string, ev shiplog.Event, m Message) ([]byte, error) {
	switch typ {
	case Slack:
		return json.Marshal(slackPayload(m))
	case Teams:
		return json.Marshal(teamsPayload(m))
	case Webhook:
		return json.Marshal(struct {
			Event   shiplog.Event `json:"event"`
			Message Message       `json:"message"`
			Thread  string        `json:"thread,omitempty"`
		}{ev, m, Thread(ev)})
	}
	return nil, fmt.Errorf("no payload for destination type %q", typ)
}

// Thread is what a webhook receiver may group an event's message under: the deployment's id
// for a deployment's events (requested, applied, verified, failed are one thread), else the
// release's for a release's; empty for the rest. Slack incoming webhooks and Teams workflow
// webhooks cannot reply in a thread, so only webhooks carry it (docs/notifications.md).
func Thread(ev shiplog.Event) string {
	if ev.DeploymentID != "" {
		return "deployment:" + ev.DeploymentID
	}
	if ev.ReleaseID != "" {
		return "release:" + ev.ReleaseID
	}
	return ""
}

var statusEmoji = map[string]string{"ok": ":white_check_mark:", "warning": ":warning:", "failure": ":rotating_light:", "info": ":information_source:"}

// slackEscape escapes what Slack's mrkdwn treats as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slackPayload(m Message) map[string]any {
	blocks := []any{
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": statusEmoji[m.Status] + " *" + slackEscape(m.Title) + "*"}},
	}
	var fields []any
	for _, f := range m.Facts {
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(f.Name) + "*\n" + slackEscape(f.Value)})
	}
	for i := 0; i < len(fields); i += 10 { // Slack takes at most 10 fields a section
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields[i:min(i+10, len(fields))]})
	}
	if len(m.Changes) > 0 {
		var lines []string
		for _, c := range m.Changes {
			line := "`" + slackEscape(c.Service) + "` " + slackEscape(c.Revisions)
			if c.CompareURL != "" {
				line = "`" + slackEscape(c.Service) + "` <" + c.CompareURL + "|" + slackEscape(c.Revisions) + ">"
			}
			if c.Backwards {
				line += " :rewind: goes back"
			}
			lines = append(lines, line)
		}
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*Changes*\n" + strings.Join(lines, "\n")}})
	}
	if len(m.Links) > 0 {
		var els []any
		for _, l := range m.Links {
			els = append(els, map[string]any{"type": "button", "text": map[string]any{"type": "plain_text", "text": l.Title}, "url": l.URL})
		}
		blocks = append(blocks, map[string]any{"type": "actions", "elements": els})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": "shiplog event " + m.EventID}}})
	return map[string]any{"text": m.Title, "blocks": blocks}
}

func teamsPayload(m Message) map[string]any {
	color := map[string]string{"ok": "Good", "warning": "Warning", "failure": "Attention", "info": "Default"}[m.Status]
	body := []any{
		map[string]any{"type": "TextBlock", "text": m.Title, "weight": "Bolder", "size": "Medium", "wrap": true, "color": color},
	}
	var facts []any
	for _, f := range m.Facts {
		facts = append(facts, map[string]any{"title": f.Name, "value": f.Value})
	}
	body = append(body, map[string]any{"type": "FactSet", "facts": facts})
	for _, c := range m.Changes {
		text := c.Service + ": " + c.Revisions
		if c.CompareURL != "" {
			text = c.Service + ": [" + c.Revisions + "](" + c.CompareURL + ")"
		}
		if c.Backwards {
			text += " (goes back)"
		}
		body = append(body, map[string]any{"type": "TextBlock", "text": text, "wrap": true})
	}
	var actions []any
	for _, l := range m.Links {
		actions = append(actions, map[string]any{"type": "Action.OpenUrl", "title": l.Title, "url": l.URL})
	}
	card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}
	if len(actions) > 0 {
		card["actions"] = actions
	}
	return map[string]any{"type": "message", "attachments": []any{map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}
}

// The headers of a signed webhook.
const (
	HeaderTimestamp = "X-Shiplog-Timestamp"
	HeaderSignature = "X-Shiplog-Signature"
	HeaderEventID   = "X-Shiplog-Event-Id"
)

// Sign returns the signature of body sent at ts: "v1=" and the hex HMAC-SHA256, keyed by secret,
// of the Unix timestamp, a dot, and the body.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a receiver checks: the signature is the body's, sent at timestamp, and the
// timestamp is within tolerance of now (older is a replay). It compares in constant time.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not a Unix time", HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %s from now, more than %s: a replay, or a clock far off", HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return fmt.Errorf("%s does not match the body", HeaderSignature)
	}
	return nil
}
