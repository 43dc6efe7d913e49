package awsecr

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// AnnotationActions are the IAM actions Annotations calls.
var AnnotationActions = []string{"ecr:BatchGetImage"}

var _ shiplog.ImageMetadata = (*Registry)(nil)

// manifest is the part of an OCI image manifest or index (and of Docker's v2 forms, which have
// no annotations) that Annotations reads.
type manifest struct {
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations"`
	Manifests   []struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
		Platform    *struct {
			OS string `json:"os"`
		} `json:"platform"`
	} `json:"manifests"`
}

// Annotations returns a digest-pinned image's OCI annotations, as BatchGetImage returns its
// manifest. For an image index (a multi-platform push), the index's own annotations are
// merged over those of its first platform's manifest (one more call, made only when the index
// lacks a source key), since builders put them on either level. Labels in the image's config are
// not read: ECR gives the config only as a layer download. NotFound if the image is gone.
func (r *Registry) Annotations(ctx context.Context, uri string) (map[string]string, error) {
	im, err := ParseImage(uri)
	if err != nil {
		return nil, err
	}
	m, err := r.manifest(ctx, im)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range m.Annotations {
		out[k] = v
	}
	_, hasRev := out[shiplog.AnnotationRevision]
	_, hasSrc := out[shiplog.AnnotationSource]
	if len(m.Manifests) > 0 && (!hasRev || !hasSrc) {
		// Skip attestation manifests (buildx's provenance, platform unknown/unknown).
		for _, child := range m.Manifests {
			if child.Platform != nil && child.Platform.OS == "unknown" {
				continue
			}
			for k, v := range child.Annotations {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
			cm, err := r.manifest(ctx, Image{Account: im.Account, Region: im.Region, Repository: im.Repository, Digest: child.Digest})
			if err != nil {
				return nil, err
			}
			for k, v := range cm.Annotations {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
			break
		}
	}
	return out, nil
}

// manifest reads and decodes one image's manifest.
func (r *Registry) manifest(ctx context.Context, im Image) (manifest, error) {
	out, err := r.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         aws.String(im.Account),
		RepositoryName:     aws.String(im.Repository),
		ImageIds:           []types.ImageIdentifier{{ImageDigest: aws.String(im.Digest)}},
		AcceptedMediaTypes: acceptedMediaTypes,
	}, inRegion(im.Region))
	var notFound *types.RepositoryNotFoundException
	if errors.As(err, &notFound) {
		return manifest{}, shiplog.Errorf(shiplog.NotFound, "image %s: no such repository", im.URI())
	}
	if err != nil {
		return manifest{}, mapError(err, "read manifest of %s", im.URI())
	}
	for _, img := range out.Images {
		if img.ImageId == nil || aws.ToString(img.ImageId.ImageDigest) != im.Digest {
			continue
		}
		var m manifest
		if err := json.Unmarshal([]byte(aws.ToString(img.ImageManifest)), &m); err != nil {
			return manifest{}, shiplog.Wrap(shiplog.Invalid, err, "manifest of %s is not JSON", im.URI())
		}
		return m, nil
	}
	for _, fail := range out.Failures {
		switch fail.FailureCode {
		case types.ImageFailureCodeUpstreamTooManyRequests, types.ImageFailureCodeUpstreamUnavailable:
			return manifest{}, shiplog.Errorf(shiplog.Unavailable, "read manifest of %s: %s", im.URI(), fail.FailureCode)
		}
	}
	return manifest{}, shiplog.Errorf(shiplog.NotFound, "image %s: no such image", im.URI())
}
