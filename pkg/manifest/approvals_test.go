package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestParseApprovals: an environment's approvals, as docs/approvals.md shows them, and what is
// refused, each problem named by its path.
func TestParseApprovals(t *testing.T) {
	entry := func(approvals string) string {
		return `{"name": "Storage", "environments": [{"id": "stage"}, {"id": "prod", "approvals": ` + approvals + `}], "image_repositories": [{"id": "storage/web"}]}`
	}
	for _, tt := range []struct {
		name, approvals string
		want            *shiplog.Approvals
	}{
		{"the docs' example", `{"required": 2, "from": ["alice", "bob", "arn:aws:iam::123456789012:user/carol"], "self_approval": false}`,
			&shiplog.Approvals{Required: 2, From: []string{"alice", "bob", "arn:aws:iam::123456789012:user/carol"}}},
		{"anyone", `{"required": 1}`, &shiplog.Approvals{Required: 1}},
		{"self approval", `{"required": 1, "from": ["alice"], "self_approval": true}`, &shiplog.Approvals{Required: 1, From: []string{"alice"}, SelfApproval: true}},
		{"null", `null`, nil},
	} {
		p, err := ParseProject("storage", []byte(entry(tt.approvals)))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if d := cmp.Diff(tt.want, p.Environments[1].Approvals); d != "" {
			t.Errorf("%s: (-want +got)\n%s", tt.name, d)
		}
	}
	for _, tt := range []struct {
		name, approvals, want string
	}{
		{"required missing", `{"from": ["alice"]}`, "storage.environments[1].approvals.required: is required"},
		{"zero", `{"required": 0}`, "storage.environments[1].approvals.required: 0 must be at least 1"},
		{"more than from", `{"required": 3, "from": ["alice", "bob"]}`, "storage.environments[1].approvals.required: 3 is more than the 2 people of from"},
		{"a misspelt field", `{"required": 1, "selfapproval": true}`, "selfapproval"},
		{"not a number", `{"required": "2"}`, "storage.environments[1].approvals.required"},
		{"a fraction", `{"required": 1.5}`, "storage.environments[1].approvals.required"},
		{"a blank id", `{"required": 1, "from": [" "]}`, "storage.environments[1].approvals.from[0]"},
		{"a duplicate", `{"required": 1, "from": ["alice", "alice"]}`, `storage.environments[1].approvals.from[1]: "alice" is listed twice`},
		{"not an object", `2`, "storage.environments[1].approvals"},
	} {
		_, err := ParseProject("storage", []byte(entry(tt.approvals)))
		if err == nil || shiplog.KindOf(err) != shiplog.Invalid || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want Invalid containing %q", tt.name, err, tt.want)
		}
	}
}
