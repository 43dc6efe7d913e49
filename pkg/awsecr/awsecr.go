// Package awsecr implements shiplog.Registry on Amazon ECR: it checks that a release's images
// still exist before a deploy, and moves a tag onto deployed images for services that run
// floating tags. It implements shiplog.Findings too: the images' scan findings.
package awsecr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// CheckActions are the IAM actions CheckImages calls, on the images' repositories.
var CheckActions = []string{"ecr:BatchGetImage"}

// TagActions are the IAM actions TagImages calls: only a project that tags its deployed images
// needs PutImage.
var TagActions = []string{"ecr:BatchGetImage", "ecr:PutImage"}

// TaggingTag is the repository tag that lets shiplog move tags in a repository: the SAM template
// grants ecr:PutImage only on repositories that carry it with the value "true".
const TaggingTag = "shiplog-tag-deployed-images"

// Actions lists every IAM action the Registry calls. Tests hold its calls to these lists.
var Actions = []string{"ecr:BatchGetImage", "ecr:DescribeImageScanFindings", "ecr:PutImage"}

const (
	// batchSize is the most image ids BatchGetImage takes at once.
	batchSize = 100
	// checkers bounds how many repositories are read at once: a project of up to ten
	// repositories is checked in one round trip's time, far under BatchGetImage's rate quota.
	checkers = 10
	// taggers bounds how many PutImage calls run at once: as many as checkers, so that the tags
	// of a project of up to ten repositories move in one round trip's time too. That is
	// PutImage's default rate quota per second (10); the SDK's retries back off should several
	// deploys tag at once.
	taggers = checkers
	// fetchedFor is how long a manifest CheckImages fetched may stand in for a fresh read
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
	// fetched holds the manifests CheckImages read, so that the TagImages of the same deploy
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

// Registries makes the registry of a configuration's account and region, for awssts.Clients.
func Registries(cfg aws.Config) shiplog.Registry { return NewFromConfig(cfg) }

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
	// tagged says that the tag asked about is on the repository's one image.
	tagged bool
}

// get asks ECR for images of one repository, one call per 100 images, and, if tag is set, in
// the first call where tag is (a repository whose images carry a tag has one image, so the tag
// never makes a call of its own). A repository that does not exist has none of them.
func (r *Registry) get(ctx context.Context, repo repository, images []Image, tag string) (found, error) {
	f := found{images: map[string]types.Image{}}
	for n, chunk := range chunks(images, tag) {
		ids := make([]types.ImageIdentifier, 0, len(chunk)+1)
		for _, im := range chunk {
			ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(im.Digest)})
		}
		byTag := tag != "" && n == 0
		if byTag {
			ids = append(ids, types.ImageIdentifier{ImageTag: aws.String(tag)})
		}
		out, err := r.client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RegistryId:         aws.String(repo.account),
			RepositoryName:     aws.String(repo.name),
			ImageIds:           ids,
			AcceptedMediaTypes: acceptedMediaTypes,
		}, inRegion(repo.region))
		var notFound *types.RepositoryNotFoundException
		if errors.As(err, &notFound) {
			f = found{images: map[string]types.Image{}}
			for _, im := range images {
				f.missing = append(f.missing, im.Digest)
			}
			return f, nil
		}
		if err != nil {
			return found{}, mapError(err, "get images of repository %s", repo)
		}
		asked := map[string]bool{}
		for _, im := range chunk {
			asked[im.Digest] = true
		}
		// Asked by tag too, the answer may carry the tag's image, which is another one when the
		// tag is elsewhere; and a failure, which is the tag not found when the images are there.
		elsewhere := false
		for _, img := range out.Images {
			if img.ImageId == nil || img.ImageId.ImageDigest == nil {
				continue
			}
			digest := *img.ImageId.ImageDigest
			if asked[digest] {
				f.images[digest] = img
			} else {
				elsewhere = true
			}
		}
		r.remember(repo, out.Images)
		for _, fail := range out.Failures {
			switch fail.FailureCode {
			case types.ImageFailureCodeImageNotFound, types.ImageFailureCodeImageTagDoesNotMatchDigest:
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
		// The tag is on the image exactly when the image came back, no other image did, and
		// nothing failed (with the image there, a failure is the tag's).
		if byTag {
			f.tagged = len(f.missing) == 0 && !elsewhere && len(out.Failures) == 0
		}
	}
	return f, nil
}

// chunks cuts images into BatchGetImage's batches, leaving room in the first for the tag.
func chunks(images []Image, tag string) [][]Image {
	var out [][]Image
	room := batchSize
	if tag != "" {
		room--
	}
	for len(images) > 0 {
		n := min(room, len(images))
		out = append(out, images[:n])
		images, room = images[n:], batchSize
	}
	if len(out) == 0 && tag != "" {
		out = append(out, nil)
	}
	return out
}

// CheckImages reads the images from ECR: those it no longer has (expired by a lifecycle policy,
// deleted, or in a repository that is gone), and, if tag is set, those of the rest that tag is
// not on, each list in the order given. It makes one BatchGetImage call per repository (per 100
// images of it), asking for the tag in the same call, up to checkers repositories at once, and
// keeps the manifests it read for the TagImages that follows. Invalid if an image is not a
// digest-pinned ECR URI, or if, with a tag, two images are of one repository.
func (r *Registry) CheckImages(ctx context.Context, uris []string, tag string) (shiplog.ImageCheck, error) {
	order, byRepo, err := group(uris)
	if err != nil {
		return shiplog.ImageCheck{}, err
	}
	if tag != "" {
		if err := oneEach(order, byRepo, tag); err != nil {
			return shiplog.ImageCheck{}, err
		}
	}
	results := make([]found, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for i, repo := range order {
		g.Go(func() error {
			f, err := r.get(gctx, repo, byRepo[repo], tag)
			results[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return shiplog.ImageCheck{}, err
	}
	gone, untagged := map[string]bool{}, map[string]bool{}
	for i, repo := range order {
		for _, digest := range results[i].missing {
			gone[Image{repo.account, repo.region, repo.name, digest}.URI()] = true
		}
		if tag != "" && len(results[i].missing) == 0 && !results[i].tagged {
			untagged[byRepo[repo][0].URI()] = true
		}
	}
	var c shiplog.ImageCheck
	for _, uri := range uris {
		// The maps are keyed by Image.URI(), which writes every host .amazonaws.com: a URI of
		// the China partition (.amazonaws.com.cn) is looked up by that form, and answered as given.
		im, _ := ParseImage(uri) // group parsed every one already
		key := im.URI()
		switch {
		case gone[key]:
			c.Missing = append(c.Missing, uri)
			delete(gone, key) // once, even if listed twice
		case untagged[key]:
			c.Untagged = append(c.Untagged, uri)
			delete(untagged, key)
		}
	}
	return c, nil
}

// oneEach refuses images of which two are of one repository: a tag names one image there.
func oneEach(order []repository, byRepo map[repository][]Image, tag string) error {
	for _, repo := range order {
		if ims := byRepo[repo]; len(ims) > 1 {
			return shiplog.Errorf(shiplog.Invalid, "cannot tag %s and %s both %q: they are in the same repository %s",
				ims[0].URI(), ims[1].URI(), tag, repo.name)
		}
	}
	return nil
}

// TagImages points tag at each image by putting its manifest back under the tag: ECR has no
// other way to tag an existing image. It does not look where the tag is: CheckImages says which
// images need it, and a PutImage of an image that has the tag already changes nothing. The
// manifest it puts back is the one CheckImages just read; any other it reads first, every
// repository before it writes any, so that a missing image moves no tag anywhere. NotFound if an
// image is gone; Invalid if two images of one repository would need the same tag.
func (r *Registry) TagImages(ctx context.Context, uris []string, tag string) error {
	order, byRepo, err := group(uris)
	if err != nil {
		return err
	}
	if err := oneEach(order, byRepo, tag); err != nil {
		return err
	}
	// Read phase: the manifests not at hand.
	manifests := make([]fetchedManifest, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for i, repo := range order {
		im := byRepo[repo][0]
		if m, ok := r.recall(im); ok {
			manifests[i] = m
			continue
		}
		g.Go(func() error {
			f, err := r.get(gctx, repo, []Image{im}, "")
			if err != nil {
				return err
			}
			img, ok := f.images[im.Digest]
			if !ok || img.ImageManifest == nil {
				return shiplog.Errorf(shiplog.NotFound, "cannot tag %s %q: it is no longer in ECR", im.URI(), tag)
			}
			manifests[i] = fetchedManifest{body: img.ImageManifest, mediaType: img.ImageManifestMediaType}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Write phase: every image is there.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(taggers)
	for i, repo := range order {
		im, m := byRepo[repo][0], manifests[i]
		g.Go(func() error { return r.putTag(gctx, repo, im, tag, m) })
	}
	return g.Wait()
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

// recall returns the manifest of im if CheckImages read it within fetchedFor.
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

// service names ECR in the messages of errors the SDK's retries could not get past.
const service = awserr.Service("ECR")

// mapError turns an SDK error into a shiplog error with context: ECR's own meanings here, the
// rest as every AWS adapter maps them (awserr).
func mapError(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var repoNotFound *types.RepositoryNotFoundException
	var imageNotFound *types.ImageNotFoundException
	var tagImmutable *types.ImageTagAlreadyExistsException
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
	}
	return service.Wrap(err, "%s", what)
}
