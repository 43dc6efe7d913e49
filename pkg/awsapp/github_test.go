package awsapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fakeGitHub is a local GitHub API: the compare of any range gives one commit, the head, and
// every request's path and Authorization header are recorded.
type fakeGitHub struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string // "Authorization-header path"
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls = append(f.calls, r.Header.Get("Authorization")+" "+r.URL.Path)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if _, rng, ok := strings.Cut(r.URL.Path, "/compare/"); ok {
			_, head, _ := strings.Cut(rng, "...")
			json.NewEncoder(w).Encode(map[string]any{"total_commits": 1, "commits": []any{map[string]any{
				"sha": head, "commit": map[string]any{"message": "Fix the bag verifier\n\nbody", "author": map[string]any{"name": "Alice"}},
				"author": map[string]any{"login": "alice"}}}})
			return
		}
		fmt.Fprint(w, `[{"number":42}]`) // a commit's pull requests
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

// annotatedImage puts an image whose OCI annotations name its source revision into a repository
// and returns its digest.
func annotatedImage(t *testing.T, client *ecr.Client, repo string, n int, rev string) string {
	t.Helper()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,"digest":"sha256:%064x"},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":2,"digest":"sha256:%064x"}],`+
		`"annotations":{%q:%q,%q:"https://github.com/example/app"}}`, n, n, shiplog.AnnotationRevision, rev, shiplog.AnnotationSource)
	out, err := client.PutImage(t.Context(), &ecr.PutImageInput{
		RepositoryName: aws.String(repo), ImageManifest: aws.String(m), ImageTag: aws.String(fmt.Sprintf("build-%d", n)),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Image.ImageId.ImageDigest)
}

// TestGitHubEnrichment runs the deploy function, wired as functions/deploy wires it with
// SHIPLOG_GITHUB_TOKEN_PARAMETER set, on moto: building it reads nothing; the first deploy with
// a range reads the token's SecureString (one ssm:GetParameter of that name, decrypted) and asks
// the fake GitHub with it, and the deployment keeps the commits; a later one reads the token no
// more. A token parameter that does not exist is noted on the range, and the deploy succeeds.
func TestGitHubEnrichment(t *testing.T) {
	m := localaws.SharedMoto(t)
	ctx := t.Context()
	tables := awsapp.Tables{Releases: localaws.UniqueName("releases"), State: localaws.UniqueName("state")}
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(m.Config(ctx)), tables.Releases, tables.State); err != nil {
		t.Fatal(err)
	}
	ecrClient := ecr.NewFromConfig(m.Config(ctx))
	repo := localaws.UniqueName("gh") + "/app"
	if _, err := ecrClient.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	const token = "github_pat_11AAAA-test"
	tokenParam := localaws.UniqueName("/teams/platform/github-token")
	if _, err := ssm.NewFromConfig(m.Config(ctx)).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(tokenParam), Value: aws.String(token),
		Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	gh := newFakeGitHub(t)

	rec := newRecorder(tables)
	cfg := m.Config(ctx, rec.option())
	registry := awsecr.NewFromConfig(cfg)
	svc := awsapp.NewFromConfig(cfg, tables, registry, nil)
	svc.Metadata = registry
	// The token reads: ssm:GetParameter of a name under /teams (ecr-push, in the same service
	// here, reads the images' latest parameters with it too).
	tokenReads := func() []string {
		var reads []string
		for _, n := range rec.parameters["ssm:GetParameter"] {
			if strings.HasPrefix(n, "/teams/") {
				reads = append(reads, n)
			}
		}
		return reads
	}
	commits, err := awsapp.GitHubCommits(cfg, tokenParam, gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	svc.Commits = commits
	if got := tokenReads(); len(got) != 0 {
		t.Fatalf("building the enrichment read %v; it must read nothing before its first use", got)
	}
	fns := awslambda.Functions(svc, nil, awslambda.AllowAll())
	project := localaws.UniqueName("proj")
	manifest := fmt.Sprintf(`{%q:{"name":"P","environments":[{"id":"stage"}],"image_repositories":[{"id":%q,"services":["web"]}]}}`, project, repo)
	invoke := func(fn, payload string) string {
		t.Helper()
		out, err := fns[fn].Invoke(ctx, []byte(payload))
		if err != nil {
			t.Fatalf("%s %s: %v", fn, payload, err)
		}
		return string(out)
	}
	revs := []string{strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40), strings.Repeat("4", 40)}
	deployRevision := func(n int) shiplog.SourceRange {
		t.Helper()
		if n == 0 {
			// Registers the project; the release is refused, as nothing is pushed yet.
			if _, err := fns[awslambda.CreateReleaseName].Invoke(ctx, fmt.Appendf(nil, `{"project_id":%q,"manifest":%s}`, project, manifest)); err == nil {
				t.Fatal("create-release before any push: no error")
			}
		}
		d := annotatedImage(t, ecrClient, repo, 100+n, revs[n])
		invoke(awslambda.ECRPushName, string(pushEvent(repo, d, fmt.Sprintf("2026-11-20T1%d:00:00Z", n))))
		invoke(awslambda.CreateReleaseName, fmt.Sprintf(`{"project_id":%q}`, project))
		invoke(awslambda.DeployName, fmt.Sprintf(`{"project_id":%q,"release_id":"latest","environment":"stage"}`, project))
		deps, err := svc.Deployments(ctx, project, shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{})
		if err != nil || len(deps.Items) == 0 {
			t.Fatalf("stage's deployments: %v, %v", deps, err)
		}
		// The listing's item is a summary: the record has the change notes.
		dep, err := svc.Deployment(ctx, project, deps.Items[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return dep.Changes.Ranges["web"]
	}

	// Nothing runs in stage yet: no range, no call.
	deployRevision(0)
	if calls, reads := gh.took(), tokenReads(); len(calls) != 0 || len(reads) != 0 {
		t.Fatalf("a deploy with no range called GitHub %v and read %v", calls, reads)
	}
	r := deployRevision(1)
	if want := []string{tokenParam}; fmt.Sprint(tokenReads()) != fmt.Sprint(want) {
		t.Errorf("token reads: %v, want %v", tokenReads(), want)
	}
	calls := gh.took()
	if len(calls) == 0 || !strings.HasPrefix(calls[0], "Bearer "+token+" /repos/example/app/compare/"+revs[0]+"..."+revs[1]) {
		t.Errorf("GitHub calls %v, want the compare of %s...%s with the token", calls, revs[0], revs[1])
	}
	if len(r.Commits) != 1 || r.Commits[0].SHA != revs[1] || r.Commits[0].Title != "Fix the bag verifier" || r.CommitsUnknown != "" {
		t.Errorf("web's range %+v, want the commit %s from the fake GitHub", r, revs[1])
	}
	// The token is kept: the next range reads it no more.
	if r := deployRevision(2); len(r.Commits) != 1 || r.Commits[0].SHA != revs[2] {
		t.Errorf("web's second range %+v, want the commit %s", r, revs[2])
	}
	if got := tokenReads(); len(got) != 1 {
		t.Errorf("token reads after two ranges: %v, want one", got)
	}
	if calls := gh.took(); len(calls) == 0 || !strings.HasPrefix(calls[0], "Bearer "+token+" ") {
		t.Errorf("GitHub calls of the second range %v, want them with the kept token", calls)
	}

	// A token that cannot be read is noted as GitHub's failures are; the deploy goes on.
	missing, err := awsapp.GitHubCommits(cfg, tokenParam+"-missing", gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	svc.Commits = missing
	r = deployRevision(3)
	if r.Commits != nil || !strings.Contains(r.CommitsUnknown, tokenParam+"-missing") {
		t.Errorf("web's range with no token %+v, want no commits and the reason naming the parameter", r)
	}
	if calls := gh.took(); len(calls) != 0 {
		t.Errorf("with no token GitHub was called: %v", calls)
	}
}

// TestGitHubCommitsConfig: no parameter, no enrichment; a malformed parameter or API URL is
// refused naming the variable.
func TestGitHubCommitsConfig(t *testing.T) {
	if c, err := awsapp.GitHubCommits(aws.Config{}, "", ""); c != nil || err != nil {
		t.Errorf("no parameter: %v, %v; want nil, nil", c, err)
	}
	for _, tc := range []struct{ param, url, want string }{
		{"github-token", "", awsapp.GitHubTokenParameterEnv},
		{"/a//b", "", awsapp.GitHubTokenParameterEnv},
		{"/a/b/", "", awsapp.GitHubTokenParameterEnv},
		{"/a/b", "ftp://github.example", awsapp.GitHubAPIURLEnv},
		{"/a/b", "https://", awsapp.GitHubAPIURLEnv},
	} {
		if _, err := awsapp.GitHubCommits(aws.Config{}, tc.param, tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("GitHubCommits(%q, %q): %v, want an error naming %s", tc.param, tc.url, err, tc.want)
		}
	}
}
