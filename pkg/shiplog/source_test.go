package shiplog_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestNormalizeSourceURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://github.com/wellcomecollection/storage-service", "https://github.com/wellcomecollection/storage-service", true},
		{"https://github.com/org/repo.git", "https://github.com/org/repo", true},
		{"https://GitHub.com/org/repo/", "https://github.com/org/repo", true},
		{"git@github.com:org/repo.git", "https://github.com/org/repo", true},
		{"git+https://gitlab.com/group/sub/repo.git", "https://gitlab.com/group/sub/repo", true},
		{"ssh://git@bitbucket.org:22/team/repo.git", "https://bitbucket.org/team/repo", true},
		{"https://x-access-token:ghs_secret@github.com/org/repo?x=1#y", "https://github.com/org/repo", true},
		{"https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app", "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/app", true},
		{"", "", false},
		{"github.com/org/repo", "", false},
		{"ftp://example.com/repo", "", false},
		{"https://github.com", "", false},
		{"https://github.com/org/../etc", "", false},
		{"https://github.com/org/repo with space", "", false},
		{"javascript:alert(1)", "", false},
		{"https://" + strings.Repeat("a", shiplog.MaxSourceURLLength) + ".com/x", "", false},
	}
	for _, tt := range tests {
		got, ok := shiplog.NormalizeSourceURL(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeSourceURL(%q): got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTagSource(t *testing.T) {
	const full = "5d2a9c1e7b3f4a6d8e9f0a1b2c3d4e5f6a7b8c9d"
	tests := []struct{ tag, want string }{
		{"ref.5d2a9c1e7b3f", "5d2a9c1e7b3f"},
		{"ref." + full, full},
		{"sha-5d2a9c1", "5d2a9c1"},
		{full, full},
		{"5d2a9c1e7b3f", ""}, // a short bare hex tag could be a build number
		{"sha-xyz1234", ""},
		{"ref.main", ""},
		{"ref.5d2a9c", ""}, // six digits: too short to name a commit
		{"latest", ""},
		{"v1.2.3", ""},
		{"SHA-5D2A9C1", ""},
	}
	for _, tt := range tests {
		got := shiplog.TagSource(tt.tag)
		if got.Revision != tt.want {
			t.Errorf("TagSource(%q): got %q, want %q", tt.tag, got.Revision, tt.want)
		}
		if tt.want != "" && got.RevisionFrom != shiplog.SourceFromTag {
			t.Errorf("TagSource(%q): from %q, want %q", tt.tag, got.RevisionFrom, shiplog.SourceFromTag)
		}
	}
}

// fakeMetadata answers annotations by image URI.
type fakeMetadata struct {
	ann map[string]map[string]string
	err error
}

func (f fakeMetadata) Annotations(ctx context.Context, uri string) (map[string]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.ann[uri], nil
}

// TestPushSource: the annotations are believed first, the tag fills what they do not say, and an
// image whose annotations cannot be read or say nothing usable is recorded all the same, with a
// note.
func TestPushSource(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	push := loadPush(t, "ecr-push-tagged.json") // tagged ref.5d2a9c1e7b3f
	uri := push.ImageURI()
	tests := []struct {
		name      string
		meta      shiplog.ImageMetadata
		want      *shiplog.ImageSource
		wantNotes []string
	}{
		{"annotations over the tag", fakeMetadata{ann: map[string]map[string]string{uri: {
			shiplog.AnnotationRevision: strings.ToUpper(rev), shiplog.AnnotationSource: "https://github.com/wellcomecollection/storage-service.git"}}},
			&shiplog.ImageSource{Revision: rev, RevisionFrom: "annotation", Repository: "https://github.com/wellcomecollection/storage-service", RepositoryFrom: "annotation"}, nil},
		{"a source annotation and the tag's revision", fakeMetadata{ann: map[string]map[string]string{uri: {shiplog.AnnotationSource: "https://github.com/org/repo"}}},
			&shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: "tag", Repository: "https://github.com/org/repo", RepositoryFrom: "annotation"}, nil},
		{"unusable annotations", fakeMetadata{ann: map[string]map[string]string{uri: {shiplog.AnnotationRevision: "main", shiplog.AnnotationSource: "not a url"}}},
			&shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: "tag"},
			[]string{`org.opencontainers.image.revision "main" is not a Git revision`, `org.opencontainers.image.source "not a url" is not a repository URL`}},
		{"annotations not read", fakeMetadata{err: shiplog.Errorf(shiplog.Unavailable, "ECR is throttling")},
			&shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: "tag"}, []string{"annotations not read: ECR is throttling"}},
		{"no metadata reader", nil, &shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: "tag"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.svc.Metadata = tt.meta
			out, err := h.svc.RecordPush(t.Context(), push)
			if err != nil {
				t.Fatalf("RecordPush: %v", err)
			}
			diff(t, "outcome's source", out.Source, tt.want)
			if len(out.SourceNotes) != len(tt.wantNotes) {
				t.Fatalf("notes: got %q, want %d like %q", out.SourceNotes, len(tt.wantNotes), tt.wantNotes)
			}
			for i, n := range tt.wantNotes {
				if !strings.Contains(out.SourceNotes[i], n) {
					t.Errorf("note %d: got %q, want it to contain %q", i, out.SourceNotes[i], n)
				}
			}
			rec, err := h.store.LatestImage(t.Context(), "storage", "archivist")
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "recorded source", rec.Source, tt.want)
			evs, err := h.svc.Events(t.Context(), "storage", shiplog.EventFilter{Type: shiplog.EventImageRecorded}, shiplog.PageRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs.Items) != 1 || evs.Items[0].Detail["revision"] != tt.want.Revision || evs.Items[0].Detail["source"] != tt.want.Repository {
				t.Errorf("image.recorded event: got %+v, want revision %q and source %q", evs.Items, tt.want.Revision, tt.want.Repository)
			}
		})
	}
}

// TestReleaseSources: a release takes each service's source from its push record when its image
// is that push's, with CI's statement over the tag's and under the annotations'; a statement
// that is wrong refuses the release and writes nothing.
func TestReleaseSources(t *testing.T) {
	const annotated = "1111111111111111111111111111111111111111"
	const stated = "2222222222222222222222222222222222222222"
	h := newHarness(t)
	h.svc.Metadata = fakeMetadata{ann: map[string]map[string]string{}}
	push := loadPush(t, "ecr-push-tagged.json")
	if _, err := h.svc.RecordPush(t.Context(), push); err != nil {
		t.Fatal(err)
	}
	// bag-register's image carries annotations; archivist's only its tag.
	bag := push
	bag.Repository, bag.Digest, bag.Tag = "uk.ac.wellcome/bag-register", digest(77), "latest"
	h.svc.Metadata = fakeMetadata{ann: map[string]map[string]string{bag.ImageURI(): {shiplog.AnnotationRevision: annotated, shiplog.AnnotationSource: "https://github.com/wellcomecollection/storage-service"}}}
	if _, err := h.svc.RecordPush(t.Context(), bag); err != nil {
		t.Fatal(err)
	}
	images := h.paramsUnder(t, "storage", "latest")
	seed := map[string]string{}
	for _, svc := range storageServices {
		if _, ok := images[svc]; !ok {
			seed[shiplog.ParameterName("storage", "latest", svc)] = image("uk.ac.wellcome/"+svc, 5)
		}
	}
	if err := h.store.PutParameters(t.Context(), seed); err != nil {
		t.Fatal(err)
	}

	refusals := []struct {
		name    string
		sources map[string]shiplog.SourceInput
		parts   []string
	}{
		{"not a service", map[string]shiplog.SourceInput{"nope": {Revision: stated}}, []string{"sources", "nope", "not a service"}},
		{"not a revision", map[string]shiplog.SourceInput{"archivist": {Revision: "main"}}, []string{"sources.archivist.revision", "main"}},
		{"not a URL", map[string]shiplog.SourceInput{"archivist": {Repository: "ftp://x/y"}}, []string{"sources.archivist.repository"}},
		{"empty", map[string]shiplog.SourceInput{"archivist": {}}, []string{"sources.archivist", "neither"}},
	}
	for _, tt := range refusals {
		_, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice, Sources: tt.sources})
		wantError(t, tt.name, err, shiplog.Invalid, tt.parts...)
	}
	if _, err := h.store.LatestRelease(t.Context(), "storage"); !errors.Is(err, shiplog.ErrReleaseNotFound) {
		t.Fatalf("a refused release was written: %v", err)
	}

	r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice, Sources: map[string]shiplog.SourceInput{
		"archivist":    {Revision: stated, Repository: "https://github.com/wellcomecollection/storage-service"},
		"bag-register": {Revision: stated},
	}})
	if err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	want := map[string]shiplog.ImageSource{
		// CI's revision over the tag's.
		"archivist": {Revision: stated, RevisionFrom: "release_request", Repository: "https://github.com/wellcomecollection/storage-service", RepositoryFrom: "release_request"},
		// The annotations over CI's.
		"bag-register": {Revision: annotated, RevisionFrom: "annotation", Repository: "https://github.com/wellcomecollection/storage-service", RepositoryFrom: "annotation"},
	}
	diff(t, "release sources", r.Sources, want)
	got, err := h.svc.Release(t.Context(), "storage", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stored release sources", got.Sources, want)
}
