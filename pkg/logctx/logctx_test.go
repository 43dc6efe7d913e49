package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestFieldsReachEveryLineOfTheRequest(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("function", "deploy")
	ctx := New(context.Background())
	Add(ctx, Project, "storage", Environment, "prod", Deployment, "")
	log.InfoContext(ctx, "first")
	// Learnt deeper down, in a derived context: the entry point's later lines carry it too.
	inner, cancel := context.WithCancel(ctx)
	Add(inner, Deployment, "01J", Environment, "stage")
	cancel()
	log.InfoContext(ctx, "last", "deployment", "own")
	log.Info("no context")
	got := lines(t, &buf)
	want := []map[string]any{
		{"level": "INFO", "msg": "first", "function": "deploy", "project": "storage", "environment": "prod"},
		{"level": "INFO", "msg": "last", "function": "deploy", "project": "storage", "environment": "stage", "deployment": "own"},
		{"level": "INFO", "msg": "no context", "function": "deploy"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestNoFieldsWithoutNew(t *testing.T) {
	ctx := context.Background()
	Add(ctx, Project, "storage") // nowhere to go: not an error, not a panic
	if got := Attrs(ctx); got != nil {
		t.Errorf("Attrs without New: %v", got)
	}
	// New on a context that has fields keeps them: a nested handler does not lose the request's.
	outer := New(ctx)
	Add(outer, Project, "storage")
	if got := Attrs(New(outer)); len(got) != 1 || got[0].Value.String() != "storage" {
		t.Errorf("New over a context with fields: %v", got)
	}
	// Two requests do not share fields.
	a, b := New(ctx), New(ctx)
	Add(a, Project, "a")
	if got := Attrs(b); len(got) != 0 {
		t.Errorf("request b sees a's fields: %v", got)
	}
}

func TestAddIsSafeAcrossGoroutines(t *testing.T) {
	ctx := New(context.Background())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Add(ctx, Project, strings.Repeat("p", i+1))
			_ = Attrs(ctx)
		}()
	}
	wg.Wait()
	if got := Attrs(ctx); len(got) != 1 || got[0].Key != Project {
		t.Errorf("after concurrent adds of one key: %v", got)
	}
}
