package awsecr_test

// BenchmarkDeployImages measures the ECR part of a deploy against moto (issue 12, goal 2): the
// check that a release's images still exist, and for a project with tag_deployed_images where
// its tag is (in the same call) and the tagging after it. The floor is one BatchGetImage per
// repository, one PutImage per repository whose tag moves, and, over a repository per service,
// no more calls in series than over one repository. Each call is held for a simulated round trip, as a Lambda in the region
// would wait for ECR, so that the wall time shows which calls run in series; moto itself answers
// in a millisecond or two.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/localaws"
)

const (
	// simulatedRTT is how long each ECR call is held before moto gets it.
	simulatedRTT = 30 * time.Millisecond
	// benchReps is how many times each case runs; the wall time is their median.
	benchReps = 5
)

func BenchmarkDeployImages(b *testing.B) {
	p := &probe{delay: simulatedRTT}
	f := newFixture(b, p.option())
	const services = 10
	// One repository that feeds all the services, and one repository per service, as in the
	// README's examples; each with two images per service, a and b, to deploy in turn.
	one := f.createRepo(b, "one", localaws.Region)
	var oneA, manyA, manyB []string
	for i := range services {
		oneA = append(oneA, f.push(b, one, localaws.Region, dockerV2, 1000+i, fmt.Sprintf("a%d", i)))
		repo := f.createRepo(b, fmt.Sprintf("svc-%02d", i), localaws.Region)
		manyA = append(manyA, f.push(b, repo, localaws.Region, dockerV2, 3000+i, "a"))
		manyB = append(manyB, f.push(b, repo, localaws.Region, dockerV2, 4000+i, "b"))
	}
	single := f.createRepo(b, "single", localaws.Region)
	singleA := []string{f.push(b, single, localaws.Region, dockerV2, 5000, "a")}
	singleB := []string{f.push(b, single, localaws.Region, dockerV2, 5001, "b")}

	check := func(images []string) func(int) error {
		return func(int) error {
			missing, err := f.reg.MissingImages(b.Context(), images)
			if err == nil && len(missing) > 0 {
				err = fmt.Errorf("missing %v", missing)
			}
			return err
		}
	}
	// deploy is what shiplog's deploy of a project with tag_deployed_images asks of ECR: the
	// check, which says where the tag is too, then the tags that move. With move, each run
	// deploys the other of two releases, so every tag moves.
	deploy := func(a, b2 []string, move bool) func(int) error {
		return func(rep int) error {
			images := a
			if move && rep%2 == 1 {
				images = b2
			}
			c, err := f.reg.CheckImages(b.Context(), images, "env.bench")
			if err == nil && len(c.Missing) > 0 {
				err = fmt.Errorf("missing %v", c.Missing)
			}
			if err != nil || len(c.Untagged) == 0 {
				return err
			}
			return f.reg.TagImages(b.Context(), c.Untagged, "env.bench")
		}
	}

	type result struct {
		reads, writes float64
		inFlight      int
		series        float64 // calls in series per run
		wall          time.Duration
	}
	run := func(name string, prepare, op func(int) error) result {
		if prepare != nil {
			if err := prepare(0); err != nil {
				b.Fatalf("%s, before: %v", name, err)
			}
		}
		var walls []time.Duration
		f.calls.Reset()
		p.reset()
		series, inFlight := 0, 0
		for rep := range benchReps {
			p.reset()
			started := time.Now()
			if err := op(rep); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			walls = append(walls, time.Since(started))
			series = max(series, p.inSeries())
			inFlight = max(inFlight, p.maxFlight)
		}
		counts := f.calls.Counts()
		return result{
			reads:    float64(counts["ecr:BatchGetImage"]) / benchReps,
			writes:   float64(counts["ecr:PutImage"]) / benchReps,
			inFlight: inFlight,
			series:   float64(series),
			wall:     slices.Sorted(slices.Values(walls))[benchReps/2],
		}
	}

	type row struct {
		name                   string
		repos                  int
		floorReads, floorWrite int
		res, base              result
		wallVerdict            bool
	}
	var rows []row
	add := func(name string, repos, floorReads, floorWrites int, res, base result, wallVerdict bool) {
		rows = append(rows, row{name, repos, floorReads, floorWrites, res, base, wallVerdict})
	}
	checkOne := run("check, 1 repository", nil, check(oneA))
	add("check", 1, 1, 0, checkOne, checkOne, false)
	add("check", services, services, 0, run("check, a repository each", nil, check(manyA)), checkOne, true)

	redeployOne := run("redeploy, 1 repository", deploy(singleA, nil, false), deploy(singleA, nil, false))
	add("tagged redeploy", 1, 1, 0, redeployOne, redeployOne, false)
	add("tagged redeploy", services, services, 0,
		run("redeploy, a repository each", deploy(manyA, nil, false), deploy(manyA, nil, false)), redeployOne, true)

	moveOne := run("deploy moving the tag, 1 repository", nil, deploy(singleA, singleB, true))
	add("tagged deploy", 1, 1, 1, moveOne, moveOne, false)
	add("tagged deploy", services, services, services,
		run("deploy moving the tags, a repository each", nil, deploy(manyA, manyB, true)), moveOne, true)

	for b.Loop() {
	}
	var lines, over []string
	for _, r := range rows {
		ratio := float64(r.res.wall) / float64(r.base.wall)
		var bad []string
		if r.res.reads > float64(r.floorReads) {
			bad = append(bad, fmt.Sprintf("%g reads > %d", r.res.reads, r.floorReads))
		}
		if r.res.writes > float64(r.floorWrite) {
			bad = append(bad, fmt.Sprintf("%g writes > %d", r.res.writes, r.floorWrite))
		}
		if r.wallVerdict && r.res.series > r.base.series {
			bad = append(bad, fmt.Sprintf("%g calls in series > %g over one repository", r.res.series, r.base.series))
		}
		verdict := "floor reached"
		if len(bad) > 0 {
			verdict = "OVER: " + strings.Join(bad, "; ")
			over = append(over, fmt.Sprintf("%s over %d repositories: %s", r.name, r.repos, strings.Join(bad, "; ")))
		}
		vs := "-"
		if r.repos > 1 {
			vs = fmt.Sprintf("%.2fx", ratio)
		}
		b.ReportMetric(r.res.reads, fmt.Sprintf("%s-%d-BatchGetImage/op", strings.ReplaceAll(r.name, " ", "-"), r.repos))
		b.ReportMetric(r.res.writes, fmt.Sprintf("%s-%d-PutImage/op", strings.ReplaceAll(r.name, " ", "-"), r.repos))
		lines = append(lines, fmt.Sprintf("%-15s  %5d  %5g/%-3d  %5g/%-3d  %9d  %6g  %7.0f  %6s  %s", r.name, r.repos,
			r.res.reads, r.floorReads, r.res.writes, r.floorWrite, r.res.inFlight, r.res.series, float64(r.res.wall)/float64(time.Millisecond), vs, verdict))
	}
	// Nine lines: the testing package prints no more of a benchmark's log.
	b.Logf("ECR calls of a deploy of %d services, moto, each call held %s; series: calls waited for one after another (goal: as over 1 repository); wall: median of %d\n"+
		"%-15s  %5s  %9s  %9s  %9s  %6s  %7s  %6s  %s\n%s\n"+
		"reads: BatchGetImage, one per repository, by digest and by tag at once; writes: PutImage where a tag moves (manifest as read); moto answers one call at a time",
		services, simulatedRTT, benchReps, "case", "repos", "reads/flr", "write/flr", "in flight", "series", "wall ms", "vs", "verdict", strings.Join(lines, "\n"))
	if len(over) > 0 {
		b.Fatalf("above the floor:\n  %s", strings.Join(over, "\n  "))
	}
}
