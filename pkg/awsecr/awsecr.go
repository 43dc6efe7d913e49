// Package awsecr implements shiplog.Registry on Amazon ECR: it checks that a release's images
// still exist before a deploy, and moves a tag onto deployed images for services that run
// floating tags.
package awsecr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// CheckActions are the IAM actions MissingImages calls, on the images' repositories.
var CheckActions = []string{"ecr:BatchGetImage"}

// TagActions are the IAM actions TagImages calls: only a project that tags its deployed images
// needs PutImage.
var TagActions = []string{"ecr:BatchGetImage", "ecr:PutImage"}

// TaggingTag is the repository tag that lets shiplog move tags in a repository: the SAM template
// grants ecr:PutImage only on repositories that carry it with the value "true".
const TaggingTag = "shiplog-tag-deployed-images"

// Actions lists every IAM action the Registry calls. Tests hold its calls to these lists.
var Actions = []string{"ecr:BatchGetImage", "ecr:PutImage"}

const (
	// batchSize is the most image ids BatchGetImage takes at once.
	batchSize = 100
	// checkers bounds how many repositories are read at once: a project of up to ten
	// repositories is checked in one round trip's time, far under BatchGetImage's rate quota.
	checkers = 10
	// taggers bounds how many PutImage calls run at once, well under PutImage's rate quota.
	taggers = 4
	// fetchedFor is how long a manifest MissingImages fetched may stand in for a fresh read
	// when TagImages puts it back: long enough for one deploy to go from its check to its tags.
	fetchedFor = time.Minute
)

// acceptedMediaTypes asks BatchGetImage for each manifest in the form it was pushed in. Without
// them ECR may convert a manifest, and a manifest put back under a tag must be byte for byte the
// one pushed, or it would be a different image. The list types cover multi-arch pushes.
var acceptedMediaTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v1+json",
}

// Registry is a shiplog.Registry on ECR. It reads and tags images in the account and region
// named by each image URI, whatever the client's own region. Safe for concurrent use.
type Registry struct {
	client *ecr.Client
	now    func() time.Time

	mu sync.Mutex
	// fetched holds the manifests MissingImages read, so that the TagImages of the same deploy
	// does not read them again. A digest names its manifest's bytes, so an entry cannot be wrong,
	// only old: an image deleted since would be put back, hence the short fetchedFor.
	fetched map[Image]fetchedManifest
}

type fetchedManifest struct {
	body, mediaType *string
	at              time.Time
}

var _ shiplog.Registry = (*Registry)(nil)

// New returns a Registry that uses client, built once per process.
func New(client *ecr.Client) *Registry {
	return &Registry{client: client, now: time.Now, fetched: map[Image]fetchedManifest{}}
}

// NewFromConfig returns a Registry on an ECR client made from cfg.
func NewFromConfig(cfg aws.Config) *Registry {
	return New(ecr.NewFromConfig(cfg))
}

// Image is a digest-pinned ECR image URI taken apart.
type Image struct {
	Account    string // the registry id, a 12-digit account id
	Region     string
	Repository string
	Digest     string // sha256:<64 hex digits>
}

// URI returns the image's URI: {account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}.
func (im Image) URI() string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", im.Account, im.Region, im.Repository, im.Digest)
}

// ParseImage takes apart a digest-pinned ECR image URI; Invalid for anything else.
func ParseImage(uri string) (Image, error) {
	im, ok := parseImage(uri)
	if !ok {
		return Image{}, shiplog.Errorf(shiplog.Invalid,
			"image %q is not an ECR image pinned by digest ({account}.dkr.ecr.{region}.amazonaws.com/{repository}@sha256:{digest})", uri)
	}
	return im, nil
}

// parseImage reads {account}.dkr.ecr.{region}.amazonaws.com[.cn]/{repository}@sha256:{digest}:
// a 12-digit account, a region such as us-east-1 or us-gov-west-1, ECR's rule for repository
// names and 64 lower-case hex digits. A loop, not a regexp: a package-level regexp is compiled in
// every cold start (awsecr_test.go holds it to the expression it replaces).
func parseImage(uri string) (Image, bool) {
	host, rest, ok := strings.Cut(uri, "/")
	if !ok {
		return Image{}, false
	}
	repo, digest, ok := strings.Cut(rest, "@")
	if !ok || !shiplog.IsRepositoryName(repo) || !isDigest(digest) {
		return Image{}, false
	}
	account, host, ok := strings.Cut(host, ".dkr.ecr.")
	if !ok || len(account) != 12 || !allBytes(account, isDigit) {
		return Image{}, false
	}
	region, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		if region, ok = strings.CutSuffix(host, ".amazonaws.com.cn"); !ok {
			return Image{}, false
		}
	}
	if !isRegion(region) {
		return Image{}, false
	}
	return Image{Account: account, Region: region, Repository: repo, Digest: digest}, true
}

// isRegion reports whether s is two lower-case letters, one or more -{letters and digits}, and a
// last -{digits}: us-east-1, eu-central-2, us-gov-west-1.
func isRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 || !allBytes(parts[0], func(c byte) bool { return 'a' <= c && c <= 'z' }) {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if p == "" || !allBytes(p, func(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) }) {
			return false
		}
	}
	last := parts[len(parts)-1]
	return last != "" && allBytes(last, isDigit)
}

func isDigest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(hex) == 64 && allBytes(hex, func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' })
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// repository identifies one repository in one registry in one region.
type repository struct {
	account, region, name string
}

func (r repository) String() string { return r.account + "/" + r.region + "/" + r.name }

// group parses uris and groups their distinct images by repository, in the order first seen.
func group(uris []string) ([]repository, map[repository][]Image, error) {
	var order []repository
	byRepo := map[repository][]Image{}
	seen := map[Image]bool{}
	for _, uri := range uris {
		im, err := ParseImage(uri)
		if err != nil {
			return nil, nil, err
		}
		if seen[im] {
			continue
		}
		seen[im] = true
		repo := repository{im.Account, im.Region, im.Repository}
		if _, ok := byRepo[repo]; !ok {
			order = append(order, repo)
		}
		byRepo[repo] = append(byRepo[repo], im)
	}
	return order, byRepo, nil
}

// found is what BatchGetImage says of one repository's images.
type found struct {
	images  map[string]types.Image // by digest
	missing []string               // digests
}

// get asks ECR for images of one repository, one call per 100 images. A repository that does
// not exist has none of them.
func (r *Registry) get(ctx context.Context, repo repository, images []Image) (found, error) {
	f := found{images: map[string]types.Image{}}
	for chunk := range slices.Chunk(images, batchSize) {
		ids := make([]types.ImageIdentifier, len(chunk))
		for i, im := range chunk {
			ids[i] = types.ImageIdentifier{ImageDigest: aws.String(im.Digest)}
		}
		out, err := r.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RegistryId:         aws.String(repo.account),
			RepositoryName:     aws.String(repo.name),
			ImageIds:           ids,
			AcceptedMediaTypes: acceptedMediaTypes,
		}, inRegion(repo.region))
		var notFound *types.RepositoryNotFoundException
		if errors.As(err, &notFound) {
			f.images = map[string]types.Image{}
			f.missing = f.missing[:0]
			for _, im := range images {
				f.missing = append(f.missing, im.Digest)
			}
			return f, nil
		}
		if err != nil {
			return found{}, mapError(err, "get images of repository %s", repo)
		}
		for _, img := range out.Images {
			if img.ImageId != nil && img.ImageId.ImageDigest != nil {
				f.images[*img.ImageId.ImageDigest] = img
			}
		}
		r.remember(repo, out.Images)
		for _, fail := range out.Failures {
			switch fail.FailureCode {
			case types.ImageFailureCodeImageNotFound:
				// Counted below, from what is not in Images: a failure names the image by
				// whatever id it was asked for, which not every implementation echoes back.
			case types.ImageFailureCodeUpstreamTooManyRequests, types.ImageFailureCodeUpstreamUnavailable:
				return found{}, shiplog.Errorf(shiplog.Unavailable, "get images of repository %s: %s: %s",
					repo, fail.FailureCode, aws.ToString(fail.FailureReason))
			default:
				return found{}, shiplog.Errorf(shiplog.Internal, "get images of repository %s: image %s: %s: %s",
					repo, imageIDString(fail.ImageId), fail.FailureCode, aws.ToString(fail.FailureReason))
			}
		}
		// An image ECR neither returned nor failed is not there either: a deploy must not go
		// ahead on an image nobody vouched for.
		for _, im := range chunk {
			if _, ok := f.images[im.Digest]; !ok {
				f.missing = append(f.missing, im.Digest)
			}
		}
	}
	return f, nil
}

// MissingImages returns those of the images that ECR no longer has (expired by a lifecycle
// policy, deleted, or in a repository that is gone), in the order given. It makes one
// BatchGetImage call per repository (per 100 images of it), up to checkers repositories at once.
// Invalid if an image is not a digest-pinned ECR URI.
func (r *Registry) MissingImages(ctx context.Context, uris []string) ([]string, error) {
	order, byRepo, err := group(uris)
	if err != nil {
		return nil, err
	}
	results := make([]found, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for i, repo := range order {
		g.Go(func() error {
			f, err := r.get(gctx, repo, byRepo[repo])
			results[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for i, repo := range order {
		for _, digest := range results[i].missing {
			gone[Image{repo.account, repo.region, repo.name, digest}.URI()] = true
		}
	}
	var missing []string
	for _, uri := range uris {
		if gone[uri] {
			missing = append(missing, uri)
			delete(gone, uri) // once, even if listed twice
		}
	}
	return missing, nil
}

// TagImages points tag at each image by putting its manifest back under the tag: ECR has no
// other way to tag an existing image. It reads where the tag is in each repository (one
// BatchGetImage, up to checkers repositories at once) and only when every image was found does it
// write, and only where the tag is not on the image already, so a redeploy writes nothing and a
// missing image moves no tag anywhere. The manifest it puts back is the one MissingImages just
// read, or is read in the same call. NotFound if an image is gone; Invalid if two images of one
// repository would need the same tag.
func (r *Registry) TagImages(ctx context.Context, uris []string, tag string) error {
	order, byRepo, err := group(uris)
	if err != nil {
		return err
	}
	for _, repo := range order {
		if ims := byRepo[repo]; len(ims) > 1 {
			return shiplog.Errorf(shiplog.Invalid, "cannot tag %s and %s both %q: they are in the same repository %s",
				ims[0].URI(), ims[1].URI(), tag, repo.name)
		}
	}
	// Read phase: where is the tag, and what manifest would move it.
	plans := make([]*fetchedManifest, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for i, repo := range order {
		im := byRepo[repo][0]
		g.Go(func() error {
			m, err := r.planTag(gctx, repo, im, tag)
			plans[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Write phase: every image is there; move the tag where it is not yet.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(taggers)
	for i, repo := range order {
		if plans[i] == nil {
			continue
		}
		im, m := byRepo[repo][0], *plans[i]
		g.Go(func() error { return r.putTag(gctx, repo, im, tag, m) })
	}
	return g.Wait()
}

// planTag reads where tag is in im's repository. It answers nil when the tag is on im already,
// or the manifest to put back under the tag.
func (r *Registry) planTag(ctx context.Context, repo repository, im Image, tag string) (*fetchedManifest, error) {
	known, haveManifest := r.recall(im)
	ids := []types.ImageIdentifier{{ImageTag: aws.String(tag)}}
	if !haveManifest {
		ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(im.Digest)})
	}
	out, err := r.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         aws.String(repo.account),
		RepositoryName:     aws.String(repo.name),
		ImageIds:           ids,
		AcceptedMediaTypes: acceptedMediaTypes,
	}, inRegion(repo.region))
	if err != nil {
		return nil, mapError(err, "find tag %q in repository %s", tag, repo)
	}
	// Asked for by tag and, without a manifest at hand, by digest: the answer's images are the
	// tag's image (if the tag exists) and the image itself. The tag is on the image exactly when
	// no other image came back and nothing failed (a failure is the tag not found, or the image).
	var elsewhere, itself bool
	for _, img := range out.Images {
		if img.ImageId == nil || aws.ToString(img.ImageId.ImageDigest) != im.Digest {
			elsewhere = true
			continue
		}
		itself = true
		if !haveManifest {
			known = fetchedManifest{body: img.ImageManifest, mediaType: img.ImageManifestMediaType}
			haveManifest = true
		}
	}
	for _, fail := range out.Failures {
		switch fail.FailureCode {
		case types.ImageFailureCodeImageNotFound, types.ImageFailureCodeImageTagDoesNotMatchDigest:
		case types.ImageFailureCodeUpstreamTooManyRequests, types.ImageFailureCodeUpstreamUnavailable:
			return nil, shiplog.Errorf(shiplog.Unavailable, "find tag %q in repository %s: %s: %s",
				tag, repo, fail.FailureCode, aws.ToString(fail.FailureReason))
		default:
			return nil, shiplog.Errorf(shiplog.Internal, "find tag %q in repository %s: image %s: %s: %s",
				tag, repo, imageIDString(fail.ImageId), fail.FailureCode, aws.ToString(fail.FailureReason))
		}
	}
	if itself && !elsewhere && len(out.Failures) == 0 {
		return nil, nil // already tagged
	}
	if !haveManifest {
		return nil, shiplog.Errorf(shiplog.NotFound, "cannot tag %s %q: it is no longer in ECR", im.URI(), tag)
	}
	return &known, nil
}

// putTag puts m back under tag, naming im's digest.
func (r *Registry) putTag(ctx context.Context, repo repository, im Image, tag string, m fetchedManifest) error {
	_, err := r.client.PutImage(ctx, &ecr.PutImageInput{
		RegistryId:             aws.String(repo.account),
		RepositoryName:         aws.String(repo.name),
		ImageManifest:          m.body,
		ImageManifestMediaType: m.mediaType,
		ImageDigest:            aws.String(im.Digest),
		ImageTag:               aws.String(tag),
	}, inRegion(repo.region))
	var exists *types.ImageAlreadyExistsException
	if errors.As(err, &exists) {
		// ECR says so when the tag is already on this very manifest: another deploy got there.
		return nil
	}
	if err != nil {
		return mapError(err, "tag %s %q", im.URI(), tag)
	}
	return nil
}

// remember keeps the manifests of images just read, for TagImages, and forgets old ones.
func (r *Registry) remember(repo repository, images []types.Image) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for im, m := range r.fetched {
		if now.Sub(m.at) > fetchedFor {
			delete(r.fetched, im)
		}
	}
	for _, img := range images {
		if img.ImageId == nil || img.ImageId.ImageDigest == nil || img.ImageManifest == nil {
			continue
		}
		r.fetched[Image{repo.account, repo.region, repo.name, *img.ImageId.ImageDigest}] =
			fetchedManifest{body: img.ImageManifest, mediaType: img.ImageManifestMediaType, at: now}
	}
}

// recall returns the manifest of im if MissingImages read it within fetchedFor.
func (r *Registry) recall(im Image) (fetchedManifest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.fetched[im]
	if !ok || r.now().Sub(m.at) > fetchedFor {
		return fetchedManifest{}, false
	}
	return m, true
}

// inRegion sends one call to region, where the image lives.
func inRegion(region string) func(*ecr.Options) {
	return func(o *ecr.Options) { o.Region = region }
}

func imageIDString(id *types.ImageIdentifier) string {
	if id == nil {
		return "?"
	}
	if id.ImageDigest != nil {
		return *id.ImageDigest
	}
	return aws.ToString(id.ImageTag)
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// mapError turns an SDK error into a shiplog error with context.
func mapError(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var repoNotFound *types.RepositoryNotFoundException
	var imageNotFound *types.ImageNotFoundException
	var tagImmutable *types.ImageTagAlreadyExistsException
	var quota ratelimit.QuotaExceededError
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException" && strings.HasPrefix(what, "tag "):
		// The SAM template grants ecr:PutImage only with ImageTagging Enabled, and only on
		// repositories tagged for it: say how to get there.
		return shiplog.Wrap(shiplog.Invalid, err, "%s: shiplog may not move tags in this repository; deploy the stack with ImageTagging=Enabled and tag the repository %s=true, or set tag_deployed_images to false in the project's manifest", what, TaggingTag)
	case errors.As(err, &repoNotFound):
		return shiplog.Wrap(shiplog.NotFound, err, "%s: no such repository", what)
	case errors.As(err, &imageNotFound):
		return shiplog.Wrap(shiplog.NotFound, err, "%s: no such image", what)
	case errors.As(err, &tagImmutable):
		return shiplog.Wrap(shiplog.Conflict, err, "%s: the repository's tags are immutable and the tag is on another image", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return shiplog.Wrap(shiplog.Unavailable, err, "%s: gave up waiting for ECR", what)
	case errors.As(err, &quota), retryables.IsErrorRetryable(err) == aws.TrueTernary:
		return shiplog.Wrap(shiplog.Unavailable, err, "%s: ECR is throttling or unavailable; retry later", what)
	}
	return shiplog.Wrap(shiplog.Internal, err, "%s", what)
}
