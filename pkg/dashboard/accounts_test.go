package dashboard_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// places is where the environments of another account live, for the dashboard's tests: a
// parameter store per placement and, for prod's, a replica registry that has what have says.
type places struct {
	mu     sync.Mutex
	params map[shiplog.Placement]*memstore.Store
	have   map[string]bool
}

func (p *places) Parameters(_ context.Context, at shiplog.Placement, _ string) (shiplog.ParameterStore, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.params[at] == nil {
		p.params[at] = memstore.New()
	}
	return p.params[at], nil
}

func (p *places) Runtime(context.Context, shiplog.Placement, string) (shiplog.Runtime, error) {
	return nil, nil
}

func (p *places) Registry(context.Context, shiplog.Placement, string) (shiplog.Registry, error) {
	return p, nil
}

func (p *places) CheckImages(_ context.Context, images []string, _ string) (shiplog.ImageCheck, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c shiplog.ImageCheck
	for _, im := range images {
		if !p.have[im] {
			c.Missing = append(c.Missing, im)
		}
	}
	return c, nil
}

func (p *places) TagImages(context.Context, []string, string) error { return nil }

func (p *places) replicate(images ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, im := range images {
		p.have[im] = true
	}
}

const accountsManifest = `{
  "accounts": {
    "name": "Across accounts",
    "environments": [{"id": "stage", "name": "Staging"},
      {"id": "prod", "name": "Production", "requires": ["stage"], "role_arn": "arn:aws:iam::333333333333:role/shiplog", "region": "us-east-1"}],
    "image_repositories": [{"id": "team/archivist"}, {"id": "team/notifier"}]
  }
}`

// TestMatrixMarksImagesNotReplicated: prod lives in another account and region and pulls from a
// replica there. The image stage runs that prod's replica lacks (what promoting stage to prod
// would bring) is marked in prod's column, with a title saying what is missing and where it was
// looked for; an image replicated is not marked; once replicated, the mark goes.
func TestMatrixMarksImagesNotReplicated(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	svc := shiplog.NewService(store, store, nil, nil)
	svc.Home = shiplog.Location{Account: "123456789012", Region: "eu-west-1"}
	pl := &places{params: map[shiplog.Placement]*memstore.Store{}, have: map[string]bool{}}
	svc.Places = pl
	ctx := context.Background()
	projects, err := manifest.Parse([]byte(accountsManifest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatalf("register: %v", err)
	}
	at := time.Now().Add(-time.Hour)
	push := func(repo string, n int) {
		t.Helper()
		at = at.Add(time.Minute)
		if _, err := svc.RecordPush(ctx, shiplog.ImagePush{Account: "123456789012", Region: "eu-west-1", Repository: repo,
			Digest: digest(n), Tag: fmt.Sprintf("v%d", n), Action: "PUSH", Result: "SUCCESS", Time: at}); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}
	release := func() shiplog.Release {
		t.Helper()
		r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "accounts", RequestedBy: ci})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	deploy := func(r shiplog.Release, env string) {
		t.Helper()
		res, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "accounts", ReleaseID: r.ID, Environment: env, RequestedBy: ci})
		if err != nil {
			t.Fatalf("deploy %s to %s: %v", r.ID, env, err)
		}
		if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "accounts", DeploymentID: res.Deployment.ID, Status: shiplog.StatusVerified, By: ci}); err != nil {
			t.Fatal(err)
		}
	}
	replica := func(repo string, n int) string {
		return "333333333333.dkr.ecr.us-east-1.amazonaws.com/" + repo + "@" + digest(n)
	}

	push("team/archivist", 1)
	push("team/notifier", 2)
	r1 := release()
	pl.replicate(replica("team/archivist", 1), replica("team/notifier", 2))
	deploy(r1, "stage")
	deploy(r1, "prod")
	push("team/archivist", 3) // stage gets it; prod's replica does not have it yet
	r2 := release()
	deploy(r2, "stage")

	st := &stack{svc: svc, rel: map[string]string{}}
	st.serve(t, nil)
	tb := newTab(t, st.url)
	tb.open("#/p/accounts")
	tb.wait(`document.querySelector('#matrix td[data-service="archivist"][data-environment="prod"] .mark-unreplicated') !== null`)

	type mark struct {
		Service     string `json:"service"`
		Environment string `json:"environment"`
		Text        string `json:"text"`
		Title       string `json:"title"`
		From        string `json:"from"`
		LookedFor   string `json:"lookedFor"`
	}
	marks := func() []mark {
		return run(tb, chromedp.Evaluate[[]mark](`[...document.querySelectorAll('#matrix td .mark-unreplicated')].map((b) => {
			const td = b.closest('td');
			return { service: td.dataset.service, environment: td.dataset.environment, text: b.textContent, title: b.title, from: b.dataset.from, lookedFor: b.dataset.lookedFor };
		})`))
	}
	got := marks()
	if len(got) != 1 {
		t.Fatalf("marks of unreplicated images: got %+v, want one, on prod's archivist", got)
	}
	m := got[0]
	if m.Service != "archivist" || m.Environment != "prod" || m.From != "stage" || m.LookedFor != replica("team/archivist", 3) {
		t.Errorf("the mark: got %+v, want prod's archivist, stage's image looked for as %s", m, replica("team/archivist", 3))
	}
	for _, part := range []string{"Not replicated yet", r2.Images["archivist"], "333333333333, us-east-1", replica("team/archivist", 3), "ECR replication"} {
		if !strings.Contains(m.Title, part) {
			t.Errorf("the mark's title %q does not say %q", m.Title, part)
		}
	}
	if cls := run(tb, chromedp.Evaluate[string](`document.querySelector('#matrix td[data-service="archivist"][data-environment="prod"]').className`)); !strings.Contains(cls, "is-unreplicated") {
		t.Errorf("prod's archivist cell: class %q, want is-unreplicated", cls)
	}
	if legend := tb.text(".legend"); !strings.Contains(legend, "not replicated") {
		t.Errorf("the legend %q does not explain the mark", legend)
	}

	tb.screenshot("matrix-unreplicated")

	// Replicated: the next look shows no mark.
	pl.replicate(replica("team/archivist", 3))
	tb.open("#/")
	tb.open("#/p/accounts")
	tb.wait(`document.querySelector('#matrix td[data-service="archivist"][data-environment="prod"]') !== null`)
	if got := marks(); len(got) != 0 {
		t.Errorf("after replication: got marks %+v, want none", got)
	}
}
