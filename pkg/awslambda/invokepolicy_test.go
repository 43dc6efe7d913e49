package awslambda_test

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
)

func TestParseInvokePolicy(t *testing.T) {
	tests := []struct {
		name, allow, privileged string
		wantAllow, wantPriv     string // the policy written back in the parameters' form
		wantErr                 string
	}{
		{name: "empty allows nothing"},
		{name: "pairs", allow: "storage/stage,catalogue_pipeline/stage", wantAllow: "storage/stage,catalogue_pipeline/stage"},
		{name: "wildcards", allow: "*/stage,storage/*", wantAllow: "*/stage,storage/*"},
		{name: "privileges, a repeat once", privileged: "report,manifest,report", wantPriv: "report,manifest"},
		{name: "every privilege", privileged: "override_reason,hold,report,manifest", wantPriv: "override_reason,hold,report,manifest"},
		{name: "no slash", allow: "storage", wantErr: `entry "storage": want project/environment`},
		{name: "empty entry", allow: "storage/stage,", wantErr: `entry "": want project/environment`},
		{name: "space", allow: "storage/stage, storage/prod", wantErr: `entry " storage/prod"`},
		{name: "empty environment", allow: "storage/", wantErr: "environment: is required"},
		{name: "glob is not a wildcard", allow: "storage/st*", wantErr: "environment: \"st*\" may contain only"},
		{name: "two slashes", allow: "storage/stage/x", wantErr: "environment: \"stage/x\" may contain only"},
		{name: "unknown privilege", privileged: "report,break-glass", wantErr: `invoke privilege "break-glass": want some of override_reason,hold,report,manifest`},
		{name: "privilege in the wrong case", privileged: "Report", wantErr: `invoke privilege "Report"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := awslambda.ParseInvokePolicy(tt.allow, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.AllowList(); got != tt.wantAllow {
				t.Errorf("AllowList: got %q, want %q", got, tt.wantAllow)
			}
			if got := p.PrivilegeList(); got != tt.wantPriv {
				t.Errorf("PrivilegeList: got %q, want %q", got, tt.wantPriv)
			}
		})
	}
}

// TestAllowAllRoundTrips: the local stack's default flags are AllowAll written out, and read back
// they are AllowAll again.
func TestAllowAllRoundTrips(t *testing.T) {
	all := awslambda.AllowAll()
	p, err := awslambda.ParseInvokePolicy(all.AllowList(), all.PrivilegeList())
	if err != nil {
		t.Fatal(err)
	}
	if p.AllowList() != "*/*" || p.PrivilegeList() != "override_reason,hold,report,manifest" {
		t.Errorf("got %q and %q, want */* and every privilege", p.AllowList(), p.PrivilegeList())
	}
}
