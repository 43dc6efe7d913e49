package awsapp

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestServiceClientsBuildNoSchemasAtInit holds the SDK's service clients that the functions link
// below the release from which each builds its operation schemas in package init (its
// "schema-based (de)serialization", each client's CHANGELOG says when). Those schemas are
// thousands of allocations before main in every cold start of every function that links the
// client: SSM's about 7,900, ECS's 4,900, DynamoDB's 3,150, ECR's 2,300; ECS's alone was 1.9 ms
// of the api's and ecs-events' 4 ms of init, and with them those two measured 1.30 to 1.38x
// hello-world under load, over the 1.25x goal of BenchmarkColdStart (`make bench`). The calls
// shiplog makes are the same in both releases. (DynamoDB's hold also holds
// feature/dynamodb/attributevalue at v1.21.4, which requires no newer DynamoDB client.)
//
// To move one to a newer release: run `make bench`; if BenchmarkColdStart still passes with
// the margin it has (a newer SDK may build its schemas lazily), raise its bound here with the
// reason.
func TestServiceClientsBuildNoSchemasAtInit(t *testing.T) {
	below := []struct {
		service string
		minor   int // the first minor version of v1 that builds its schemas at init
	}{
		{"ssm", 80},      // v1.80.0, October 2026
		{"ecs", 99},      // v1.99.0, September 2026
		{"dynamodb", 69}, // v1.69.0, September 2026
		{"ecr", 66},      // v1.66.0, September 2026
		// CloudWatch builds its schemas at init from v1.66.0 (July 2026), and from v1.53.0
		// (December 2025) speaks Smithy RPC v2 CBOR, which moto (5.2) does not serve: the
		// adapter's tests run on moto over AWS Query, which CloudWatch still serves.
		{"cloudwatch", 53},
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range below {
		m := regexp.MustCompile(`(?m)^\s*github\.com/aws/aws-sdk-go-v2/service/` + b.service + ` v1\.([0-9]+)\.[0-9]+`).FindSubmatch(mod)
		if m == nil {
			t.Errorf("go.mod requires no github.com/aws/aws-sdk-go-v2/service/%s v1.x.y", b.service)
			continue
		}
		if minor, _ := strconv.Atoi(string(m[1])); minor >= b.minor {
			t.Errorf("go.mod requires service/%s v1.%d: from v1.%d the client builds its schemas at package init, "+
				"milliseconds of every cold start; run make bench (BenchmarkColdStart) before raising the bound in this test", b.service, minor, b.minor)
		}
	}
}
