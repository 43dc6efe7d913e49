package ledger

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestDecodeCursor: a cursor names a place in the list being read, and anything else is Invalid.
func TestDecodeCursor(t *testing.T) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	q := Query{Table: State, PK: "project#p", Prefix: deployPrefix}
	idx := Query{Table: Releases, Index: ReleasesIndex, PK: "p"}
	tests := []struct {
		name   string
		q      Query
		cursor string
		ok     bool
	}{
		{"empty", q, "", true},
		{"good", q, enc(map[string]string{"pk": "project#p", "sk": "deploy#01X"}), true},
		{"as encoded", q, encodeCursor(q, Key{Table: State, PK: "project#p", SK: "deploy#01X"}), true},
		{"index, good", idx, enc(map[string]string{"project_id": "p", "release_id": "01R"}), true},
		{"index, as encoded", idx, encodeCursor(idx, Key{Table: Releases, PK: "01R"}), true},
		{"not base64", q, "***", false},
		{"standard base64 padding", q, enc(map[string]string{"pk": "project#p", "sk": "deploy#01X"}) + "==", false},
		{"not JSON", q, enc("x")[:2] + "AA", false},
		{"JSON array", q, enc([]string{"pk", "sk"}), false},
		{"number value", q, enc(map[string]any{"pk": "project#p", "sk": 1}), false},
		{"missing attribute", q, enc(map[string]string{"pk": "project#p"}), false},
		{"extra attribute", q, enc(map[string]string{"pk": "project#p", "sk": "deploy#01X", "x": "y"}), false},
		{"empty value", q, enc(map[string]string{"pk": "project#p", "sk": ""}), false},
		{"another project", q, enc(map[string]string{"pk": "project#q", "sk": "deploy#01X"}), false},
		{"bare prefix", q, enc(map[string]string{"pk": "project#p", "sk": "deploy#"}), false},
		{"another list", q, enc(map[string]string{"pk": "project#p", "sk": "env#stage"}), false},
		{"nested key", q, enc(map[string]string{"pk": "project#p", "sk": "deploy#a#b"}), false},
		{"index, another project", idx, enc(map[string]string{"project_id": "q", "release_id": "01R"}), false},
		{"index, a state cursor", idx, enc(map[string]string{"pk": "project#p", "sk": "deploy#01X"}), false},
		{"state, an index cursor", q, enc(map[string]string{"project_id": "p", "release_id": "01R"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeCursor(tt.q, tt.q.Prefix, tt.cursor)
			if tt.ok && err != nil {
				t.Errorf("decodeCursor(%q): got %v, want no error", tt.cursor, err)
			}
			if !tt.ok && !shiplog.IsKind(err, shiplog.Invalid) {
				t.Errorf("decodeCursor(%q): got %v, want Invalid", tt.cursor, err)
			}
		})
	}
}
