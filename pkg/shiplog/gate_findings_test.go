package shiplog_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestFindingsGate(t *testing.T) {
	web, worker := image("storage/web", 1), image("storage/worker", 2)
	release := shiplog.Release{ID: "r1", Images: map[string]string{"web": web, "api": web, "worker": worker}}
	env := func(max string, unscanned bool) shiplog.Environment {
		return shiplog.Environment{ID: "prod", MaxFindingSeverity: max, AllowUnscanned: unscanned}
	}
	scanned := func(uri string, counts map[string]int) shiplog.ImageFindings {
		return shiplog.ImageFindings{Image: uri, Status: shiplog.ScanComplete, Counts: counts}
	}
	in := func(e shiplog.Environment, kind string, fs ...shiplog.ImageFindings) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: e, Release: release, Kind: kind, Now: gateNow, Findings: fs}
	}
	clean := scanned(worker, nil)
	unread := in(env("HIGH", false), shiplog.KindDeploy)
	unread.FindingsUnread = "this shiplog has no access to ECR's scan findings"
	runGateCases(t, "findings", []gateCase{
		{name: "no rule", in: in(shiplog.Environment{ID: "prod"}, shiplog.KindDeploy), allow: true, parts: []string{"prod sets no max_finding_severity"}},
		{name: "clean", in: in(env("HIGH", false), shiplog.KindDeploy, scanned(web, map[string]int{}), clean), allow: true,
			parts: []string{"no image of release r1 has findings of HIGH or graver"}},
		{name: "below the limit, said so", in: in(env("HIGH", false), shiplog.KindDeploy, scanned(web, map[string]int{"MEDIUM": 3, "LOW": 1}), clean), allow: true,
			parts: []string{"no image of release r1 has findings of HIGH or graver (below it: api, web (" + web + "): 3 MEDIUM, 1 LOW)"}},
		{name: "at the limit", in: in(env("HIGH", false), shiplog.KindDeploy, scanned(web, map[string]int{"HIGH": 2, "MEDIUM": 3}), clean),
			parts: []string{"release r1 has images with findings of HIGH or graver: api, web (" + web + ") has 2 HIGH", "an emergency deployment passes the findings"}},
		{name: "graver than the limit, every image named", in: in(env("MEDIUM", false), shiplog.KindPromote,
			scanned(web, map[string]int{"CRITICAL": 1, "HIGH": 2, "LOW": 7}), scanned(worker, map[string]int{"MEDIUM": 1})),
			parts: []string{"findings of MEDIUM or graver: api, web (" + web + ") has 1 CRITICAL, 2 HIGH; worker (" + worker + ") has 1 MEDIUM"}},
		{name: "CRITICAL only", in: in(env("CRITICAL", false), shiplog.KindDeploy, scanned(web, map[string]int{"HIGH": 9}), clean), allow: true,
			parts: []string{"findings of CRITICAL (below it: api, web"}},
		{name: "enhanced scanning's untriaged count as undefined", in: in(env("UNDEFINED", false), shiplog.KindDeploy, shiplog.ImageFindings{Image: web, Status: shiplog.ScanActive, Counts: map[string]int{"UNTRIAGED": 2}}, clean),
			parts: []string{"has 2 UNDEFINED"}},
		{name: "no scan refused", in: in(env("HIGH", false), shiplog.KindDeploy, shiplog.ImageFindings{Image: web}, clean),
			parts: []string{"release r1 has images with no completed ECR scan, which storage/prod refuses (allow_unscanned lets them through): api, web (" + web + ") (no scan)"}},
		{name: "a scan in progress refused", in: in(env("HIGH", false), shiplog.KindDeploy, shiplog.ImageFindings{Image: web, Status: "IN_PROGRESS", Detail: "The scan is in progress."}, clean),
			parts: []string{"(IN_PROGRESS: The scan is in progress.)"}},
		{name: "no scan allowed, said so", in: in(env("HIGH", true), shiplog.KindDeploy, shiplog.ImageFindings{Image: web}, clean), allow: true,
			parts: []string{"no image of release r1 has findings of HIGH or graver; allowed unscanned: api, web (" + web + ") (no scan)"}},
		{name: "findings refuse even when unscanned images are allowed", in: in(env("HIGH", true), shiplog.KindDeploy, shiplog.ImageFindings{Image: web}, scanned(worker, map[string]int{"CRITICAL": 1})),
			parts: []string{"worker (" + worker + ") has 1 CRITICAL"}},
		{name: "findings that cannot be read", in: unread,
			parts: []string{"storage/prod refuses images with HIGH or graver findings, and this shiplog has no access to ECR's scan findings, so nothing says release r1's images are clear"}},
		{name: "a rollback goes without a look", in: in(env("HIGH", false), shiplog.KindRollback), allow: true,
			parts: []string{"a rollback returns to images that ran in prod: their findings are not checked"}},
	})
}
