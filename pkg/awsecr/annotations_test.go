package awsecr_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"
)

// putRaw pushes body as an image of repo under tag and returns its URI and digest.
func (f *fixture) putRaw(t *testing.T, repo, mediaType, body, tag string) (string, string) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(body),
		ImageManifestMediaType: aws.String(mediaType), ImageDigest: aws.String(digest)}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	if _, err := f.ecr.PutImage(t.Context(), in); err != nil {
		t.Fatalf("PutImage %s: %v", repo, err)
	}
	return uri(repo, localaws.Region, digest), digest
}

func ociBody(n int, annotations string) string {
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1000,"digest":"sha256:%064x"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":2000,"digest":"sha256:%064x"}]%s}`, ociManifest, n, n+1, annotations)
}

// TestAnnotations: the annotations of a manifest, and of an index merged over its first
// platform's manifest (attestations skipped), as ECR returns them.
func TestAnnotations(t *testing.T) {
	f := newFixture(t)
	repo := f.createRepo(t, "annotated", localaws.Region)
	const rev = "5d2a9c1e7b3f4a6d8e9f0a1b2c3d4e5f6a7b8c9d"
	plain, _ := f.putRaw(t, repo, ociManifest, ociBody(1, `,"annotations":{"org.opencontainers.image.revision":"`+rev+`","org.opencontainers.image.source":"https://github.com/wellcomecollection/archivist"}`), "one")
	bare, _ := f.putRaw(t, repo, ociManifest, ociBody(3, ""), "bare")
	_, childDigest := f.putRaw(t, repo, ociManifest, ociBody(5, `,"annotations":{"org.opencontainers.image.revision":"`+rev+`","org.opencontainers.image.source":"https://github.com/child/repo"}`), "")
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"size":100,"digest":"sha256:%064x","platform":{"architecture":"unknown","os":"unknown"}},{"mediaType":%q,"size":500,"digest":%q,"platform":{"architecture":"arm64","os":"linux"}}],"annotations":{"org.opencontainers.image.source":"https://github.com/index/repo"}}`,
		ociIndex, ociManifest, 99, ociManifest, childDigest)
	multi, _ := f.putRaw(t, repo, ociIndex, index, "multi")

	tests := []struct {
		name string
		uri  string
		want map[string]string
	}{
		{"manifest", plain, map[string]string{shiplog.AnnotationRevision: rev, shiplog.AnnotationSource: "https://github.com/wellcomecollection/archivist"}},
		{"no annotations", bare, map[string]string{}},
		// The index's source wins over the child's; the revision comes from the child.
		{"index", multi, map[string]string{shiplog.AnnotationRevision: rev, shiplog.AnnotationSource: "https://github.com/index/repo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.reg.Annotations(t.Context(), tt.uri)
			if err != nil {
				t.Fatalf("Annotations: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("gone", func(t *testing.T) {
		_, err := f.reg.Annotations(t.Context(), absent(repo, 7))
		if !shiplog.IsKind(err, shiplog.NotFound) {
			t.Errorf("got %v, want NotFound", err)
		}
	})
	t.Run("not an ECR image", func(t *testing.T) {
		_, err := f.reg.Annotations(t.Context(), "docker.io/library/nginx:latest")
		if !shiplog.IsKind(err, shiplog.Invalid) {
			t.Errorf("got %v, want Invalid", err)
		}
	})
}
