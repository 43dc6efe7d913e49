package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// notifyOptions is where the local stack posts its events (serve --notify-webhook).
type notifyOptions struct {
	url, kind, secret string
}

// localNotifier returns the Notifier of the local stack: every event of every project to the one
// destination given on the command line, deduplicated in the stack's own file. What cannot be
// delivered is logged (the local stack has no dead-letter queue).
func localNotifier(o notifyOptions, claims notify.Claims, log *slog.Logger) (*notify.Notifier, error) {
	d := notify.Destination{Type: o.kind, URL: o.url, Secret: o.secret}
	cfg := notify.Config{Destinations: map[string]notify.Destination{"local": d}, Routes: []notify.Route{{Events: []string{"*"}, To: []string{"local"}}}}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--notify-webhook: %s", shiplog.MessageOf(err))
	}
	return &notify.Notifier{
		Config: func(context.Context) (notify.Config, error) { return cfg, nil },
		Claims: claims, Dead: logLetters{log}, Log: log, Client: &http.Client{Timeout: 10 * time.Second},
	}, nil
}

type logLetters struct{ log *slog.Logger }

func (l logLetters) Send(ctx context.Context, body string) error {
	l.log.ErrorContext(ctx, "notification dead-lettered", "letter", body)
	return nil
}

// notifyOnce delivers the events of every project made at or after since, oldest first. An event
// delivered before is a duplicate the claims refuse, so a pass may see an event again.
func notifyOnce(ctx context.Context, svc *shiplog.Service, n *notify.Notifier, since int64) error {
	projects, err := svc.Projects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		page, err := svc.Events(ctx, p.ID, shiplog.EventFilter{Since: since}, shiplog.PageRequest{Limit: 100})
		if err != nil {
			return err
		}
		events := slices.Clone(page.Items)
		slices.Reverse(events)
		for _, ev := range events {
			if _, err := n.Deliver(ctx, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// runNotifier polls the log every interval until ctx ends, delivering the events made since it
// started (a minute before, for the clock's sake).
func runNotifier(ctx context.Context, svc *shiplog.Service, n *notify.Notifier, interval time.Duration, log *slog.Logger) {
	since := time.Now().Add(-time.Minute).Unix()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := notifyOnce(ctx, svc, n, since); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "notifications not delivered; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
