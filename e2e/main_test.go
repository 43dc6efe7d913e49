package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/localaws"
)

// The four functions, by the name of their directory under functions/.
var functionNames = []string{"ecr-push", "create-release", "deploy", "api"}

// The table names the functions get through SHIPLOG_RELEASES_TABLE and SHIPLOG_STATE_TABLE.
var tables = awsapp.Tables{Releases: "shiplog-e2e-releases", State: "shiplog-e2e-state"}

// stack is everything TestMain starts: one moto_server, and one aws-lambda-rie per function,
// whose AWS endpoint is that moto. The test seeds moto and then drives the functions only
// through the aws CLI.
type stack struct {
	root      string // the module root
	dir       string // binaries and scratch files
	moto      *localaws.Moto
	awsCLI    string
	account   string // moto's account id, as ECR image URIs carry it
	functions map[string]*function
	images    map[string]image // by imageKey
}

var st *stack

func TestMain(m *testing.M) {
	s, err := start(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		if s != nil {
			s.stop()
		}
		os.Exit(1)
	}
	st = s
	code := m.Run()
	s.stop()
	os.Exit(code)
}

func start(ctx context.Context) (*stack, error) {
	root, err := localaws.ModuleRoot()
	if err != nil {
		return nil, err
	}
	// Look for every tool first, so that a missing one fails in a second, not after the builds.
	rie, err := riePath(root)
	if err != nil {
		return nil, err
	}
	awsCLI, err := awsCLIPath()
	if err != nil {
		return nil, err
	}
	if _, err := localaws.MotoPath(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shiplog-e2e-")
	if err != nil {
		return nil, err
	}
	s := &stack{root: root, dir: dir, awsCLI: awsCLI, functions: map[string]*function{}}

	g, gctx := errgroup.WithContext(ctx)
	for _, fn := range functionNames {
		g.Go(func() error { return build(gctx, root, fn, s.bootstrap(fn)) })
	}
	g.Go(func() error {
		m, err := localaws.LaunchMoto()
		s.moto = m
		return err
	})
	if err := g.Wait(); err != nil {
		return s, err
	}

	for _, fn := range functionNames {
		f, err := startFunction(fn, rie, s.bootstrap(fn), s.functionEnv(fn))
		if err != nil {
			return s, err
		}
		s.functions[fn] = f
	}
	return s, nil
}

// seed empties moto, then creates the tables from awsdynamo's definitions (the ones the SAM
// template is checked against) and puts the images in ECR. Each test starts from it, so that
// -count=N runs the same test N times.
func (s *stack) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s.moto.Reset(t)
	cfg := s.moto.Config(ctx)
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(cfg), tables.Releases, tables.State); err != nil {
		t.Fatalf("create tables on moto: %v", err)
	}
	if err := s.pushImages(ctx, ecr.NewFromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) stop() {
	for _, f := range s.functions {
		f.stop()
	}
	if s.moto != nil {
		s.moto.Close()
	}
	os.RemoveAll(s.dir)
}

func (s *stack) bootstrap(fn string) string { return filepath.Join(s.dir, fn, "bootstrap") }

// build compiles a function as `make build` does, but for this machine's architecture, so that
// aws-lambda-rie can run it here.
func build(ctx context.Context, root, fn, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, "./functions/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build functions/%s: %v\n%s", fn, err, b)
	}
	return nil
}

// functionEnv is what each function process sees: moto as every AWS endpoint, test credentials,
// and the table names. Nothing of the caller's environment leaks in (no profile, no real keys).
func (s *stack) functionEnv(fn string) []string {
	return append(s.moto.Env(),
		"PATH="+os.Getenv("PATH"),
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"SHIPLOG_RELEASES_TABLE="+tables.Releases,
		"SHIPLOG_STATE_TABLE="+tables.State,
		// The flow deploys everywhere, reports, and registers through create-release: a stack
		// that allows all of it. TestCloudFormationDeploy runs a narrower one.
		awslambda.InvokeAllowEnv+"=*/*",
		awslambda.InvokePrivilegedEnv+"="+awslambda.AllowAll().PrivilegeList(),
		"AWS_LAMBDA_FUNCTION_NAME="+fn,
		// A hung function fails the test in half a minute rather than rie's default of five.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	)
}

func riePath(root string) (string, error) {
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	candidates := []string{filepath.Join(root, "bin", "aws-lambda-rie")}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(p, "bin", "aws-lambda-rie"))
		}
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("aws-lambda-rie not found on PATH nor at %s: run `make tools`", strings.Join(candidates, ", "))
}

func awsCLIPath() (string, error) {
	if p, err := exec.LookPath("aws"); err == nil {
		return localaws.PastPyenvShim(p), nil
	}
	const fallback = "/root/.pyenv/shims/aws"
	if _, err := os.Stat(fallback); err == nil {
		return localaws.PastPyenvShim(fallback), nil
	}
	return "", errors.New("the aws CLI is not on PATH nor at " + fallback + ": install it (pip install awscli)")
}

// image is one image put in moto's ECR.
type image struct {
	repository string
	tag        string // "" for an untagged platform manifest
	digest     string // as ECR computed it
	mediaType  string
	uri        string // {account}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}
}

// The images TestMain puts in ECR. v1 is one commit's build of every repository; archivist also
// has the untagged platform manifest of a multi-platform push, and a later build, v2.
const (
	archivistV1       = "archivist v1"
	archivistPlatform = "archivist platform"
	archivistV2       = "archivist v2"
	bagRegisterV1     = "bag-register v1"
	bagVerifierV1     = "bag_verifier v1"
	notifierV1        = "notifier v1"
)

var imageSpecs = []struct{ key, repository, tag string }{
	{archivistV1, "uk.ac.wellcome/archivist", "ref.5d2a9c1e7b3f"},
	{archivistPlatform, "uk.ac.wellcome/archivist", ""},
	{archivistV2, "uk.ac.wellcome/archivist", "ref.8e4f0a2b6c1d"},
	{bagRegisterV1, "uk.ac.wellcome/bag-register", "ref.5d2a9c1e7b3f"},
	{bagVerifierV1, "uk.ac.wellcome/bag_verifier", "ref.5d2a9c1e7b3f"},
	{notifierV1, "uk.ac.wellcome/notifier", "ref.5d2a9c1e7b3f"},
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// pushImages creates the storage project's repositories and puts an OCI image manifest for each
// image, so that every push event carries a digest ECR knows. ECR (here moto) computes the
// digest; it is read back from PutImage.
func (s *stack) pushImages(ctx context.Context, client *ecr.Client) error {
	s.images = map[string]image{}
	created := map[string]bool{}
	for _, spec := range imageSpecs {
		if !created[spec.repository] {
			out, err := client.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(spec.repository)})
			if err != nil {
				return fmt.Errorf("ecr CreateRepository %s: %w", spec.repository, err)
			}
			created[spec.repository] = true
			s.account = aws.ToString(out.Repository.RegistryId)
		}
		in := &ecr.PutImageInput{
			RepositoryName:         aws.String(spec.repository),
			ImageManifest:          aws.String(manifestFor(spec.key)),
			ImageManifestMediaType: aws.String(ociManifest),
		}
		if spec.tag != "" {
			in.ImageTag = aws.String(spec.tag)
		}
		out, err := client.PutImage(ctx, in)
		if err != nil {
			return fmt.Errorf("ecr PutImage %s: %w", spec.key, err)
		}
		digest := aws.ToString(out.Image.ImageId.ImageDigest)
		s.images[spec.key] = image{
			repository: spec.repository,
			tag:        spec.tag,
			digest:     digest,
			mediaType:  ociManifest,
			uri:        fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s@%s", s.account, localaws.Region, spec.repository, digest),
		}
	}
	return nil
}

// manifestFor is an OCI image manifest whose config and layer are unique to key.
func manifestFor(key string) string {
	blob := func(what string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(key+" "+what))) }
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob("config"), "size": 1469},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob("layer"), "size": 3623807},
		},
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// deadline bounds each wait for a process to come up: as pkg/localaws's servers, generously,
// since a loaded machine only slows a start that does come.
const deadline = 3 * time.Minute
