package shiplog_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func ptr(s string) *string { return &s }

func TestDiff(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")
	// Release 2 changes archivist and drops nothing; a label "next" has archivist at 3 and a
	// service the manifest does not know, and lacks notifier.
	h.seedLabel(t, "latest", 2, "archivist")
	r2, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	next := h.seedLabel(t, "next", 1, "bag-register", "bag_verifier_post_replication", "bag_verifier_pre_replication", "extra")
	next["archivist"] = image("uk.ac.wellcome/archivist", 3)
	if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("storage", "next", "archivist"): next["archivist"]}); err != nil {
		t.Fatal(err)
	}

	unchanged := func(svc string) shiplog.ServiceChange {
		u := r1.Images[svc]
		return shiplog.ServiceChange{Service: svc, Change: "unchanged", From: &u, To: &u}
	}
	got, err := h.svc.Diff(ctx, "storage", "environment:stage", "release:latest")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "diff stage → latest", got, shiplog.Diff{
		From: shiplog.DiffSide{Ref: "environment:stage", ReleaseID: r1.ID},
		To:   shiplog.DiffSide{Ref: "release:latest", ReleaseID: r2.ID},
		Services: []shiplog.ServiceChange{
			{Service: "archivist", Change: "changed", From: ptr(r1.Images["archivist"]), To: ptr(r2.Images["archivist"])},
			unchanged("bag-register"), unchanged("bag_verifier_post_replication"), unchanged("bag_verifier_pre_replication"), unchanged("notifier"),
		},
	})

	got, err = h.svc.Diff(ctx, "storage", "release:"+r1.ID, "label:next")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "diff release 1 → label next", got, shiplog.Diff{
		From: shiplog.DiffSide{Ref: "release:" + r1.ID, ReleaseID: r1.ID},
		To:   shiplog.DiffSide{Ref: "label:next"},
		Services: []shiplog.ServiceChange{
			{Service: "archivist", Change: "changed", From: ptr(r1.Images["archivist"]), To: ptr(next["archivist"])},
			unchanged("bag-register"), unchanged("bag_verifier_post_replication"), unchanged("bag_verifier_pre_replication"),
			{Service: "extra", Change: "added", To: ptr(next["extra"])},
			{Service: "notifier", Change: "removed", From: ptr(r1.Images["notifier"])},
		},
	})

	tests := []struct {
		name     string
		project  string
		from, to string
		kind     shiplog.Kind
		want     []string
	}{
		{"an environment with nothing deployed", "storage", "environment:prod", "release:latest", shiplog.NotFound, []string{"prod", "nothing deployed"}},
		{"an unknown environment", "storage", "environment:prd", "release:latest", shiplog.NotFound, []string{`"prd"`, "stage, prod"}},
		{"an unknown release", "storage", "release:" + testID(99), "release:latest", shiplog.NotFound, []string{testID(99)}},
		{"an unknown label", "storage", "release:latest", "label:nightly", shiplog.NotFound, []string{`"nightly"`}},
		{"latest of a project with no releases", "bugfarm_73649", "release:latest", "label:latest", shiplog.NotFound, []string{"no releases"}},
		{"an unknown project", "nope", "release:latest", "label:latest", shiplog.NotFound, []string{"nope"}},
		{"no from", "storage", "", "release:latest", shiplog.Invalid, []string{"from: is required"}},
		{"no to", "storage", "release:latest", "", shiplog.Invalid, []string{"to: is required"}},
		{"not a reference", "storage", "latest", "release:latest", shiplog.Invalid, []string{"from:", "not a reference"}},
		{"an unknown kind", "storage", "release:latest", "branch:main", shiplog.Invalid, []string{"to:", "branch"}},
		{"a bad id", "storage", "label:a/b", "release:latest", shiplog.Invalid, []string{"from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Diff(ctx, tt.project, tt.from, tt.to)
			wantError(t, "Diff", err, tt.kind, tt.want...)
		})
	}
}
