package notify

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestApprovalMessages: an approval and its withdrawal are told as such, by whom, with a link to
// the release.
func TestApprovalMessages(t *testing.T) {
	bob := shiplog.Person{ID: "bob", Name: "Bob", Via: shiplog.ViaAPI}
	for typ, want := range map[string]string{
		shiplog.EventApprovalGranted:   "Release 01JDREL approved for storage/prod",
		shiplog.EventApprovalWithdrawn: "Approval of release 01JDREL for storage/prod withdrawn",
	} {
		m := NewMessage(shiplog.Event{ID: "01JDEV", Type: typ, At: 1_800_000_000, By: bob, ProjectID: "storage", Environment: "prod", ReleaseID: "01JDREL"}, "https://shiplog.example")
		if m.Title != want {
			t.Errorf("%s: title %q, want %q", typ, m.Title, want)
		}
		if len(m.Facts) == 0 || m.Facts[0] != (Fact{"By", "Bob (via the API, authenticated)"}) {
			t.Errorf("%s: facts %+v, want By first", typ, m.Facts)
		}
		if len(m.Links) != 1 || m.Links[0].URL != "https://shiplog.example/#/p/storage/releases/01JDREL" {
			t.Errorf("%s: links %+v, want the release's", typ, m.Links)
		}
	}
}
