package hostile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The classes of answer a hostile request may get.
const (
	invalid  = "Invalid"  // 400 (or the status the case names) / errorType Invalid
	notFound = "NotFound" // 404 / errorType NotFound
	conflict = "Conflict" // 409 / errorType Conflict
	// gone is a retired route's answer to whatever reaches it: 410, of kind NotFound, naming the
	// route that replaced it (HTTP only).
	gone = "Gone"
	// ignored is a platform event's answer when it changes nothing: a success whose outcome says
	// why (EventBridge would retry an error forever).
	ignored = "ignored"
)

// hostileCase is one hostile request, on the HTTP API (route set) or the Invoke API (fn set),
// and the answer it must get. Nothing it sends may change the store.
type hostileCase struct {
	name string
	// HTTP: the route the request aims at (a key of httpapi.Routes), even when its path is too
	// mangled for the router to say so; method and target (path and query, as sent).
	route  string
	method string
	target string
	// Invoke: the function (or the Invoke API's own path, in target, with fn "").
	fn     string
	header http.Header
	body   string
	anon   bool   // no caller identity
	only   string // "local" or "api": the one HTTP front it applies to (a header only the local stack reads)
	// want is the class; status, if set, the exact HTTP status (401, 405, 413, a service error's).
	want   string
	status int
	msg    string // a fragment of the error message, where the reason for the refusal matters
	// generated marks the cases derived from the route table rather than written for the route.
	generated bool
}

// minWritten is how many cases written by hand each route and each function must have, besides
// the ones derived from the route table: a new route or function fails the test until someone
// writes its hostile cases.
const minWritten = 3

// fullReadEvery is how often the store is read whole on a store whose clients' calls are seen
// (writeCalls); after every request otherwise, and after any request that made a call that could
// write.
const fullReadEvery = 20

// minCases is issue 16's bar for the table.
const minCases = 250

func TestHostileInput(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			ids := seed(t, s)
			cases := append(writtenCases(ids), routeCases(ids)...)
			checkCoverage(t, cases, s.functions)
			for _, rt := range httpapi.Routes {
				if _, ok := validBodies(ids)[rt.Key()]; !ok && (rt.Method == http.MethodPost || rt.Method == http.MethodPut) {
					t.Errorf("route %s has no entry in validBodies: its generated cases need a body it would take", rt.Key())
				}
			}
			before := s.state(t)
			if len(before) == 0 {
				t.Fatal("the seeded store reads as empty")
			}
			tally := map[string]int{}
			requests := 0
			for _, c := range cases {
				fronts := []string{""}
				if c.route != "" {
					fronts = []string{"local", "api"}
					if c.only != "" {
						fronts = []string{c.only}
					}
				}
				for _, front := range fronts {
					name := c.name
					if front != "" {
						name = front + "/" + name
					}
					tally[channelOf(c)]++
					t.Run(name, func(t *testing.T) {
						calls := s.runtime.calls.Load()
						requests++
						if s.writeCalls != nil {
							s.writeCalls() // forget the calls of the previous case's reads
						}
						// Deferred, so that it runs after a failed check too.
						defer func() {
							full := true
							if s.writeCalls != nil {
								calls := s.writeCalls()
								if len(calls) > 0 {
									t.Logf("the refused request made calls that could write: %v", calls)
								}
								full = len(calls) > 0 || requests%fullReadEvery == 0
							}
							if !full {
								return
							}
							if after := s.state(t); !maps.Equal(before, after) {
								t.Errorf("WRITE FROM A REFUSED REQUEST: the store changed (-before +after):\n%s", cmp.Diff(before, after))
								before = after
							}
							if n := s.runtime.calls.Load() - calls; n > 0 && c.want != ignored {
								t.Errorf("the request asked ECS %d times before it was refused", n)
							}
						}()
						c.check(t, s.do(t, c, front))
					})
				}
			}
			if after := s.state(t); !maps.Equal(before, after) {
				t.Errorf("WRITE FROM A REFUSED REQUEST: the store changed since the last full read (-before +after):\n%s", cmp.Diff(before, after))
			}
			t.Logf("%d cases, %d requests: %v", len(cases), sum(tally), tally)
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func channelOf(c hostileCase) string {
	if c.route != "" {
		return "http"
	}
	return "invoke"
}

// result is what a request got, whichever channel.
type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends the case's request on its channel: the local stack's HTTP API, the api function's, or
// the local Invoke API.
func (s *stack) do(t *testing.T, c hostileCase, front string) result {
	t.Helper()
	method, target := c.method, c.target
	if c.fn != "" {
		method, target = http.MethodPost, "/2015-03-31/functions/"+c.fn+"/invocations"
	}
	if method == "" {
		method = http.MethodPost
	}
	header := http.Header{}
	for k, vs := range c.header {
		header[k] = vs
	}
	if front == "api" {
		path, query, _ := strings.Cut(target, "?")
		code, h, body := s.api(context.Background(), apiRequest{method: method, rawPath: path, rawQuery: query, header: header, body: []byte(c.body), identity: !c.anon})
		return result{status: code, header: h, body: body}
	}
	r := httptest.NewRequest(method, target, strings.NewReader(c.body))
	r.Header = header
	if front == "local" && !c.anon && r.Header.Get(httpapi.UserHeader) == "" {
		r.Header.Set(httpapi.UserHeader, "alice")
	}
	w := httptest.NewRecorder()
	if c.route != "" {
		s.local.ServeHTTP(w, r)
	} else {
		s.invoke.ServeHTTP(w, r)
	}
	return result{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// check holds the answer to the case's class.
func (c hostileCase) check(t *testing.T, res result) {
	t.Helper()
	switch {
	case res.status >= 500 || res.status == 0:
		t.Fatalf("5xx: got %d, want a refusal (%s): %s", res.status, c.want, clip(res.body))
	case res.status < 300 && res.header.Get("X-Amz-Function-Error") == "" && c.want != ignored:
		t.Fatalf("WRONGLY ACCEPTED: got %d, want a refusal (%s): %s", res.status, c.want, clip(res.body))
	case res.status >= 300 && res.status < 400:
		t.Fatalf("got %d (Location %q), want a refusal (%s)", res.status, res.header.Get("Location"), c.want)
	}
	if c.route != "" {
		c.checkHTTP(t, res)
		return
	}
	c.checkInvoke(t, res)
}

func (c hostileCase) checkHTTP(t *testing.T, res result) {
	t.Helper()
	want, kind := c.status, c.want
	if c.want == gone {
		want, kind = http.StatusGone, notFound
	}
	if want == 0 {
		want = httpapi.StatusOf(kindOf(c.want))
	}
	var body httpapi.ErrorBody
	if err := strictDecode(res.body, &body); err != nil || body.Error.Kind == "" || body.Error.Message == "" {
		t.Fatalf("got %d %s, not the API's JSON error: %s", res.status, clip(res.body), errText(err))
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	if res.status != want || body.Error.Kind != kind {
		t.Errorf("got %d %s, want %d %s (%s): %s", res.status, body.Error.Kind, want, kind, c.want, body.Error.Message)
	}
	if c.msg != "" && !strings.Contains(body.Error.Message, c.msg) {
		t.Errorf("message %q does not say %q", body.Error.Message, c.msg)
	}
}

func (c hostileCase) checkInvoke(t *testing.T, res result) {
	t.Helper()
	if c.fn == "" { // the Invoke API's own error: a status and Lambda's error type
		if res.status != c.status || res.header.Get("X-Amzn-ErrorType") != c.want {
			t.Errorf("got %d %q, want %d %q: %s", res.status, res.header.Get("X-Amzn-ErrorType"), c.status, c.want, clip(res.body))
		}
		return
	}
	if c.want == ignored {
		if res.status != http.StatusOK || res.header.Get("X-Amz-Function-Error") != "" {
			t.Fatalf("got %d %s, want the event answered as ignored", res.status, clip(res.body))
		}
		var out struct {
			Ignored      string `json:"ignored"`
			Environments []struct {
				Ignored string `json:"ignored"`
			} `json:"environments"`
		}
		if err := json.Unmarshal(res.body, &out); err != nil {
			t.Fatalf("answer %s: %v", clip(res.body), err)
		}
		all := out.Ignored != "" || len(out.Environments) > 0
		for _, e := range out.Environments {
			all = all && e.Ignored != ""
		}
		if !all {
			t.Errorf("WRONGLY ACCEPTED: the event was taken: %s", clip(res.body))
		}
		if c.msg != "" && !bytes.Contains(res.body, []byte(c.msg)) {
			t.Errorf("answer %s does not say %q", clip(res.body), c.msg)
		}
		return
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := strictDecode(res.body, &fe); err != nil || res.header.Get("X-Amz-Function-Error") == "" {
		t.Fatalf("got %d %s, not a function error: %s", res.status, clip(res.body), errText(err))
	}
	if fe.ErrorType != c.want {
		t.Errorf("errorType: got %s, want %s: %s", fe.ErrorType, c.want, fe.ErrorMessage)
	}
	if c.msg != "" && !strings.Contains(fe.ErrorMessage, c.msg) {
		t.Errorf("errorMessage %q does not say %q", fe.ErrorMessage, c.msg)
	}
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// checkCoverage fails the test unless every route of the route table and every function the
// Invoke API serves has at least minWritten cases written for it, every case names a route or a
// function that exists, and the table has at least minCases cases.
func checkCoverage(t *testing.T, cases []hostileCase, functions []string) {
	t.Helper()
	written := map[string]int{}
	total := map[string]int{}
	routes := map[string]bool{}
	for _, rt := range httpapi.Routes {
		routes[rt.Key()] = true
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Errorf("case %q: the name is used twice", c.name)
		}
		names[c.name] = true
		var k string
		switch {
		case c.route != "":
			if !routes[c.route] {
				t.Errorf("case %q: route %q is not in httpapi.Routes", c.name, c.route)
			}
			k = c.route
		case c.fn != "":
			if !slices.Contains(functions, c.fn) {
				t.Errorf("case %q: function %q is not one the Invoke API serves (%v)", c.name, c.fn, functions)
			}
			k = "invoke " + c.fn
		default:
			k = "invoke API"
		}
		total[k]++
		if !c.generated {
			written[k]++
		}
	}
	var missing []string
	for _, rt := range httpapi.Routes {
		if written[rt.Key()] < minWritten {
			missing = append(missing, fmt.Sprintf("%s (%d)", rt.Key(), written[rt.Key()]))
		}
	}
	for _, fn := range functions {
		if written["invoke "+fn] < minWritten {
			missing = append(missing, fmt.Sprintf("function %s (%d)", fn, written["invoke "+fn]))
		}
	}
	if len(missing) > 0 {
		t.Errorf("these have fewer than %d hostile cases written for them; add some to writtenCases:\n%s", minWritten, strings.Join(missing, "\n"))
	}
	if len(cases) < minCases {
		t.Errorf("%d cases, want at least %d", len(cases), minCases)
	}
	for _, k := range slices.Sorted(maps.Keys(total)) {
		t.Logf("%-80s %3d cases (%d written)", k, total[k], written[k])
	}
}

var wildcard = regexp.MustCompile(`\{([a-z]+)\}`)

// pathValues are the seeded ids each wildcard takes where another wildcard is the hostile one:
// together, a path each route would act on (stage-window is stage's own freeze, which
// .../environments/stage/freezes/{freeze} may change).
func pathValues(ids seeded) map[string]string {
	return map[string]string{
		"project": project, "environment": "stage", "release": ids.r1, "deployment": ids.d4,
		"freeze": stageFreeze, "label": "latest",
	}
}

// validBodies are bodies each write route would take at the seeded values, so that a generated
// case is refused for its path alone.
func validBodies(ids seeded) map[string]string {
	return map[string]string{
		"PUT /projects/{project}":                                                             bugfarmEntry,
		"POST /projects/{project}/releases":                                                   `{}`,
		"POST /projects/{project}/environments/{environment}/deployments":                     fmt.Sprintf(`{"release_id": %q}`, ids.r1),
		"POST /projects/{project}/deployments/{deployment}/verify":                            ``,
		"POST /projects/{project}/deployments/{deployment}/status":                            `{"status": "verified"}`,
		"POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify": ``,
		"POST /projects/{project}/environments/{environment}/deployments/{deployment}/status": `{"status": "verified"}`,
		"PUT /projects/{project}/environments/{environment}/freezes/{freeze}":                 fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "release train"}`, now.Unix()+3600, now.Unix()+7200),
		"POST /projects/{project}/environments/{environment}/emergency-deployments":           fmt.Sprintf(`{"release_id": %q, "reason": "hotfix"}`, ids.r1),
		"PUT /projects/{project}/environments/{environment}/lock":                             `{"reason": "maintenance"}`,
		"POST /projects/{project}/environments/{environment}/rollback":                        `{"reason": "bad release"}`,
		"POST /projects/{project}/environments/{environment}/approvals":                       fmt.Sprintf(`{"release_id": %q}`, ids.r1),
		"PUT /projects/{project}/freezes/{freeze}":                                            fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "release train"}`, now.Unix()+3600, now.Unix()+7200),
	}
}

// validQueries are the query strings each read route needs at the seeded values, so that a
// generated case is refused for its path alone.
func validQueries(ids seeded) map[string]string {
	return map[string]string{
		"GET /projects/{project}/diff":                                    "from=environment:stage&to=environment:prod",
		"GET /projects/{project}/metrics":                                 "environment=prod",
		"GET /projects/{project}/releases/{release}/approvals":            "environment=prod",
		"DELETE /projects/{project}/environments/{environment}/approvals": "release_id=" + ids.r1,
	}
}

// hostileSegments are path segments refused wherever a wildcard is, before any route runs or by
// the id rules: traversal, percent-encoding (which ServeMux would decode before routing), format
// and control characters, and ids no rule allows. routed marks the segments the router lets
// through to the route's handler (which refuses them by the id rules): on a retired route, they
// get its 410 instead.
var hostileSegments = []struct {
	name, seg string
	routed    bool
}{
	{"dot-dot", "..", false},
	{"dot", ".", false},
	{"encoded dot-dot", "%2e%2e", false},
	{"encoded letter", "pro%64", false},
	{"encoded slash", "a%2Fb", false},
	{"encoded NUL", "a%00", false},
	{"RLO", "abc\u202edorp", false},
	{"zero-width space", "st\u200bage", false},
	{"129 characters", strings.Repeat("a", 129), true},
	{"colon", "a:b", true},
	{"double dot inside", "a..b", true},
}

// routeCases derives cases from the route table, so that a new route gets them with no change
// here: each wildcard replaced by each hostile segment, by an empty segment and by an id that is
// not there (or is another project's), and for each route an unknown query parameter, a method
// it does not take, and (for writes) no caller identity. On a retired route, every request the
// router hands to it must get its 410 (gone); those the router refuses first (an unclean or
// encoded path, a method no route at the path takes) keep the router's answer.
func routeCases(ids seeded) []hostileCase {
	values := pathValues(ids)
	bodies := validBodies(ids)
	// Ids that exist nowhere or only in the other project: NotFound, where a request for them is
	// not a valid create.
	unknown := map[string][]struct{ name, id string }{
		"project":     {{"unknown project", "nosuch"}, {"project in capitals", "BUGFARM"}},
		"environment": {{"unknown environment", "prd"}},
		"release":     {{"unknown release", "01JHOSTILE9999999999999999"}, {"release of another project", ids.r3}},
		"deployment":  {{"unknown deployment", "01JHOSTILE9999999999999999"}, {"deployment of another project", ids.d3}},
		"freeze":      {{"unknown freeze", "nosuch"}, {"freeze of another project", "audit"}},
	}
	var out []hostileCase
	for _, rt := range httpapi.Routes {
		key := rt.Key()
		query := ""
		if v, ok := validQueries(ids)[key]; ok {
			query = "?" + v
		}
		fill := func(except, with string) string {
			return wildcard.ReplaceAllStringFunc(rt.Path, func(m string) string {
				name := m[1 : len(m)-1]
				if name == except {
					return with
				}
				return values[name]
			}) + query
		}
		successor, retired := retiredRoutes[key]
		// routed adds a case whose request reaches the route's handler.
		routed := func(c hostileCase) hostileCase {
			if retired {
				c.want, c.status, c.msg = gone, 0, "use "+successor
			}
			return c
		}
		add := func(c hostileCase) {
			c.route, c.generated = key, true
			if c.method == "" {
				c.method = rt.Method
			}
			if c.body == "" && c.method == rt.Method {
				c.body = bodies[key]
			}
			c.name = key + ": " + c.name
			out = append(out, c)
		}
		for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
			w := m[1]
			for _, h := range hostileSegments {
				c := hostileCase{name: "{" + w + "} " + h.name, target: fill(w, h.seg), want: invalid}
				if h.routed {
					c = routed(c)
				}
				add(c)
			}
			// An empty segment: refused inside the path; at its end, no route has it.
			if strings.HasSuffix(rt.Path, "{"+w+"}") {
				add(hostileCase{name: "{" + w + "} empty", target: fill(w, ""), want: notFound})
			} else {
				add(hostileCase{name: "{" + w + "} empty", target: fill(w, ""), want: invalid})
			}
			for _, u := range unknown[w] {
				// PUT creates what it names; another project's freeze id is this project's new one.
				if rt.Method == http.MethodPut && strings.HasSuffix(rt.Path, "{"+w+"}") {
					continue
				}
				add(routed(hostileCase{name: "{" + w + "} " + u.name, target: fill(w, u.id), want: notFound}))
			}
		}
		target := fill("", "")
		sep := "?"
		if query != "" {
			sep = "&"
		}
		add(routed(hostileCase{name: "unknown query parameter", target: target + sep + "debug=1", want: invalid}))
		add(hostileCase{name: "method it does not take", method: http.MethodPatch, target: target, want: invalid, status: http.StatusMethodNotAllowed})
		if rt.Method != http.MethodGet {
			add(routed(hostileCase{name: "no caller identity", target: target, anon: true, want: invalid, status: http.StatusUnauthorized}))
		}
	}
	return out
}

// kindOf is the shiplog.Kind a class names.
func kindOf(class string) shiplog.Kind {
	for _, k := range []shiplog.Kind{shiplog.Invalid, shiplog.NotFound, shiplog.Conflict} {
		if k.String() == class {
			return k
		}
	}
	return shiplog.Internal
}
