package awslambda_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// FuzzInvoke sends arbitrary payloads to each direct-invocation function on a store with a
// registered project and images: whatever comes in, the answer is JSON or a function error whose
// errorType is a caller's kind (never Internal, which would be a fault of ours) with a message
// free of Go's type names. A payload that is accepted is refused with a "}" or "]" after it.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"ecr-push-tagged.json", "ecr-push-untagged.json", "ecr-push-failed.json", "ecr-delete.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
	}
	for _, seed := range []string{
		`{"project_id":"storage"}`,
		`{"project_id":"storage","label":"latest","description":"d","requested_by":{"id":"ci","name":"CI"}}`,
		`{"project_id":"storage","manifest":{"storage":{"name":"S","environments":[{"id":"stage"}],"image_repositories":[{"id":"a/b"}]}}}`,
		`{"project_id":"storage","manifest":"{}"}`,
		`{"project_id":"storage"}}`, `{"project_id":"storage"}]`,
	} {
		f.Add(uint8(1), []byte(seed))
	}
	for _, seed := range []string{
		`{"project_id":"storage","release_id":"latest","environment":"stage"}`,
		`{"project_id":"storage","release_id":"01JTEST0000000000000000001","environment":"prod","description":"x"}`,
		`{"project_id":"storage","release_id":7,"environment":null}`,
	} {
		f.Add(uint8(2), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		env := newEnv(t).registered(t).withImages(t)
		names := []string{"ecr-push", "create-release", "deploy"}
		fn := env.functions()[names[int(which)%len(names)]]
		out, err := fn.Invoke(t.Context(), payload)
		if err == nil {
			if len(out) == 0 || (out[0] != '{' && out[0] != '[') {
				t.Fatalf("%s(%q): answer %q is not JSON", fn.Name, payload, out)
			}
			// What is accepted is refused with trailing data after it.
			for _, tail := range []string{"}", "]"} {
				_, err := fn.Invoke(t.Context(), append(slices.Clip(payload), tail...))
				var ire messages.InvokeResponse_Error
				if !errors.As(err, &ire) || ire.Type != "Invalid" {
					t.Fatalf("%s(%q + %q): got %v, want Invalid (trailing data)", fn.Name, payload, tail, err)
				}
			}
			return
		}
		var ire messages.InvokeResponse_Error
		if !errors.As(err, &ire) {
			t.Fatalf("%s(%q): error %T is not a Lambda function error", fn.Name, payload, err)
		}
		switch ire.Type {
		case "Invalid", "NotFound", "Conflict":
		default:
			t.Fatalf("%s(%q): errorType %q (%s), want a caller's kind", fn.Name, payload, ire.Type, ire.Message)
		}
		for _, goism := range []string{"json:", "Go value", "struct", "*shiplog.", "[]uint8", "UnmarshalJSON", "invalid character", "in literal", "looking for beginning"} {
			if strings.Contains(ire.Message, goism) {
				t.Fatalf("%s(%q): message %q shows Go's internals (%q)", fn.Name, payload, ire.Message, goism)
			}
		}
	})
}
