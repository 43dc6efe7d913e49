package awslambda

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// NotifyName is the notify function's name.
const NotifyName = "notify"

// Notify handles a shiplog event from the EventBridge bus: it delivers it to the destinations
// the configuration routes it to (docs/notifications.md).
func Notify(n *notify.Notifier, log *slog.Logger) Function {
	return Function{Name: NotifyName, Log: log, Quiet: true, Fn: func(ctx context.Context, payload []byte) (any, error) {
		var ev events.CloudWatchEvent
		if err := strictjson.Decode(payload, &ev, strictjson.Options{Name: "event", AllowUnknown: true}); err != nil {
			return nil, err
		}
		if ev.Source != shiplog.EventSource {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: source %q is not shiplog's", ev.Source)
		}
		var se shiplog.Event
		if err := strictjson.Decode(ev.Detail, &se, strictjson.Options{Name: "event", Path: "detail", AllowUnknown: true}); err != nil {
			return nil, err
		}
		out, err := n.Deliver(ctx, se)
		if err != nil {
			return nil, err
		}
		if log != nil {
			b, _ := json.Marshal(out.Destinations)
			log.InfoContext(ctx, "event notified", "event_id", se.ID, "type", se.Type, "destinations", string(b))
		}
		return out, nil
	}}
}
