package shiplogtest

import (
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// RunParameterStoreTests runs the ParameterStore contract against stores made by newStore, each
// of which must be empty.
func RunParameterStoreTests(t *testing.T, newStore func(t *testing.T) shiplog.ParameterStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s shiplog.ParameterStore)
	}{
		{"GetParameterMissingIsNotFound", testGetParameterMissing},
		{"PutParametersThenGet", testPutThenGet},
		{"PutParametersOverwrites", testPutOverwrites},
		{"PutParametersNothing", testPutNothing},
		{"GetParametersByName", testGetParameters},
		{"GetParametersByPathDirectChildrenOnly", testByPathDirectChildren},
		{"GetParametersByPathEmpty", testByPathEmpty},
		{"GetParametersByPathManyPages", testByPathManyPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func testGetParameterMissing(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	_, err := s.GetParameter(ctx, "/storage/images/latest/archivist")
	wantKind(t, "GetParameter on an empty store", err, shiplog.NotFound)

	mustOK(t, "PutParameters", s.PutParameters(ctx, map[string]string{
		"/storage/images/latest/archivist-2": imageURI("archivist", 1),
	}))
	for _, name := range []string{
		"/storage/images/latest/archivist", // a prefix of a stored name
		"/storage/images/latest",           // the stored name's path, without the slash
		"/storage/images/stage/archivist-2",
	} {
		_, err := s.GetParameter(ctx, name)
		wantKind(t, "GetParameter "+name, err, shiplog.NotFound)
	}
}

func testPutThenGet(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	want := map[string]string{
		"/storage/images/latest/archivist":    imageURI("uk.ac.wellcome/archivist", 1),
		"/storage/images/latest/bag-register": imageURI("uk.ac.wellcome/bag-register", 2),
		"/storage/images/2026-11-25/notifier": imageURI("uk.ac.wellcome/notifier", 3),
		"/catalogue_pipeline/images/prod/a.b": "plain value with spaces",
	}
	mustOK(t, "PutParameters", s.PutParameters(ctx, want))
	for name, v := range want {
		got, err := s.GetParameter(ctx, name)
		mustOK(t, "GetParameter "+name, err)
		if got != v {
			t.Errorf("GetParameter %s: got %q, want %q", name, got, v)
		}
	}
}

func testPutOverwrites(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	const name = "/storage/images/stage/archivist"
	mustOK(t, "first PutParameters", s.PutParameters(ctx, map[string]string{
		name:                             imageURI("archivist", 1),
		"/storage/images/stage/notifier": imageURI("notifier", 1),
	}))
	mustOK(t, "second PutParameters", s.PutParameters(ctx, map[string]string{name: imageURI("archivist", 2)}))

	got, err := s.GetParameter(ctx, name)
	mustOK(t, "GetParameter", err)
	if want := imageURI("archivist", 2); got != want {
		t.Errorf("GetParameter after overwrite: got %q, want %q", got, want)
	}
	all, err := s.GetParametersByPath(ctx, "/storage/images/stage/")
	mustOK(t, "GetParametersByPath", err)
	diff(t, "GetParametersByPath after overwrite", all, map[string]string{
		name:                             imageURI("archivist", 2),
		"/storage/images/stage/notifier": imageURI("notifier", 1),
	})
}

func testGetParameters(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	want := map[string]string{}
	var names []string
	// More names than one SSM call takes, some of which do not exist, one asked for twice.
	for i := range 23 {
		name := fmt.Sprintf("/storage/images/latest/svc-%02d", i)
		names = append(names, name)
		if i%4 != 3 {
			want[name] = imageURI(fmt.Sprintf("svc-%02d", i), i)
		}
	}
	mustOK(t, "PutParameters", s.PutParameters(ctx, want))
	mustOK(t, "PutParameters elsewhere", s.PutParameters(ctx, map[string]string{
		"/storage/images/stage/svc-00": imageURI("svc-00", 99),
	}))
	got, err := s.GetParameters(ctx, append(names, names[0]))
	mustOK(t, "GetParameters", err)
	diff(t, "GetParameters", got, want)

	none, err := s.GetParameters(ctx, nil)
	mustOK(t, "GetParameters of no names", err)
	if len(none) != 0 {
		t.Errorf("GetParameters of no names: got %v, want none", none)
	}
}

func testPutNothing(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	mustOK(t, "PutParameters of an empty map", s.PutParameters(ctx, map[string]string{}))
	mustOK(t, "PutParameters of nil", s.PutParameters(ctx, nil))
	got, err := s.GetParametersByPath(ctx, "/storage/images/latest/")
	mustOK(t, "GetParametersByPath", err)
	if len(got) != 0 {
		t.Errorf("GetParametersByPath after putting nothing: got %v, want none", got)
	}
}

func testByPathDirectChildren(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	mustOK(t, "PutParameters", s.PutParameters(ctx, map[string]string{
		"/p/images/latest/a":            "a",
		"/p/images/latest/b":            "b",
		"/p/images/latest/sub/c":        "c, one level deeper",
		"/p/images/latest/sub/deeper/d": "d, two levels deeper",
		"/p/images/latest-x/e":          "e, in a sibling whose name extends the path",
		"/p/images/latestx/f":           "f, likewise",
		"/p/images/stage/a":             "a in stage",
		"/q/images/latest/a":            "a of another project",
		"/pp/images/latest/a":           "a of a project whose id extends p",
	}))
	tests := []struct {
		path string
		want map[string]string
	}{
		{"/p/images/latest/", map[string]string{"/p/images/latest/a": "a", "/p/images/latest/b": "b"}},
		{"/p/images/latest/sub/", map[string]string{"/p/images/latest/sub/c": "c, one level deeper"}},
		{"/p/images/stage/", map[string]string{"/p/images/stage/a": "a in stage"}},
		{"/p/images/latest-x/", map[string]string{"/p/images/latest-x/e": "e, in a sibling whose name extends the path"}},
		{"/p/images/", map[string]string{}},
		{"/p/", map[string]string{}},
	}
	for _, tt := range tests {
		got, err := s.GetParametersByPath(ctx, tt.path)
		mustOK(t, "GetParametersByPath "+tt.path, err)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		diff(t, "GetParametersByPath "+tt.path, got, tt.want)
	}
}

func testByPathEmpty(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	for _, path := range []string{"/storage/images/latest/", "/nothing/"} {
		got, err := s.GetParametersByPath(ctx, path)
		mustOK(t, "GetParametersByPath "+path+" on an empty store", err)
		if len(got) != 0 {
			t.Errorf("GetParametersByPath %s on an empty store: got %v, want none", path, got)
		}
	}
}

// testByPathManyPages writes more parameters under one path than SSM returns in a page (10), and
// more than a hundred, the size of a big project.
func testByPathManyPages(t *testing.T, s shiplog.ParameterStore) {
	ctx := t.Context()
	for _, n := range []int{10, 11, 101} {
		path := fmt.Sprintf("/big%d/images/latest/", n)
		want := make(map[string]string, n)
		for i := range n {
			want[fmt.Sprintf("%sservice-%03d", path, i)] = imageURI(fmt.Sprintf("big/service-%03d", i), i)
		}
		mustOK(t, fmt.Sprintf("PutParameters of %d", n), s.PutParameters(ctx, want))
		// A deeper level under the same path, which must not be listed.
		mustOK(t, "PutParameters deeper", s.PutParameters(ctx, map[string]string{path + "deeper/x": "x"}))

		got, err := s.GetParametersByPath(ctx, path)
		mustOK(t, "GetParametersByPath "+path, err)
		if len(got) != n {
			t.Errorf("GetParametersByPath %s: got %d parameters, want %d", path, len(got), n)
		}
		diff(t, "GetParametersByPath "+path, got, want)
	}
}
