package awssts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

func TestSessionName(t *testing.T) {
	tests := []struct{ by, want string }{
		{"alice", "shiplog@alice"},
		{"arn:aws:iam::123456789012:user/alice", "shiplog@arn-aws-iam--123456789012-user-alice"},
		{"Bob Smith <bob@example.com>", "shiplog@Bob-Smith--bob@example.com-"},
		{"", "shiplog@shiplog"},
		{strings.Repeat("x", 100), "shiplog@" + strings.Repeat("x", 56)},
		{"é", "shiplog@--"},
	}
	for _, tt := range tests {
		got := awssts.SessionName(tt.by)
		if got != tt.want {
			t.Errorf("SessionName(%q): got %q, want %q", tt.by, got, tt.want)
		}
		if len(got) < 2 || len(got) > 64 {
			t.Errorf("SessionName(%q): %d characters, STS takes 2 to 64", tt.by, len(got))
		}
	}
}

// counter counts the calls of each operation made through a configuration.
type counter struct{ assumes, ssm atomic.Int64 }

func (c *counter) option(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("count",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				switch awsmiddleware.GetServiceID(ctx) {
				case "STS":
					c.assumes.Add(1)
				case "SSM":
					c.ssm.Add(1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// TestPlacesWriteInTheEnvironmentsAccount: through Places, parameters of an environment in
// another account and region land there and only there (moto keeps accounts apart for
// assumed-role credentials); the stack's own placement is the home store, with no STS call; the
// role is assumed once and its credentials reused.
func TestPlacesWriteInTheEnvironmentsAccount(t *testing.T) {
	m := localaws.SharedMoto(t)
	ctx := t.Context()
	var calls counter
	cfg := m.Config(ctx, calls.option)
	tables := awsapp.Tables{ParameterPrefix: localaws.UniqueName("/p")}
	home := awsapp.ParametersIn(tables)(cfg)
	places := awssts.New(cfg, awssts.Clients{Parameters: awsapp.ParametersIn(tables)}, awssts.Home{Parameters: home})

	same, err := places.Parameters(ctx, shiplog.Placement{Region: cfg.Region}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if same != home || calls.assumes.Load() != 0 {
		t.Errorf("the stack's own region: got %v (%d STS calls), want the home store and no STS call", same, calls.assumes.Load())
	}

	at := shiplog.Placement{AccountID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/shiplog-target", Region: "us-east-1"}
	far, err := places.Parameters(ctx, at, "arn:aws:iam::123456789012:user/alice")
	if err != nil {
		t.Fatal(err)
	}
	name := "/proj/images/prod/web"
	if err := far.PutParameters(ctx, map[string]string{name: "image-1"}); err != nil {
		t.Fatal(err)
	}
	if got, err := far.GetParameter(ctx, name); err != nil || got != "image-1" {
		t.Errorf("read back in the environment's account: got %q, %v", got, err)
	}
	// Not at home, in either region.
	if _, err := home.GetParameter(ctx, name); !shiplog.IsKind(err, shiplog.NotFound) {
		t.Errorf("home store: got %v, want NotFound", err)
	}
	raw := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = "us-east-1" })
	if out, err := raw.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(tables.ParameterPrefix + name)}); err == nil {
		t.Errorf("the stack's account in us-east-1: got %s, want no such parameter", aws.ToString(out.Parameter.Value))
	}
	// In the environment's account, as assumed-role credentials of another session see it.
	other, err := places.Parameters(ctx, at, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.GetParameter(ctx, name); err != nil || got != "image-1" {
		t.Errorf("read by another session in the environment's account: got %q, %v", got, err)
	}
	assumes := calls.assumes.Load()
	if assumes != 2 {
		t.Errorf("AssumeRole calls: got %d, want 2 (one per session)", assumes)
	}
	again, err := places.Parameters(ctx, at, "bob")
	if err != nil || again != other || calls.assumes.Load() != assumes {
		t.Errorf("the same session again: got a new store or a new AssumeRole (%d calls), err %v", calls.assumes.Load(), err)
	}

	// Another region without a role is refused: the functions' own roles reach only theirs.
	if _, err := places.Parameters(ctx, shiplog.Placement{Region: "us-west-2"}, "alice"); !shiplog.IsKind(err, shiplog.Invalid) || !strings.Contains(err.Error(), "region us-west-2 is named without role_arn") {
		t.Errorf("another region without a role: got %v, want Invalid naming role_arn", err)
	}
	// Another account without a role is refused, naming what is missing.
	if _, err := places.Parameters(ctx, shiplog.Placement{AccountID: "333333333333"}, "alice"); !shiplog.IsKind(err, shiplog.Invalid) || !strings.Contains(err.Error(), "without role_arn") {
		t.Errorf("an account without a role: got %v, want Invalid naming role_arn", err)
	}
}

// TestRoleThatDoesNotTrustShiplog: STS's AccessDenied (the role trusts another account, or not
// these function roles, or wants another external id) is Forbidden, naming the role, what its
// trust must allow and the external id shiplog passed; nothing else is called.
func TestRoleThatDoesNotTrustShiplog(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" || r.Form.Get("ExternalId") != "bugfarm-prod" ||
			r.Form.Get("RoleSessionName") != "shiplog@alice" {
			t.Errorf("STS request %v (%v): want AssumeRole with the external id and alice's session", r.Form, err)
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>`+
			`<Message>User: arn:aws:sts::123456789012:assumed-role/shiplog-DeployRole-X/deploy is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::333333333333:role/shiplog-target</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	var made atomic.Int64
	places := awssts.New(cfg, awssts.Clients{Parameters: func(aws.Config) shiplog.ParameterStore { made.Add(1); return nil }}, awssts.Home{})
	at := shiplog.Placement{AccountID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/shiplog-target", ExternalID: "bugfarm-prod", Region: "us-east-1"}
	_, err := places.Parameters(t.Context(), at, "alice")
	if !shiplog.IsKind(err, shiplog.Forbidden) {
		t.Fatalf("got %v, want Forbidden", err)
	}
	for _, part := range []string{"may not assume arn:aws:iam::333333333333:role/shiplog-target", "must trust this shiplog's function roles",
		`external id "bugfarm-prod"`, "templates/target-account.yaml", "is not authorized to perform: sts:AssumeRole"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
	if calls.Load() == 0 || made.Load() != 0 {
		t.Errorf("STS calls %d, parameter stores made %d: want the role tried and no store made", calls.Load(), made.Load())
	}
}
