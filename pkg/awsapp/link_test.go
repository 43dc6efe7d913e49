package awsapp_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/awsapp"
)

const sdkServices = "github.com/aws/aws-sdk-go-v2/service/"

// sdkPackages names the SDK client package of the services whose IAM prefix is another word.
var sdkPackages = map[string]string{"events": "eventbridge"}

// callsService reports whether FunctionActions has the function call any action of service
// ("ecr" for "ecr:BatchGetImage").
func callsService(function, service string) bool {
	return slices.ContainsFunc(awsapp.FunctionActions[function], func(a string) bool {
		return strings.HasPrefix(a, service+":")
	})
}

// TestFunctionsLinkOnlyTheirClients holds what each function's binary links to what it calls: a
// service client's package init runs on every cold start, so a function links the client of a
// service only if FunctionActions or FunctionTables has it call that service, and none links the SDK's config
// package, whose credential chain brings STS, SSO, SSO-OIDC and sign-in (pkg/lambdaconfig builds
// a Lambda's configuration instead).
func TestFunctionsLinkOnlyTheirClients(t *testing.T) {
	for function := range awsapp.FunctionActions {
		t.Run(function, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./functions/"+function)
			cmd.Dir = "../.."
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps ./functions/%s: %v", function, err)
			}
			var linked []string
			for _, pkg := range strings.Fields(string(out)) {
				if pkg == "github.com/aws/aws-sdk-go-v2/config" {
					t.Errorf("%s links %s: build its aws.Config with lambdaconfig.Load", function, pkg)
				}
				svc, ok := strings.CutPrefix(pkg, sdkServices)
				if !ok || strings.HasPrefix(svc, "internal/") || strings.Contains(svc, "/") {
					continue
				}
				linked = append(linked, svc)
			}
			var want []string
			actions := slices.Clone(awsapp.FunctionActions[function])
			for _, tableActions := range awsapp.FunctionTables[function] {
				actions = append(actions, tableActions...)
			}
			for _, a := range actions {
				svc, _, _ := strings.Cut(a, ":")
				if pkg, ok := sdkPackages[svc]; ok {
					svc = pkg
				}
				want = append(want, svc)
			}
			slices.Sort(want)
			want = slices.Compact(want)
			slices.Sort(linked)
			if !slices.Equal(linked, want) {
				t.Errorf("%s links the clients of %v; it calls %v (awsapp.FunctionActions, FunctionTables)", function, linked, want)
			}
		})
	}
}
