package awslambda_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

type letters struct{ got []string }

func (l *letters) Send(ctx context.Context, body string) error {
	l.got = append(l.got, body)
	return nil
}

// TestNotify: the function takes shiplog's event as EventBridge delivers it from the bus, posts
// it once to the webhook the configuration routes it to, signed, and refuses what is not
// shiplog's.
func TestNotify(t *testing.T) {
	const secret = "k"
	var mu sync.Mutex
	var bodies []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify(secret, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
		}
		mu.Lock()
		bodies = append(bodies, string(body))
		mu.Unlock()
	}))
	defer recv.Close()
	cfg := notify.Config{Destinations: map[string]notify.Destination{"hook": {Type: notify.Webhook, URL: recv.URL, Secret: secret}},
		Routes: []notify.Route{{Projects: []string{"storage"}, Events: []string{"deployment.*"}, To: []string{"hook"}}}}
	n := &notify.Notifier{Config: func(context.Context) (notify.Config, error) { return cfg, nil }, Claims: memstore.New(), Dead: &letters{}}
	fn := awslambda.Notify(n, nil)

	ev := shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1C", Type: shiplog.EventDeploymentVerified, At: time.Now().Unix(),
		By: shiplog.Person{ID: "ecs", Name: "Amazon ECS"}, ProjectID: "storage", Environment: "prod", ReleaseID: "r1", DeploymentID: "d1"}
	detail, _ := json.Marshal(ev)
	envelope := func(source string) []byte {
		b, _ := json.Marshal(map[string]any{"version": "0", "id": "x", "detail-type": shiplog.DetailType(ev.Type), "source": source,
			"account": "123456789012", "time": "2026-11-20T10:00:00Z", "region": "eu-west-1", "resources": []string{}, "detail": json.RawMessage(detail)})
		return b
	}
	for i := range 2 {
		out, err := fn.Invoke(t.Context(), envelope("shiplog"))
		if err != nil {
			t.Fatalf("Invoke %d: %v", i, err)
		}
		want := map[int]string{0: "delivered", 1: "duplicate"}[i]
		if !strings.Contains(string(out), `"hook":"`+want+`"`) {
			t.Errorf("Invoke %d: got %s, want hook %s", i, out, want)
		}
	}
	if len(bodies) != 1 || !strings.Contains(bodies[0], "verified in storage/prod") {
		t.Errorf("posts: got %q, want one verified message", bodies)
	}
	if _, err := fn.Invoke(t.Context(), envelope("aws.ecr")); err == nil || !strings.Contains(err.Error(), "not shiplog's") {
		t.Errorf("another source: got %v, want it refused", err)
	}
	if _, err := fn.Invoke(t.Context(), []byte(`{"source":"shiplog","detail":{"type":1}}`)); err == nil {
		t.Error("a malformed detail: got no error")
	}
}
