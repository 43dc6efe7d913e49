package shiplog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestPersonValidateByChannel checks that the identities only shiplog or an authentication can
// vouch for are refused when a direct invocation asserts them, and only then: the HTTP API
// records the ARN of the IAM principal that signed.
func TestPersonValidateByChannel(t *testing.T) {
	tests := []struct {
		name string
		p    shiplog.Person
		want string // "" if valid
	}{
		{"invoker with a plain id", shiplog.Person{ID: "ci", Name: "GitHub Actions", Via: shiplog.ViaInvoke}, ""},
		{"anonymous invoker", shiplog.Person{Via: shiplog.ViaInvoke}, ""},
		{"invoker whose id merely starts with arn", shiplog.Person{ID: "arnold", Via: shiplog.ViaInvoke}, ""},
		{"invoker named after shiplog", shiplog.Person{ID: "shiplog", Via: shiplog.ViaInvoke}, `requested_by.id: "shiplog" is what shiplog records for shiplog itself`},
		{"invoker named after ECS", shiplog.Person{ID: "ecs", Name: "Amazon ECS", Via: shiplog.ViaInvoke}, `requested_by.id: "ecs" is what shiplog records for Amazon ECS itself`},
		{"invoker named after ECR", shiplog.Person{ID: "Ecr", Via: shiplog.ViaInvoke}, `requested_by.id: "Ecr" is what shiplog records for Amazon ECR itself`},
		{"invoker with ECS's name", shiplog.Person{ID: "ci", Name: "amazon ecs", Via: shiplog.ViaInvoke}, `requested_by.name: "amazon ecs"`},
		{"invoker with an IAM ARN", shiplog.Person{ID: "arn:aws:iam::123456789012:user/bob", Via: shiplog.ViaInvoke}, "is shaped like an ARN"},
		{"invoker with an STS ARN", shiplog.Person{ID: "arn:aws-cn:sts::123456789012:assumed-role/r/s", Via: shiplog.ViaInvoke}, "is shaped like an ARN"},
		{"invoker as a service principal", shiplog.Person{ID: "ecs-tasks.amazonaws.com", Via: shiplog.ViaInvoke}, "AWS service principal"},
		{"API caller with an IAM ARN", shiplog.Person{ID: "arn:aws:sts::123456789012:assumed-role/Deployer/alice", Name: "alice", Via: shiplog.ViaAPI}, ""},
		{"API caller as the account root", shiplog.Person{ID: "arn:aws:iam::123456789012:root", Name: "arn:aws:iam::123456789012:root", Via: shiplog.ViaAPI}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var e *shiplog.Error
			if !errors.As(err, &e) || e.Kind != shiplog.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an Invalid error containing %q", err, tt.want)
			}
		})
	}
}
