package shiplogtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The rules of registration that a store keeps inside its writes, so that no interleaving of
// registrations and deploys breaks them: a repository feeds at most MaxServicesPerRepository
// services over every project, and an environment is never deployed to while unregistered.

// repoProject is a project whose one repository, repo, feeds n services named prefix-0, ....
func repoProject(id, repo, prefix string, n int, envs ...string) shiplog.Project {
	p := newProject(id, envs...)
	p.ImageRepositories = []shiplog.ImageRepository{{ID: repo}}
	for i := range n {
		p.ImageRepositories[0].Services = append(p.ImageRepositories[0].Services, fmt.Sprintf("%s-%d", prefix, i))
	}
	return p
}

// repoServices counts the services a repository feeds, over every project.
func repoServices(t *testing.T, s shiplog.Store, repo string) int {
	t.Helper()
	refs, err := s.RepositoryServices(t.Context(), repo)
	mustOK(t, "RepositoryServices "+repo, err)
	return len(refs)
}

// A registration that would make a repository feed more than MaxServicesPerRepository services
// over every project is refused (Conflict, naming the limit) and writes nothing; one that reaches
// the limit exactly, or stays at it, is accepted.
func testRepositoryLimit(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	const repo = "shared/many"
	limit := shiplog.MaxServicesPerRepository
	putProjects(t, s, repoProject("base", repo, "b", limit-3))
	putProjects(t, s, repoProject("two", repo, "t", 2))
	if n := repoServices(t, s, repo); n != limit-1 {
		t.Fatalf("services of %s: got %d, want %d", repo, n, limit-1)
	}
	over := repoProject("over", repo, "o", 2)
	err := s.PutProject(ctx, over, projectEvent(over))
	wantKind(t, "PutProject past the repository's limit", err, shiplog.Conflict)
	if _, err := s.GetProject(ctx, "over"); !shiplog.IsKind(err, shiplog.NotFound) {
		t.Errorf("GetProject of the refused registration: got %v, want NotFound", err)
	}
	if n := repoServices(t, s, repo); n != limit-1 {
		t.Errorf("services of %s after the refused registration: got %d, want %d", repo, n, limit-1)
	}
	// Growing a project's share of the repository past the limit is refused too; moving it to
	// another repository frees its services; re-registering one at the limit is accepted.
	grown := repoProject("two", repo, "t", 3)
	err = s.PutProject(ctx, grown, projectEvent(grown))
	if err != nil {
		t.Fatalf("PutProject that reaches the limit exactly: %v", err)
	}
	grown = repoProject("two", repo, "t", 4)
	wantKind(t, "PutProject that grows a project past the repository's limit", s.PutProject(ctx, grown, projectEvent(grown)), shiplog.Conflict)
	putProjects(t, s, repoProject("two", "team/elsewhere", "t", 4))
	putProjects(t, s, repoProject("base", repo, "b", limit-3))
	putProjects(t, s, over)
	if n := repoServices(t, s, repo); n != limit-1 {
		t.Errorf("services of %s after moving one project away: got %d, want %d", repo, n, limit-1)
	}
}

// A deploy that read its environment as registered, and records after a registration dropped it,
// is refused (NotFound) and writes nothing.
func testDeployToDroppedEnvironment(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p", "stage", "x")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	dc, err := s.DeployContext(ctx, p.ID, r.ID, "x")
	mustOK(t, "DeployContext", err)
	if _, ok := dc.Project.Environment("x"); !ok {
		t.Fatalf("DeployContext: environment x is not registered")
	}
	putProjects(t, s, newProject("p", "stage"))
	err = s.WriteEnvironment(ctx, newDeployment(p, r, "x", 1, 0))
	wantErr(t, "WriteEnvironment of a deployment to an environment dropped since it was read", err, shiplog.ErrEnvironmentNotFound)
	if st := states(t, s, p.ID); len(st) != 0 {
		t.Errorf("states after the refused deployment: got %+v, want none", st)
	}
	if deps, _ := allDeployments(t, s, p.ID, "", 10); len(deps) != 0 {
		t.Errorf("deployments after the refused deployment: got %d, want none", len(deps))
	}
	// Registered again, x takes deployments again.
	putProjects(t, s, p)
	recordDeployments(t, s, newDeployment(p, r, "x", 2, 0))
}

// A registration that drops an environment deployed to is refused (Conflict) unless it names
// the environment as retired, whatever it was told before: the store checks the environment's
// state in the registration's own write.
func testDropDeployedEnvironment(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p", "stage", "x")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	recordDeployments(t, s, newDeployment(p, r, "x", 1, 0))
	dropped := newProject("p", "stage")
	err := s.PutProject(ctx, dropped, projectEvent(dropped))
	wantKind(t, "PutProject that drops a deployed environment", err, shiplog.Conflict)
	got, err := s.GetProject(ctx, p.ID)
	mustOK(t, "GetProject", err)
	diff(t, "the project after the refused registration", got, p)
	mustOK(t, "PutProject that retires x", s.PutProject(ctx, dropped, projectEvent(dropped), "x"))
	got, err = s.GetProject(ctx, p.ID)
	mustOK(t, "GetProject", err)
	diff(t, "the project after x was retired", got, dropped)
	// Dropped before, x is no drop now.
	again := newProject("p", "prod")
	mustOK(t, "PutProject that drops stage", s.PutProject(ctx, again, projectEvent(again)))
}

// raceRounds is how many rounds each race test runs: a race lost once in five rounds shows
// almost surely.
const raceRounds = 30

// Registrations onto a repository near its limit, all at once: however they interleave, the
// repository ends at or under the limit, each refusal is a Conflict, and every registration
// answered nil is stored.
func testRaceRepositoryLimit(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	const racers = 16
	limit := shiplog.MaxServicesPerRepository
	for round := range raceRounds {
		repo := fmt.Sprintf("race/limit-%d", round)
		putProjects(t, s, repoProject(fmt.Sprintf("base-%d", round), repo, "b", limit-4))
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			p := repoProject(fmt.Sprintf("r%d-%d", round, i), repo, "s", 3)
			wg.Go(func() {
				<-start
				errs[i] = s.PutProject(ctx, p, projectEvent(p))
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !shiplog.IsKind(err, shiplog.Conflict):
				t.Errorf("round %d: registration %d: got %v, want nil or Conflict", round, i, err)
			}
		}
		n := repoServices(t, s, repo)
		if n > limit || n != limit-4+3*won {
			t.Fatalf("round %d: %s feeds %d services after %d of %d registrations won; want %d, at most %d",
				round, repo, n, won, racers, limit-4+3*won, limit)
		}
	}
}

// A first deploy to an environment, at once with a registration that drops it: however they
// interleave, the environment is never left deployed to and unregistered.
func testRaceDeployAndDrop(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	params := NewMemoryParameters()
	svc := shiplog.NewService(params, s, nil, nil)
	svc.DeployWait = Patience(t) // a deploy that lost the race waits its turn, however slow the machine
	deployed, dropped := 0, 0
	for round := range raceRounds {
		p := newProject(fmt.Sprintf("drop-%d", round), "stage", "x")
		putProjects(t, s, p)
		r := newRelease(p, round+1) // release ids are unique across projects
		createReleases(t, s, r)
		var deployErr, registerErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			_, deployErr = svc.Deploy(ctx, shiplog.DeployInput{ProjectID: p.ID, ReleaseID: r.ID, Environment: "x", Description: "first", RequestedBy: bob})
		})
		wg.Go(func() {
			<-start
			_, registerErr = svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{newProject(p.ID, "stage")}})
		})
		close(start)
		wg.Wait()
		got, err := s.GetProject(ctx, p.ID)
		mustOK(t, "GetProject", err)
		_, registered := got.Environment("x")
		var state bool
		for _, st := range states(t, s, p.ID) {
			state = state || st.Environment.ID == "x"
		}
		if state && !registered {
			t.Errorf("round %d: x is deployed to and unregistered (deploy: %v, registration: %v)", round, deployErr, registerErr)
		}
		if (deployErr == nil) != state {
			t.Errorf("round %d: the deploy answered %v, but x has a state: %v", round, deployErr, state)
		}
		if (registerErr == nil) == registered {
			t.Errorf("round %d: the registration answered %v, but x is registered: %v", round, registerErr, registered)
		}
		for _, err := range []error{deployErr, registerErr} {
			if err != nil && !shiplog.IsKind(err, shiplog.Conflict) && !shiplog.IsKind(err, shiplog.NotFound) {
				t.Errorf("round %d: got %v, want nil, Conflict or NotFound", round, err)
			}
		}
		if state {
			deployed++
		}
		if !registered {
			dropped++
		}
	}
	t.Logf("%d rounds: the deploy won %d, the registration %d", raceRounds, deployed, dropped)
}
