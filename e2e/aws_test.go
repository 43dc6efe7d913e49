package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/localaws"
)

// cliEnv is the aws CLI's environment: test credentials, no profile, no endpoint of its own
// (every call names its --endpoint-url), and at most the given number of attempts per call, so
// that a dead endpoint fails fast.
func cliEnv(attempts int) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+localaws.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+localaws.SecretAccessKey,
		"AWS_DEFAULT_REGION="+localaws.Region,
		"AWS_REGION="+localaws.Region,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_RETRY_MODE=standard",
		"AWS_MAX_ATTEMPTS="+strconv.Itoa(attempts),
	)
}

// run runs the aws CLI and returns its standard output.
func (s *stack) run(attempts int, args ...string) ([]byte, error) {
	cmd := exec.Command(s.awsCLI, append(args, "--output", "json")...)
	cmd.Env = cliEnv(attempts)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// onMoto runs an aws CLI command against moto and decodes its JSON output into out.
func (s *stack) onMoto(out any, args ...string) call {
	return call{args: append(args, "--endpoint-url", s.moto.URL), out: out}
}

// call is one aws CLI command and where its JSON output goes.
type call struct {
	args []string
	out  any
}

// do runs the calls at once (each CLI start costs half a second of CPU) and decodes their output.
func (s *stack) do(t *testing.T, calls ...call) {
	t.Helper()
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			out, err := s.run(3, c.args...)
			if err == nil && c.out != nil {
				if err = json.Unmarshal(out, c.out); err != nil {
					err = fmt.Errorf("aws %s: output is not JSON: %v: %s", strings.Join(c.args, " "), err, out)
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

var payloadSeq atomic.Int64

// invocation is what `aws lambda invoke` reports and what the function returned.
type invocation struct {
	StatusCode    int    `json:"StatusCode"`
	FunctionError string `json:"FunctionError"`
	Payload       []byte `json:"-"`
}

// invoke calls a function with the aws CLI, as CI does, through aws-lambda-rie.
func (s *stack) invoke(t *testing.T, fn string, payload []byte) invocation {
	t.Helper()
	f := s.functions[fn]
	n := payloadSeq.Add(1)
	in := filepath.Join(s.dir, fmt.Sprintf("payload-%d.json", n))
	outFile := filepath.Join(s.dir, fmt.Sprintf("response-%d.json", n))
	if err := os.WriteFile(in, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	// One attempt: an invocation is not idempotent (a retried deploy would deploy twice).
	out, err := s.run(1, "lambda", "invoke", "--endpoint-url", f.URL, "--function-name", "function",
		"--payload", "fileb://"+in, outFile)
	if err != nil {
		t.Fatalf("%v\n%s logs:\n%s", err, fn, f.logs.tail(30))
	}
	var inv invocation
	if err := json.Unmarshal(out, &inv); err != nil {
		t.Fatalf("aws lambda invoke %s: output is not JSON: %s", fn, out)
	}
	if inv.Payload, err = os.ReadFile(outFile); err != nil {
		t.Fatal(err)
	}
	if inv.StatusCode != 200 {
		t.Fatalf("invoke %s: StatusCode %d, want 200; response %s\n%s logs:\n%s", fn, inv.StatusCode, inv.Payload, fn, f.logs.tail(30))
	}
	return inv
}

// invokeOK invokes fn, requires it to succeed, and decodes its response into out.
func (s *stack) invokeOK(t *testing.T, fn string, payload []byte, out any) {
	t.Helper()
	inv := s.invoke(t, fn, payload)
	if inv.FunctionError != "" {
		t.Fatalf("invoke %s %s: FunctionError %q: %s\n%s logs:\n%s", fn, payload, inv.FunctionError, inv.Payload, fn, s.functions[fn].logs.tail(30))
	}
	if err := json.Unmarshal(inv.Payload, out); err != nil {
		t.Fatalf("invoke %s: response is not JSON: %v: %s\n%s logs:\n%s", fn, err, inv.Payload, fn, s.functions[fn].logs.tail(30))
	}
}

// functionError is a Lambda function error's payload.
type functionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

// invokeFails invokes fn and requires it to fail as Lambda reports a function error.
func (s *stack) invokeFails(t *testing.T, fn string, payload []byte) functionError {
	t.Helper()
	inv := s.invoke(t, fn, payload)
	var fe functionError
	if err := json.Unmarshal(inv.Payload, &fe); err != nil || fe.Type == "" {
		t.Fatalf("invoke %s: response %s is not a function error\n%s logs:\n%s", fn, inv.Payload, fn, s.functions[fn].logs.tail(30))
	}
	if inv.FunctionError != "Unhandled" {
		t.Errorf("invoke %s: FunctionError %q, want %q (response %s)", fn, inv.FunctionError, "Unhandled", inv.Payload)
	}
	return fe
}

// DynamoDB JSON, as the aws CLI prints items: every value is {"S": ...}, {"N": ...} and so on.

type item = map[string]any

func S(v string) any { return map[string]any{"S": v} }

func N(v int64) any { return map[string]any{"N": strconv.FormatInt(v, 10)} }

func BOOL(v bool) any { return map[string]any{"BOOL": v} }

func M(m map[string]any) any { return map[string]any{"M": m} }

func L(vs ...any) any {
	if vs == nil {
		vs = []any{}
	}
	return map[string]any{"L": vs}
}

func stringList(vs ...string) any {
	l := make([]any, len(vs))
	for i, v := range vs {
		l[i] = S(v)
	}
	return L(l...)
}

func stringMap(m map[string]string) any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = S(v)
	}
	return M(out)
}

// getItem reads one item, strongly consistent.
func (s *stack) getItem(table string, key item, out *struct{ Item item }) call {
	k, _ := json.Marshal(key)
	return s.onMoto(out, "dynamodb", "get-item", "--table-name", table, "--key", string(k), "--consistent-read")
}

// queryResult is what `aws dynamodb query` prints.
type queryResult struct {
	Items []item
	Count int
}

// partition reads every item of one state-table partition, in sort-key order.
func (s *stack) partition(pk string, out *queryResult) call {
	values, _ := json.Marshal(map[string]any{":pk": S(pk)})
	return s.onMoto(out, "dynamodb", "query", "--table-name", tables.State, "--consistent-read",
		"--key-condition-expression", "pk = :pk", "--expression-attribute-values", string(values))
}

// parameter is an SSM parameter as `aws ssm get-parameters-by-path` prints it.
type parameter struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	LastModifiedDate any
	ARN              string
	DataType         string
}

type parametersResult struct{ Parameters []parameter }

// parameters reads every parameter under path, at any depth.
func (s *stack) parameters(path string, out *parametersResult) call {
	return s.onMoto(out, "ssm", "get-parameters-by-path", "--path", path, "--recursive")
}

// byName returns the parameters sorted by name, for comparing whole listings.
func (r parametersResult) byName() []parameter {
	ps := append([]parameter(nil), r.Parameters...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// imageTags is what `aws ecr describe-images` prints, reduced to each image's tags.
type imagesResult struct {
	ImageDetails []struct {
		ImageDigest string   `json:"imageDigest"`
		ImageTags   []string `json:"imageTags"`
	} `json:"imageDetails"`
}

func (r imagesResult) tags() map[string][]string {
	m := map[string][]string{}
	for _, d := range r.ImageDetails {
		tags := append([]string{}, d.ImageTags...)
		sort.Strings(tags)
		m[d.ImageDigest] = tags
	}
	return m
}

// describeImages lists a repository's images.
func (s *stack) describeImages(repository string, out *imagesResult) call {
	return s.onMoto(out, "ecr", "describe-images", "--repository-name", repository)
}

// releasesOf lists a project's releases through the releases table's index.
func (s *stack) releasesOf(projectID string, out *queryResult) call {
	values, _ := json.Marshal(map[string]any{":p": S(projectID)})
	return s.onMoto(out, "dynamodb", "query", "--table-name", tables.Releases, "--index-name", awsdynamo.ReleasesIndex,
		"--key-condition-expression", "project_id = :p", "--expression-attribute-values", string(values))
}
