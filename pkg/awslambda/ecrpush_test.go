package awslambda_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// archivistURI is the image of testdata/ecr-push-tagged.json, pinned by digest.
const archivistURI = "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/archivist@sha256:3f6c2a9d1b8e4f7a0c5d9e2b1a7f6c3d8e4b2a1f9c7d6e5b4a3c2d1e0f9a8b7c"

// event returns a testdata event with edit applied to its decoded JSON.
func event(t *testing.T, name string, edit func(ev map[string]any)) []byte {
	t.Helper()
	raw := readFile(t, name)
	if edit == nil {
		return raw
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func detail(ev map[string]any) map[string]any { return ev["detail"].(map[string]any) }

// refTagSource is what the sample push's tag, ref.5d2a9c1e7b3f, says of its source.
var refTagSource = shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: shiplog.SourceFromTag}

func TestECRPush(t *testing.T) {
	tests := []struct {
		name       string
		unclaimed  bool // leave the manifest unregistered, so no project claims the repository
		events     [][]byte
		wantParams map[string]string
		want       shiplog.PushOutcome // the outcome of the last event
		wantLog    string
	}{
		{
			name:       "tagged push sets the latest image of the services the repository feeds",
			events:     [][]byte{readFile(t, "ecr-push-tagged.json")},
			wantParams: map[string]string{"/storage/images/latest/archivist": archivistURI},
			want:       shiplog.PushOutcome{Image: archivistURI, Updated: []string{"/storage/images/latest/archivist"}, Source: &refTagSource},
			wantLog:    "push recorded",
		},
		{
			name:       "untagged push is ignored",
			events:     [][]byte{readFile(t, "ecr-push-untagged.json")},
			wantParams: map[string]string{},
			want:       shiplog.PushOutcome{Updated: []string{}, Ignored: "untagged push (one platform's manifest of a multi-platform image)"},
			wantLog:    "push ignored",
		},
		{
			name:       "failed push is ignored",
			events:     [][]byte{readFile(t, "ecr-push-failed.json")},
			wantParams: map[string]string{},
			want:       shiplog.PushOutcome{Updated: []string{}, Ignored: `push result is "FAILURE", not SUCCESS`},
			wantLog:    "push ignored",
		},
		{
			name:       "delete is ignored",
			events:     [][]byte{readFile(t, "ecr-delete.json")},
			wantParams: map[string]string{},
			want:       shiplog.PushOutcome{Updated: []string{}, Ignored: `action is "DELETE", not PUSH`},
			wantLog:    "push ignored",
		},
		{
			name:       "tagged push of a repository no project claims is ignored",
			unclaimed:  true,
			events:     [][]byte{readFile(t, "ecr-push-tagged.json")},
			wantParams: map[string]string{},
			want:       shiplog.PushOutcome{Updated: []string{}, Ignored: `no registered project claims repository "uk.ac.wellcome/archivist"`},
			wantLog:    "push ignored",
		},
		{
			name:       "redelivered tagged push changes nothing",
			events:     [][]byte{readFile(t, "ecr-push-tagged.json"), readFile(t, "ecr-push-tagged.json")},
			wantParams: map[string]string{"/storage/images/latest/archivist": archivistURI},
			want:       shiplog.PushOutcome{Image: archivistURI, Updated: []string{}, Source: &refTagSource},
			wantLog:    "push recorded",
		},
		{
			// A deploy with tag_deployed_images moved env.prod onto the image prod runs, built
			// before the newest: ECR reports a push of that digest, dated after the newest push.
			name:       "a push of a tag shiplog moves (env.) leaves latest",
			events:     [][]byte{readFile(t, "ecr-push-tagged.json"), readFile(t, "ecr-push-env-tag.json")},
			wantParams: map[string]string{"/storage/images/latest/archivist": archivistURI},
			want: shiplog.PushOutcome{Updated: []string{},
				Ignored: `tag "env.prod" is one shiplog moves onto deployed images (tag_deployed_images), not a new build`},
			wantLog: "push ignored",
		},
		{
			name: "older push delivered after a newer one does not replace it",
			events: [][]byte{
				readFile(t, "ecr-push-tagged.json"),
				event(t, "ecr-push-tagged.json", func(ev map[string]any) {
					ev["time"] = "2026-11-20T09:00:00Z"
					detail(ev)["image-digest"] = "sha256:" + strings.Repeat("0", 64)
				}),
			},
			wantParams: map[string]string{"/storage/images/latest/archivist": archivistURI},
			want: shiplog.PushOutcome{
				Image:   strings.Replace(archivistURI, "3f6c2a9d1b8e4f7a0c5d9e2b1a7f6c3d8e4b2a1f9c7d6e5b4a3c2d1e0f9a8b7c", strings.Repeat("0", 64), 1),
				Updated: []string{}, Skipped: []string{"/storage/images/latest/archivist"}, Source: &refTagSource,
			},
			wantLog: "push recorded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if !tt.unclaimed {
				e.registered(t)
			}
			fn := awslambda.ECRPush(e.svc, e.log)
			var out []byte
			for i, ev := range tt.events {
				var err error
				if out, err = fn.Invoke(context.Background(), ev); err != nil {
					t.Fatalf("Invoke event %d: got error %v, want none (an error makes EventBridge retry)", i, err)
				}
			}
			var got shiplog.PushOutcome
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("response is not a push outcome: %v\n%s", err, out)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantParams, e.snapshot(t).Params); diff != "" {
				t.Errorf("stored parameters (-want +got):\n%s", diff)
			}
			if !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("log %q does not say %q", e.logs.String(), tt.wantLog)
			}
		})
	}
}

// TestECRPushInvalid sends events that are not ECR image actions, or are broken: each is refused
// as Invalid with a message naming the field, and writes nothing.
func TestECRPushInvalid(t *testing.T) {
	tagged := func(edit func(map[string]any)) []byte { return event(t, "ecr-push-tagged.json", edit) }
	tests := []struct {
		name    string
		payload []byte
		want    string // in the message
	}{
		{"S3 event", tagged(func(ev map[string]any) { ev["source"] = "aws.s3"; ev["detail-type"] = "Object Created" }), `source "aws.s3" and detail-type "Object Created"`},
		{"ECR scan event", tagged(func(ev map[string]any) { ev["detail-type"] = "ECR Image Scan" }), `detail-type "ECR Image Scan"`},
		{"no source", tagged(func(ev map[string]any) { delete(ev, "source") }), `source ""`},
		{"API Gateway request", readFile(t, "apigw-v2-iam-post-deploy.json"), "not an ECR image action"},
		{"empty payload", []byte(""), "event: is empty; want an object"},
		{"null", []byte("null"), "event: got JSON null, want an object"},
		{"array", []byte("[]"), "event: got a JSON array, want an object with version, id, detail-type"},
		{"malformed JSON", []byte(`{"source": "aws.ecr",`), "event: the JSON ends too early"},
		{"trailing }", []byte(`{"source": "aws.ecr"}}`), "event: unexpected data after the JSON value"},
		{"trailing ]", []byte(`{"source": "aws.ecr"}]`), "event: unexpected data after the JSON value"},
		{"detail is a string", tagged(func(ev map[string]any) { ev["detail"] = "PUSH" }), "detail: got a JSON string, want an object with result"},
		{"time missing", tagged(func(ev map[string]any) { delete(ev, "time") }), "time is required"},
		{"time null", tagged(func(ev map[string]any) { ev["time"] = nil }), "time is required"},
		{"time empty", tagged(func(ev map[string]any) { ev["time"] = "" }), "time: is not an RFC 3339 time"},
		{"time not RFC 3339", tagged(func(ev map[string]any) { ev["time"] = "2026-11-20 09:15:02" }), "time: is not an RFC 3339 time"},
		{"time a word", tagged(func(ev map[string]any) { ev["time"] = "yesterday" }), "time: is not an RFC 3339 time"},
		{"time a number", tagged(func(ev map[string]any) { ev["time"] = 1795255200 }), "time: is not an RFC 3339 time"},
		{"digest not sha256", tagged(func(ev map[string]any) { detail(ev)["image-digest"] = "md5:0123" }), "detail.image-digest"},
		{"account not an account id", tagged(func(ev map[string]any) { ev["account"] = "760097843905/../1" }), "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).registered(t)
			before := e.snapshot(t)
			out, err := awslambda.ECRPush(e.svc, e.log).Invoke(context.Background(), tt.payload)
			ire := invocationError(t, err)
			if out != nil {
				t.Errorf("got output %s with the error, want none", out)
			}
			if ire.Type != "Invalid" {
				t.Errorf("errorType: got %q, want %q (message %q)", ire.Type, "Invalid", ire.Message)
			}
			if !strings.Contains(ire.Message, tt.want) {
				t.Errorf("errorMessage: got %q, want it to contain %q", ire.Message, tt.want)
			}
			checkNoGoNames(t, ire.Message)
			e.unchanged(t, before)
		})
	}
}
