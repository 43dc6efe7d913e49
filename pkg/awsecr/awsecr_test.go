package awsecr_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// motoAccount is the account moto runs as.
const motoAccount = "123456789012"

// fixture is a registry on the shared moto, an unrecorded client to arrange and inspect ECR
// with, and a recorder of the registry's calls, which are held to awsecr.Actions when the test ends.
type fixture struct {
	reg    *awsecr.Registry
	ecr    *ecr.Client
	calls  *localaws.CallRecorder
	prefix string // of the test's repository names
}

func newFixture(t testing.TB, opts ...func(*aws.Config)) *fixture {
	t.Helper()
	m := localaws.SharedMoto(t)
	rec := localaws.NewCallRecorder()
	t.Cleanup(func() {
		for _, action := range rec.Actions() {
			if !slices.Contains(awsecr.Actions, action) {
				t.Errorf("the Registry called %s, which is not in awsecr.Actions %v", action, awsecr.Actions)
			}
		}
	})
	return &fixture{
		reg:    awsecr.New(ecr.NewFromConfig(m.Config(t.Context(), append(opts, rec.Option())...))),
		ecr:    ecr.NewFromConfig(m.Config(t.Context())),
		calls:  rec,
		prefix: localaws.UniqueName("shiplog-test"),
	}
}

// manifest returns a distinct image manifest of the given media type and its digest, computed
// as ECR does: the SHA-256 of the manifest's bytes.
func manifest(mediaType string, n int) (string, string) {
	var body string
	switch mediaType {
	case "application/vnd.oci.image.index.v1+json":
		body = fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1000,"digest":"sha256:%064x","platform":{"architecture":"arm64","os":"linux"}}]}`, mediaType, n)
	default:
		body = fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1000,"digest":"sha256:%064x"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2000,"digest":"sha256:%064x"}]}`, mediaType, n, n+1)
	}
	sum := sha256.Sum256([]byte(body))
	return body, "sha256:" + hex.EncodeToString(sum[:])
}

const dockerV2 = "application/vnd.docker.distribution.manifest.v2+json"

func (f *fixture) createRepo(t testing.TB, name, region string) string {
	t.Helper()
	name = f.prefix + "/" + name
	if _, err := f.ecr.CreateRepository(t.Context(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)},
		func(o *ecr.Options) { o.Region = region }); err != nil {
		t.Fatalf("CreateRepository %s: %v", name, err)
	}
	return name
}

// push puts image n into repo under tag, as docker push does, and returns its URI.
func (f *fixture) push(t testing.TB, repo, region, mediaType string, n int, tag string) string {
	t.Helper()
	body, digest := manifest(mediaType, n)
	if _, err := f.ecr.PutImage(t.Context(), &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(body), ImageManifestMediaType: aws.String(mediaType),
		ImageDigest: aws.String(digest), ImageTag: aws.String(tag),
	}, func(o *ecr.Options) { o.Region = region }); err != nil {
		t.Fatalf("PutImage %s:%s: %v", repo, tag, err)
	}
	return uri(repo, region, digest)
}

func uri(repo, region, digest string) string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", motoAccount, region, repo, digest)
}

// absent is the URI of an image that was never pushed to repo.
func absent(repo string, n int) string {
	_, digest := manifest(dockerV2, 1_000_000+n)
	return uri(repo, localaws.Region, digest)
}

// tags returns the tags of each image of repo, by digest.
func (f *fixture) tags(t testing.TB, repo string) map[string][]string {
	t.Helper()
	out, err := f.ecr.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatalf("DescribeImages %s: %v", repo, err)
	}
	tags := map[string][]string{}
	for _, d := range out.ImageDetails {
		ts := slices.Clone(d.ImageTags)
		slices.Sort(ts)
		tags[aws.ToString(d.ImageDigest)] = ts
	}
	return tags
}

func TestMissingImages(t *testing.T) {
	f := newFixture(t)
	const region = localaws.Region
	a := f.createRepo(t, "a", region)
	b := f.createRepo(t, "b", region)
	gone := f.prefix + "/never-created"
	a1 := f.push(t, a, region, dockerV2, 1, "one")
	a2 := f.push(t, a, region, "application/vnd.oci.image.index.v1+json", 2, "two")
	b1 := f.push(t, b, region, dockerV2, 3, "one")
	// An image in another region than the client's.
	other := f.createRepo(t, "elsewhere", "us-east-1")
	o1 := f.push(t, other, "us-east-1", dockerV2, 4, "one")

	tests := []struct {
		name      string
		images    []string
		want      []string
		wantCalls int
	}{
		{"none", nil, nil, 0},
		{"all there", []string{a1, a2, b1, o1}, nil, 3},
		{"one gone", []string{a1, absent(a, 1), b1}, []string{absent(a, 1)}, 2},
		{"repository gone", []string{uri(gone, region, digestOf(a1)), a1, absent(gone, 2)},
			[]string{uri(gone, region, digestOf(a1)), absent(gone, 2)}, 2},
		{"in the given order, once each", []string{absent(b, 3), a1, absent(a, 4), absent(b, 3)},
			[]string{absent(b, 3), absent(a, 4)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.calls.Reset()
			got, err := f.reg.MissingImages(t.Context(), tt.images)
			if err != nil {
				t.Fatalf("MissingImages: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MissingImages: got %v, want %v", got, tt.want)
			}
			if n := f.calls.Count("ecr:BatchGetImage"); n != tt.wantCalls {
				t.Errorf("BatchGetImage calls: got %d, want %d (one per repository)", n, tt.wantCalls)
			}
			if n := f.calls.Total(); n != tt.wantCalls {
				t.Errorf("calls: got %v, want only %d BatchGetImage", f.calls.Counts(), tt.wantCalls)
			}
		})
	}
}

func digestOf(uri string) string { return uri[len(uri)-71:] }

// TestMissingImagesManyInOneRepository checks the 100-id limit of BatchGetImage.
func TestMissingImagesManyInOneRepository(t *testing.T) {
	f := newFixture(t)
	repo := f.createRepo(t, "big", localaws.Region)
	var images, want []string
	for i := range 150 {
		if i%5 == 0 {
			images = append(images, absent(repo, i))
			want = append(want, absent(repo, i))
			continue
		}
		images = append(images, f.push(t, repo, localaws.Region, dockerV2, i, fmt.Sprintf("t%d", i)))
	}
	f.calls.Reset()
	got, err := f.reg.MissingImages(t.Context(), images)
	if err != nil {
		t.Fatalf("MissingImages: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("MissingImages: got %d %v, want %d %v", len(got), got, len(want), want)
	}
	if n := f.calls.Count("ecr:BatchGetImage"); n != 2 {
		t.Errorf("BatchGetImage calls for 150 images: got %d, want 2", n)
	}
}

func TestInvalidImages(t *testing.T) {
	f := newFixture(t)
	digest := "sha256:" + fmt.Sprintf("%064x", 7)
	for _, image := range []string{
		"",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo:latest",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:abc",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/Repo@" + digest,
		"12345.dkr.ecr.eu-west-1.amazonaws.com/repo@" + digest,
		"docker.io/library/nginx@" + digest,
		"http://example.com/images/hatching/00001",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@" + digest + "/x",
	} {
		t.Run(image, func(t *testing.T) {
			f.calls.Reset()
			good := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@" + digest
			_, err := f.reg.MissingImages(t.Context(), []string{good, image})
			if got := shiplog.KindOf(err); got != shiplog.Invalid {
				t.Errorf("MissingImages: got kind %v (%v), want Invalid", got, err)
			}
			err = f.reg.TagImages(t.Context(), []string{good, image}, "env.stage")
			if got := shiplog.KindOf(err); got != shiplog.Invalid {
				t.Errorf("TagImages: got kind %v (%v), want Invalid", got, err)
			}
			if n := f.calls.Total(); n != 0 {
				t.Errorf("calls for invalid input: got %v, want none", f.calls.Counts())
			}
		})
	}
}

func TestParseImage(t *testing.T) {
	digest := "sha256:" + fmt.Sprintf("%064x", 42)
	tests := []struct {
		uri  string
		want awsecr.Image
	}{
		{"760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/archivist@" + digest,
			awsecr.Image{Account: "760097843905", Region: "eu-west-1", Repository: "uk.ac.wellcome/archivist", Digest: digest}},
		{"123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/a/b-c/d_e@" + digest,
			awsecr.Image{Account: "123456789012", Region: "us-gov-west-1", Repository: "a/b-c/d_e", Digest: digest}},
	}
	for _, tt := range tests {
		got, err := awsecr.ParseImage(tt.uri)
		if err != nil {
			t.Fatalf("ParseImage %s: %v", tt.uri, err)
		}
		if got != tt.want {
			t.Errorf("ParseImage %s: got %+v, want %+v", tt.uri, got, tt.want)
		}
		if got.URI() != tt.uri {
			t.Errorf("URI: got %s, want %s", got.URI(), tt.uri)
		}
	}
}

func TestTagImages(t *testing.T) {
	f := newFixture(t)
	const region = localaws.Region
	api := f.createRepo(t, "api", region)
	web := f.createRepo(t, "web", region)
	const index = "application/vnd.oci.image.index.v1+json"
	api1 := f.push(t, api, region, dockerV2, 1, "build-1")
	api2 := f.push(t, api, region, dockerV2, 2, "build-2")
	web1 := f.push(t, web, region, index, 3, "build-3")

	// stage runs api1 and web1.
	f.calls.Reset()
	if err := f.reg.TagImages(t.Context(), []string{api1, web1}, "env.stage"); err != nil {
		t.Fatalf("TagImages: %v", err)
	}
	wantTags := map[string]map[string][]string{
		api: {digestOf(api1): {"build-1", "env.stage"}, digestOf(api2): {"build-2"}},
		web: {digestOf(web1): {"build-3", "env.stage"}},
	}
	f.checkTags(t, wantTags)
	if got, want := f.calls.Counts(), map[string]int{"ecr:BatchGetImage": 2, "ecr:PutImage": 2}; !mapsEqual(got, want) {
		t.Errorf("calls: got %v, want %v", got, want)
	}
	// The tag moves to api2; web1 keeps it, which is no error.
	if err := f.reg.TagImages(t.Context(), []string{api2, web1}, "env.stage"); err != nil {
		t.Fatalf("TagImages again: %v", err)
	}
	wantTags[api] = map[string][]string{digestOf(api1): {"build-1"}, digestOf(api2): {"build-2", "env.stage"}}
	f.checkTags(t, wantTags)

	// The manifests are put back as they were: same digests, same media types.
	out, err := f.ecr.BatchGetImage(t.Context(), &ecr.BatchGetImageInput{
		RepositoryName: aws.String(web), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("env.stage")}},
	})
	if err != nil {
		t.Fatalf("BatchGetImage: %v", err)
	}
	if len(out.Images) != 1 {
		t.Fatalf("images tagged env.stage in %s: got %d, want 1", web, len(out.Images))
	}
	body, _ := manifest(index, 3)
	if got := aws.ToString(out.Images[0].ImageManifest); got != body {
		t.Errorf("manifest of the tagged image: got %s, want %s", got, body)
	}
	if got := aws.ToString(out.Images[0].ImageManifestMediaType); got != index {
		t.Errorf("media type of the tagged image: got %s, want %s", got, index)
	}

	t.Run("MissingImageIsNotFound", func(t *testing.T) {
		err := f.reg.TagImages(t.Context(), []string{api1, absent(web, 9)}, "env.prod")
		if got := shiplog.KindOf(err); got != shiplog.NotFound {
			t.Errorf("TagImages of a missing image: got kind %v (%v), want NotFound", got, err)
		}
		if got := f.tags(t, api)[digestOf(api1)]; slices.Contains(got, "env.prod") {
			t.Errorf("tags of %s after a failed TagImages: got %v, want no env.prod", api1, got)
		}
	})
	t.Run("TwoImagesOfOneRepositoryIsInvalid", func(t *testing.T) {
		err := f.reg.TagImages(t.Context(), []string{api1, api2}, "env.prod")
		if got := shiplog.KindOf(err); got != shiplog.Invalid {
			t.Errorf("TagImages of two images of one repository: got kind %v (%v), want Invalid", got, err)
		}
	})
}

func (f *fixture) checkTags(t testing.TB, want map[string]map[string][]string) {
	t.Helper()
	for repo, byDigest := range want {
		got := f.tags(t, repo)
		for digest, tags := range byDigest {
			if !slices.Equal(got[digest], tags) {
				t.Errorf("tags of %s@%s: got %v, want %v", repo, digest, got[digest], tags)
			}
		}
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestActions holds each method to its declared list exactly, so no list grants more than used.
func TestActions(t *testing.T) {
	f := newFixture(t)
	repo := f.createRepo(t, "actions", localaws.Region)
	img := f.push(t, repo, localaws.Region, dockerV2, 1, "build-1")

	f.calls.Reset()
	if _, err := f.reg.MissingImages(t.Context(), []string{img}); err != nil {
		t.Fatalf("MissingImages: %v", err)
	}
	if got, want := f.calls.Actions(), sorted(awsecr.CheckActions); !slices.Equal(got, want) {
		t.Errorf("MissingImages called %v, want %v (awsecr.CheckActions)", got, want)
	}
	f.calls.Reset()
	if _, err := f.reg.CheckImages(t.Context(), []string{img}, "env.stage"); err != nil {
		t.Fatalf("CheckImages: %v", err)
	}
	if got, want := f.calls.Actions(), sorted(awsecr.CheckActions); !slices.Equal(got, want) {
		t.Errorf("CheckImages with a tag called %v, want %v (awsecr.CheckActions)", got, want)
	}
	// A registry that has not just read the manifest reads it before it puts it back.
	fresh := newFixture(t)
	if err := fresh.reg.TagImages(t.Context(), []string{img}, "env.stage"); err != nil {
		t.Fatalf("TagImages: %v", err)
	}
	if got, want := fresh.calls.Actions(), sorted(awsecr.TagActions); !slices.Equal(got, want) {
		t.Errorf("TagImages called %v, want %v (awsecr.TagActions)", got, want)
	}
	union := sorted(append(append(slices.Clone(awsecr.CheckActions), awsecr.TagActions...), awsecr.FindingsActions...))
	if got := slices.Compact(union); !slices.Equal(got, sorted(awsecr.Actions)) {
		t.Errorf("awsecr.Actions: got %v, want CheckActions, TagActions and FindingsActions together %v", sorted(awsecr.Actions), got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// probe watches the registry's calls: the image ids of each BatchGetImage, and how many calls
// are in flight at once, each held for delay so that calls that could overlap do.
type probe struct {
	delay time.Duration

	mu                  sync.Mutex
	asked               [][]types.ImageIdentifier
	inFlight, maxFlight int
	spans               [][2]time.Time // when each call started and ended
}

func (p *probe) option() func(*aws.Config) {
	return func(cfg *aws.Config) {
		cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("test.probe",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					p.mu.Lock()
					if b, ok := in.Parameters.(*ecr.BatchGetImageInput); ok {
						p.asked = append(p.asked, b.ImageIds)
					}
					p.inFlight++
					p.maxFlight = max(p.maxFlight, p.inFlight)
					p.mu.Unlock()
					started := time.Now()
					defer func() {
						p.mu.Lock()
						p.inFlight--
						p.spans = append(p.spans, [2]time.Time{started, time.Now()})
						p.mu.Unlock()
					}()
					time.Sleep(p.delay)
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func (p *probe) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked, p.maxFlight, p.spans = nil, 0, nil
}

// inSeries returns the longest chain of calls each of which started after the one before it
// ended: the round trips a caller waited for one after another, whatever the server's speed.
func (p *probe) inSeries() int {
	p.mu.Lock()
	spans := slices.Clone(p.spans)
	p.mu.Unlock()
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[1].Compare(b[1]) })
	longest := make([]int, len(spans)) // longest chain ending with spans[i]
	best := 0
	for i, s := range spans {
		longest[i] = 1
		for j := range i {
			if !spans[j][1].After(s[0]) {
				longest[i] = max(longest[i], longest[j]+1)
			}
		}
		best = max(best, longest[i])
	}
	return best
}

// askedDigests returns how many image ids asked for by digest the BatchGetImage calls carried.
func (p *probe) askedDigests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ids := range p.asked {
		for _, id := range ids {
			if id.ImageDigest != nil {
				n++
			}
		}
	}
	return n
}

// TestChecksRunConcurrently holds CheckImages and TagImages to calling ECR for the repositories
// at once, up to their bound, rather than one after another.
func TestChecksRunConcurrently(t *testing.T) {
	p := &probe{delay: 150 * time.Millisecond}
	f := newFixture(t, p.option())
	const repos, bound = 12, 10
	var images []string
	for i := range repos {
		repo := f.createRepo(t, fmt.Sprintf("r%02d", i), localaws.Region)
		images = append(images, f.push(t, repo, localaws.Region, dockerV2, 100+i, "build"))
	}
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"MissingImages", func() error {
			missing, err := f.reg.MissingImages(t.Context(), images)
			if len(missing) > 0 {
				t.Errorf("MissingImages: got %v, want none", missing)
			}
			return err
		}},
		{"CheckImages with a tag", func() error {
			c, err := f.reg.CheckImages(t.Context(), images, "env.stage")
			if len(c.Missing) > 0 || len(c.Untagged) != len(images) {
				t.Errorf("CheckImages: got missing %v, untagged %v; want none missing, all untagged", c.Missing, c.Untagged)
			}
			return err
		}},
		{"TagImages", func() error { return f.reg.TagImages(t.Context(), images, "env.stage") }},
	} {
		p.reset()
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if p.maxFlight != bound {
			t.Errorf("%s over %d repositories: at most %d calls in flight, want %d (the bound)", step.name, repos, p.maxFlight, bound)
		}
	}
}

// TestRedeployWritesNothing: a deploy's check reads each repository once, asking where the tag
// is in the same call; images that carry the tag already are not to be tagged, so a redeploy
// writes nothing, and a deploy that moves a tag writes only there, with the manifest the check
// read.
func TestRedeployWritesNothing(t *testing.T) {
	p := &probe{}
	f := newFixture(t, p.option())
	const region = localaws.Region
	api := f.createRepo(t, "api", region)
	web := f.createRepo(t, "web", region)
	api1 := f.push(t, api, region, dockerV2, 1, "build-1")
	api2 := f.push(t, api, region, dockerV2, 2, "build-2")
	web1 := f.push(t, web, region, dockerV2, 3, "build-3")

	// No image carries the tag yet.
	check := f.checkImages(t, []string{api1, web1}, "env.stage", shiplog.ImageCheck{Untagged: []string{api1, web1}})
	if err := f.reg.TagImages(t.Context(), check.Untagged, "env.stage"); err != nil {
		t.Fatal(err)
	}

	// A redeploy: one read per repository, and nothing to tag.
	f.calls.Reset()
	f.checkImages(t, []string{api1, web1}, "env.stage", shiplog.ImageCheck{})
	if got, want := f.calls.Counts(), map[string]int{"ecr:BatchGetImage": 2}; !mapsEqual(got, want) {
		t.Errorf("calls of a redeploy's check: got %v, want %v", got, want)
	}
	f.checkTags(t, map[string]map[string][]string{
		api: {digestOf(api1): {"build-1", "env.stage"}, digestOf(api2): {"build-2"}},
		web: {digestOf(web1): {"build-3", "env.stage"}},
	})

	// A deploy that moves the tag in api: the check says so, and the tagging writes only there,
	// reading no manifest again.
	f.calls.Reset()
	p.reset()
	check = f.checkImages(t, []string{api2, web1}, "env.stage", shiplog.ImageCheck{Untagged: []string{api2}})
	checkDigests := p.askedDigests()
	if err := f.reg.TagImages(t.Context(), check.Untagged, "env.stage"); err != nil {
		t.Fatal(err)
	}
	if got, want := f.calls.Counts(), map[string]int{"ecr:BatchGetImage": 2, "ecr:PutImage": 1}; !mapsEqual(got, want) {
		t.Errorf("calls of a deploy that moves one tag: got %v, want %v", got, want)
	}
	if again := p.askedDigests() - checkDigests; again != 0 {
		t.Errorf("TagImages asked for %d images by digest that CheckImages had just read", again)
	}
	f.checkTags(t, map[string]map[string][]string{
		api: {digestOf(api1): {"build-1"}, digestOf(api2): {"build-2", "env.stage"}},
		web: {digestOf(web1): {"build-3", "env.stage"}},
	})

	// A missing image is missing, not untagged; a tag on it is not asked about elsewhere.
	gone := absent(web, 7)
	f.checkImages(t, []string{api2, gone}, "env.stage", shiplog.ImageCheck{Missing: []string{gone}})
	// Without a tag, nothing is untagged.
	f.checkImages(t, []string{api1, web1}, "", shiplog.ImageCheck{})

	t.Run("TwoImagesOfOneRepositoryIsInvalid", func(t *testing.T) {
		_, err := f.reg.CheckImages(t.Context(), []string{api1, api2}, "env.prod")
		if got := shiplog.KindOf(err); got != shiplog.Invalid {
			t.Errorf("CheckImages with a tag of two images of one repository: got kind %v (%v), want Invalid", got, err)
		}
	})
}

func (f *fixture) checkImages(t testing.TB, images []string, tag string, want shiplog.ImageCheck) shiplog.ImageCheck {
	t.Helper()
	got, err := f.reg.CheckImages(t.Context(), images, tag)
	if err != nil {
		t.Fatalf("CheckImages %v %q: %v", images, tag, err)
	}
	if !slices.Equal(got.Missing, want.Missing) || !slices.Equal(got.Untagged, want.Untagged) {
		t.Errorf("CheckImages %v %q: got missing %v, untagged %v; want missing %v, untagged %v",
			images, tag, got.Missing, got.Untagged, want.Missing, want.Untagged)
	}
	return got
}

// TestRememberedManifestsAge: a manifest CheckImages read long ago is read again.
func TestRememberedManifestsAge(t *testing.T) {
	p := &probe{}
	f := newFixture(t, p.option())
	now := time.Now()
	awsecr.SetClock(f.reg, func() time.Time { return now })
	repo := f.createRepo(t, "aged", localaws.Region)
	img := f.push(t, repo, localaws.Region, dockerV2, 1, "build-1")
	if _, err := f.reg.MissingImages(t.Context(), []string{img}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	p.reset()
	if err := f.reg.TagImages(t.Context(), []string{img}, "env.stage"); err != nil {
		t.Fatal(err)
	}
	if got := p.askedDigests(); got != 1 {
		t.Errorf("TagImages two minutes after the check asked for %d images by digest, want 1 (a fresh read)", got)
	}
	f.checkTags(t, map[string]map[string][]string{repo: {digestOf(img): {"build-1", "env.stage"}}})
}

// TestTagImagesDenied: a role without ecr:PutImage on the repository (the template's ImageTagging
// Disabled, or an untagged repository) gets an error that says how to allow it.
func TestTagImagesDenied(t *testing.T) {
	ctx := t.Context()
	m := localaws.SharedMoto(t)
	direct := ecr.NewFromConfig(m.Config(ctx))
	repo := localaws.UniqueName("denied") + "/app"
	if _, err := direct.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:` + strings.Repeat("cd", 32) + `"},"layers":[]}`
	out, err := direct.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(manifest),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"), ImageTag: aws.String("build-1")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM in front of moto: reads pass, PutImage is denied.
	u, _ := url.Parse(m.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutImage") {
			proxy.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: ecr:PutImage"}`)
	}))
	t.Cleanup(srv.Close)
	cfg := m.Config(ctx)
	cfg.BaseEndpoint = aws.String(srv.URL)
	reg := awsecr.New(ecr.NewFromConfig(cfg))
	uri := fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", aws.ToString(out.Image.RegistryId), localaws.Region, repo, aws.ToString(out.Image.ImageId.ImageDigest))
	err = reg.TagImages(ctx, []string{uri}, "env.stage")
	if shiplog.KindOf(err) != shiplog.Invalid || !strings.Contains(err.Error(), "ImageTagging=Enabled") || !strings.Contains(err.Error(), awsecr.TaggingTag+"=true") {
		t.Errorf("TagImages denied: got %v (kind %v), want an Invalid error naming ImageTagging and the repository tag", err, shiplog.KindOf(err))
	}
}

// An image of the China partition (its host ends .amazonaws.com.cn) is checked as any other: a
// missing one is reported missing, one without the tag is reported untagged, each as given.
func TestCheckImagesChinaPartition(t *testing.T) {
	f := newFixture(t)
	const region = "cn-north-1"
	repo := f.createRepo(t, "api", region)
	cn := func(uri string) string { return strings.Replace(uri, ".amazonaws.com/", ".amazonaws.com.cn/", 1) }
	pushed := cn(f.push(t, repo, region, dockerV2, 1, "build-1"))
	_, missing := manifest(dockerV2, 1_000_007)
	gone := cn(uri(repo, region, missing))
	if !strings.Contains(pushed, ".amazonaws.com.cn/") || !strings.Contains(gone, ".amazonaws.com.cn/") {
		t.Fatalf("test URIs %s, %s: want hosts in .amazonaws.com.cn", pushed, gone)
	}
	f.checkImages(t, []string{pushed}, "env.stage", shiplog.ImageCheck{Untagged: []string{pushed}})
	f.checkImages(t, []string{pushed, gone}, "", shiplog.ImageCheck{Missing: []string{gone}})
}
