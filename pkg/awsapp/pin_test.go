package awsapp

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestSSMClientBuildsNoSchemasAtInit holds the SSM client below v1.80.0. From that release the
// SDK's SSM package builds its operation schemas in package init (schema-based serialization):
// about 7,900 allocations and 2 to 3 ms before main, in every cold start of the four functions
// that link it, which put ecr-push, create-release, deploy and api above the 1.25x-hello-world
// goal of BenchmarkColdStart (`make bench`). The calls shiplog makes (GetParameter(s),
// GetParametersByPath, PutParameter) are the same in both.
//
// To move to a newer SSM client: run `make bench`; if BenchmarkColdStart still passes (a newer
// SDK may build its schemas lazily), raise ssmBelow here with the reason.
func TestSSMClientBuildsNoSchemasAtInit(t *testing.T) {
	const ssmBelow = 80 // minor version: v1.80.0 enabled schema-based serialization
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/aws/aws-sdk-go-v2/service/ssm v1\.([0-9]+)\.[0-9]+`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/aws/aws-sdk-go-v2/service/ssm v1.x.y")
	}
	if minor, _ := strconv.Atoi(string(m[1])); minor >= ssmBelow {
		t.Errorf("go.mod requires service/ssm v1.%d: from v1.%d the client builds its schemas at package init, "+
			"about 2-3 ms of every cold start; run make bench (BenchmarkColdStart) before raising the bound in this test", minor, ssmBelow)
	}
}
