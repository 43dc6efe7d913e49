package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestServeNotifies: the local stack posts each event of its log to the destination given on the
// command line, signed, once however often it polls.
func TestServeNotifies(t *testing.T) {
	const secret = "local-secret"
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify(secret, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
	}))
	defer recv.Close()

	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log := slog.New(slog.DiscardHandler)
	svc := localService(store, log)
	if _, err := localNotifier(notifyOptions{url: recv.URL, kind: notify.Webhook}, store, log); err == nil {
		t.Error("a webhook without a secret: got no error")
	}
	n, err := localNotifier(notifyOptions{url: recv.URL, kind: notify.Webhook, secret: secret}, store, log)
	if err != nil {
		t.Fatal(err)
	}
	p, err := manifest.ParseProject("bugfarm", []byte(`{"name":"Bug farm","environments":[{"id":"stage"}],"image_repositories":[{"id":"bugfarm/hatching"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: shiplog.Person{ID: "alice", Name: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordPush(t.Context(), shiplog.ImagePush{Account: "760097843905", Region: "eu-west-1", Repository: "bugfarm/hatching",
		Digest: digestOf(1), Tag: "sha-" + revisionOf(1), Action: "PUSH", Result: "SUCCESS", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute).Unix()
	for range 3 {
		if err := notifyOnce(t.Context(), svc, n, since); err != nil {
			t.Fatalf("notifyOnce: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !strings.Contains(got[0], `"project.registered"`) || !strings.Contains(got[1], `"image.recorded"`) || !strings.Contains(got[1], revisionOf(1)) {
		t.Errorf("messages: got %d %q, want project.registered then image.recorded (with its revision), once each", len(got), got)
	}
}
