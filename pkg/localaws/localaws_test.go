package localaws_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shiplog/shiplog/pkg/localaws"
)

func TestMain(m *testing.M) { localaws.Main(m) }

func TestMotoAnswersEveryService(t *testing.T) {
	ctx := context.Background()
	m := localaws.SharedMoto(t)
	cfg := m.Config(ctx)

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("sts GetCallerIdentity: %v", err)
	}
	if got := aws.ToString(id.Account); len(got) != 12 {
		t.Errorf("account: got %q, want 12 digits", got)
	}

	params := ssm.NewFromConfig(cfg)
	answersParam := localaws.UniqueName("/localaws/answers")
	if _, err := params.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(answersParam), Value: aws.String("v1"), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatalf("ssm PutParameter: %v", err)
	}
	got, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(answersParam)})
	if err != nil {
		t.Fatalf("ssm GetParameter: %v", err)
	}
	if v := aws.ToString(got.Parameter.Value); v != "v1" {
		t.Errorf("ssm value: got %q, want %q", v, "v1")
	}

	repo, err := ecr.NewFromConfig(cfg).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(localaws.UniqueName("localaws/answers"))})
	if err != nil {
		t.Fatalf("ecr CreateRepository: %v", err)
	}
	wantURIPrefix := aws.ToString(id.Account) + ".dkr.ecr." + localaws.Region + ".amazonaws.com/"
	if uri := aws.ToString(repo.Repository.RepositoryUri); !strings.HasPrefix(uri, wantURIPrefix) {
		t.Errorf("repository URI: got %q, want prefix %q", uri, wantURIPrefix)
	}

	testTable(ctx, t, dynamodb.NewFromConfig(cfg), localaws.UniqueName("localaws-moto"))
}

func TestDynamoDBLocalAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := localaws.SharedDynamoDBLocal(t)
	testTable(ctx, t, dynamodb.NewFromConfig(d.Config(ctx)), localaws.UniqueName("localaws-ddblocal"))
}

// testTable creates a table, writes an item and reads it back: tables must be usable at once.
func testTable(ctx context.Context, t *testing.T, db *dynamodb.Client, name string) {
	t.Helper()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("dynamodb CreateTable: %v", err)
	}
	// moto may mark a table ACTIVE just after CreateTable returns.
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("wait for table %s: %v", name, err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(name),
		Item: map[string]ddbtypes.AttributeValue{
			"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}, "v": &ddbtypes.AttributeValueMemberS{Value: "stored"},
		},
	}); err != nil {
		t.Fatalf("dynamodb PutItem: %v", err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(name), Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("dynamodb GetItem: %v", err)
	}
	v, _ := out.Item["v"].(*ddbtypes.AttributeValueMemberS)
	if v == nil || v.Value != "stored" {
		t.Errorf("item v: got %v, want %q", out.Item["v"], "stored")
	}
}

func TestMotoResetAndClose(t *testing.T) {
	ctx := context.Background()
	m := localaws.StartMoto(t)
	params := ssm.NewFromConfig(m.Config(ctx))
	name := aws.String("/localaws/reset/p")
	if _, err := params.PutParameter(ctx, &ssm.PutParameterInput{Name: name, Value: aws.String("v"), Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatalf("PutParameter: %v", err)
	}
	m.Reset(t)
	_, err := params.GetParameter(ctx, &ssm.GetParameterInput{Name: name})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("GetParameter after Reset: got %v, want ParameterNotFound", err)
	}

	m.Close()
	if resp, err := http.Get(m.URL + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after Close: got %s, want connection refused", m.URL, resp.Status)
	}
}

func TestSharedIsShared(t *testing.T) {
	if a, b := localaws.SharedMoto(t), localaws.SharedMoto(t); a != b {
		t.Errorf("SharedMoto: got two servers %s and %s, want one", a.URL, b.URL)
	}
	if a, b := localaws.SharedDynamoDBLocal(t), localaws.SharedDynamoDBLocal(t); a != b {
		t.Errorf("SharedDynamoDBLocal: got two servers %s and %s, want one", a.URL, b.URL)
	}
}

// TestEnv checks that what Env gives a child process is enough for an SDK that reads only its
// environment (as the functions do) to reach moto.
func TestEnv(t *testing.T) {
	ctx := context.Background()
	m := localaws.SharedMoto(t)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	if cfg.Region != localaws.Region {
		t.Errorf("region: got %q, want %q", cfg.Region, localaws.Region)
	}
	params := ssm.NewFromConfig(cfg)
	name := aws.String(localaws.UniqueName("/localaws/env"))
	if _, err := params.PutParameter(ctx, &ssm.PutParameterInput{Name: name, Value: aws.String("from-env"), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		t.Fatalf("PutParameter via env: %v", err)
	}
	// Read it back through the explicit config: the same server saw the write.
	out, err := ssm.NewFromConfig(m.Config(ctx)).GetParameter(ctx, &ssm.GetParameterInput{Name: name})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	if v := aws.ToString(out.Parameter.Value); v != "from-env" {
		t.Errorf("value: got %q, want %q", v, "from-env")
	}
}

func TestCallRecorder(t *testing.T) {
	ctx := context.Background()
	m := localaws.SharedMoto(t)
	rec := localaws.NewCallRecorder()
	cfg := m.Config(ctx, rec.Option())
	params := ssm.NewFromConfig(cfg)
	for range 3 {
		_, _ = params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/localaws/recorder/missing")})
	}
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	_, _ = dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})

	want := map[string]int{"ssm:GetParameter": 3, "sts:GetCallerIdentity": 1, "dynamodb:ListTables": 1}
	got := rec.Counts()
	if len(got) != len(want) {
		t.Errorf("Counts: got %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("Counts[%q]: got %d, want %d", k, got[k], n)
		}
	}
	if rec.Total() != 5 {
		t.Errorf("Total: got %d, want 5", rec.Total())
	}
	rec.Reset()
	if n := rec.Total(); n != 0 {
		t.Errorf("Total after Reset: got %d, want 0", n)
	}
}

// TestDynamoDBLocalMissing checks that a clone without node_modules is told what to run.
func TestDynamoDBLocalMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir+"/pkg", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir + "/pkg")
	_, err := localaws.LaunchDynamoDBLocal()
	if err == nil || !strings.Contains(err.Error(), "npm ci") || !strings.Contains(err.Error(), dir) {
		t.Errorf("LaunchDynamoDBLocal without node_modules: got %v, want an error telling to run npm ci in %s", err, dir)
	}
}

// TestJavaMissing checks that a machine without Java is told how to install it.
func TestJavaMissing(t *testing.T) {
	for _, tt := range []struct{ name, path, javaHome string }{
		{"not on PATH", t.TempDir(), ""},
		{"not in JAVA_HOME", os.Getenv("PATH"), t.TempDir()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			t.Setenv("JAVA_HOME", tt.javaHome)
			_, err := localaws.LaunchDynamoDBLocal()
			if err == nil || !strings.Contains(err.Error(), "java not found") || !strings.Contains(err.Error(), "apt-get install openjdk-17-jdk-headless") {
				t.Errorf("LaunchDynamoDBLocal without java: got %v, want an error saying java is missing and how to install it", err)
			}
		})
	}
}
