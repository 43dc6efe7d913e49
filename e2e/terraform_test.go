package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The Terraform test runs the seed's promise for real: the functions push, release and deploy,
// writing SSM parameters on moto; Terraform (the CLI on PATH, the hashicorp/aws provider from a
// filesystem mirror on this machine) plans and applies terraform/examples/ecs_service against the
// same moto, and the task definition it registers must name exactly the deployed digests.

// terraformExample is the example the test applies, and the services it runs.
const terraformExample = "ecs_service"

var exampleServices = []string{"archivist", "notifier"}

// providerMirrors are where the hashicorp/aws provider may be found when
// SHIPLOG_TF_PROVIDER_MIRROR does not say: this machine image's mirror, then Terraform's implied
// local mirror directories on Linux. scripts/test-deps (run by make test) looks in the same places.
func providerMirrors() []string {
	dirs := []string{"/opt/tf-plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".terraform.d", "plugins"), filepath.Join(home, ".local", "share", "terraform", "plugins"))
	}
	return append(dirs, "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
}

// findProviderMirror returns a filesystem mirror directory holding hashicorp/aws 5.x for this
// platform, unpacked or packed, as `provider_installation { filesystem_mirror }` reads them.
func findProviderMirror() (string, error) {
	platform := runtime.GOOS + "_" + runtime.GOARCH
	has := func(dir string) bool {
		base := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws")
		unpacked, _ := filepath.Glob(filepath.Join(base, "5.*", platform, "terraform-provider-aws_*"))
		packed, _ := filepath.Glob(filepath.Join(base, "terraform-provider-aws_5.*_"+platform+".zip"))
		return len(unpacked)+len(packed) > 0
	}
	const want = "registry.terraform.io/hashicorp/aws/5.x/" + runtime.GOOS + "_" + runtime.GOARCH + "/terraform-provider-aws_*"
	if dir := os.Getenv("SHIPLOG_TF_PROVIDER_MIRROR"); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("SHIPLOG_TF_PROVIDER_MIRROR=%s holds no %s", dir, want)
		}
		return dir, nil
	}
	for _, dir := range providerMirrors() {
		if has(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no Terraform provider mirror with %s in %s: the provider cannot be fetched here; "+
		"put it in one (terraform providers mirror DIR, where the registry is reachable) or set SHIPLOG_TF_PROVIDER_MIRROR",
		want, strings.Join(providerMirrors(), ", "))
}

// terraform runs the Terraform CLI in a copy of terraform/ whose example's provider talks to moto.
type terraform struct {
	bin      string
	mirror   string // the provider mirror it installs from
	dir      string // the example's directory in the copy
	env      []string
	deadline func() (time.Time, bool)
}

// newTerraform finds the CLI and the provider mirror (failing, never skipping, when either is
// missing), copies terraform/ to a scratch directory (the repository's tree stays clean of
// .terraform and state files), points the example's provider at moto with an override file and
// runs terraform init.
func newTerraform(t *testing.T, motoURL string) *terraform {
	t.Helper()
	tf := terraformIn(t, terraformExample)
	// An override file merges into the example's provider block: the same configuration, with
	// every endpoint it calls on moto.
	writeFile(t, filepath.Join(tf.dir, "moto_override.tf"), fmt.Sprintf(`provider "aws" {
  access_key                  = %q
  secret_key                  = %q
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    ecs = %q
    ssm = %q
    sts = %q
  }
}
`, localaws.AccessKeyID, localaws.SecretAccessKey, motoURL, motoURL, motoURL))
	if out, err := tf.run("init", "-no-color"); err != nil {
		t.Fatalf("terraform init (provider mirror %s): %v\n%s", tf.mirror, err, out)
	}
	return tf
}

// terraformIn finds the CLI and the provider mirror (failing, never skipping, when either is
// missing) and copies terraform/ to a scratch directory, returning the CLI set to run in the copy
// of terraform/examples/{example}, with the hashicorp/aws provider from the mirror only and no
// AWS credentials or configuration of this machine.
func terraformIn(t *testing.T, example string) *terraform {
	t.Helper()
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("the terraform CLI is not on PATH: install Terraform 1.5 or later (this machine image carries 1.11; " +
			"go install github.com/hashicorp/terraform@v1.5.7 builds one from the Go module proxy)")
	}
	mirror, err := findProviderMirror()
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	if err := copyTree(filepath.Join(st.root, "terraform"), filepath.Join(scratch, "terraform")); err != nil {
		t.Fatal(err)
	}
	cliConfig := filepath.Join(scratch, "terraform.rc")
	writeFile(t, cliConfig, fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, mirror))
	tf := &terraform{bin: bin, mirror: mirror, dir: filepath.Join(scratch, "terraform", "examples", example), deadline: t.Deadline}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "TF_") {
			tf.env = append(tf.env, kv)
		}
	}
	tf.env = append(tf.env,
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	)
	return tf
}

// TestTerraformExamplesValidate runs terraform init (the provider from the mirror) and terraform
// validate in every example: their module calls, provider aliases (the accounts example's
// provider per account) and references are Terraform's to check, which tflint and the HCL tests
// of pkg/infra are not.
func TestTerraformExamplesValidate(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(st.root, "terraform", "examples", "*"))
	if err != nil || len(dirs) < 2 {
		t.Fatalf("examples under terraform/examples: %v (%v), want ecs_service and accounts at least", dirs, err)
	}
	for _, dir := range dirs {
		example := filepath.Base(dir)
		t.Run(example, func(t *testing.T) {
			tf := terraformIn(t, example)
			if out, err := tf.run("init", "-backend=false", "-no-color"); err != nil {
				t.Fatalf("terraform init (provider mirror %s): %v\n%s", tf.mirror, err, out)
			}
			out, err := tf.run("validate", "-json", "-no-color")
			var v struct {
				Valid       bool `json:"valid"`
				Diagnostics []struct {
					Severity, Summary, Detail string
				} `json:"diagnostics"`
			}
			if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
				t.Fatalf("terraform validate: %v (%v)\n%s", err, jerr, out)
			}
			if !v.Valid || err != nil || len(v.Diagnostics) > 0 {
				t.Errorf("terraform validate in %s: valid %t, %v, diagnostics %+v", example, v.Valid, err, v.Diagnostics)
			}
		})
	}
}

// run runs one terraform command in the example and returns its combined output. A slow machine
// is waited for: a command is only stopped shortly before the test's own deadline, so that a hung
// one (an ECS wait that never ends) fails with its output rather than as go test's panic.
func (tf *terraform) run(args ...string) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	if deadline, ok := tf.deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), deadline.Add(-time.Minute))
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, args...)
	cmd.Dir = tf.dir
	cmd.Env = tf.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// varsFile writes the example's variables: the network and cluster made on moto, no task kept
// running (moto runs none, so a steady-state wait for one would never end).
func (tf *terraform) varsFile(t *testing.T, n ecsNetwork) {
	t.Helper()
	vars := map[string]any{
		"region":             localaws.Region,
		"project_id":         "storage",
		"environment":        "stage",
		"execution_role_arn": "arn:aws:iam::123456789012:role/storage-task-execution",
		"log_group_name":     "storage",
		"cluster_arn":        n.cluster,
		"subnet_ids":         []string{n.subnet},
		"security_group_ids": []string{n.securityGroup},
		"desired_count":      0,
	}
	b, _ := json.MarshalIndent(vars, "", "  ")
	writeFile(t, filepath.Join(tf.dir, "terraform.tfvars.json"), string(b))
}

// planChange is one resource's change in `terraform show -json` of a saved plan.
type planChange struct {
	Address string `json:"address"`
	Change  struct {
		Actions      []string          `json:"actions"`
		Before       map[string]any    `json:"before"`
		After        map[string]any    `json:"after"`
		AfterUnknown map[string]any    `json:"after_unknown"`
		ReplacePaths [][]any           `json:"replace_paths"`
		Importing    map[string]string `json:"importing"`
	} `json:"change"`
}

// plan saves a plan and returns its resource changes that change something, by address.
func (tf *terraform) plan(t *testing.T, args ...string) map[string]planChange {
	t.Helper()
	if out, err := tf.run(append([]string{"plan", "-no-color", "-out=tfplan"}, args...)...); err != nil {
		t.Fatalf("terraform plan: %v\n%s", err, out)
	}
	out, err := tf.run("show", "-json", "tfplan")
	if err != nil {
		t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	var p struct {
		ResourceChanges []planChange `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("terraform show -json: %v: %.500s", err, out)
	}
	changes := map[string]planChange{}
	for _, c := range p.ResourceChanges {
		if !slices.Equal(c.Change.Actions, []string{"no-op"}) && !slices.Equal(c.Change.Actions, []string{"read"}) {
			changes[c.Address] = c
		}
	}
	return changes
}

// planFails runs a plan that must fail, and returns its output.
func (tf *terraform) planFails(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tf.run(append([]string{"plan", "-no-color"}, args...)...)
	if err == nil {
		t.Fatalf("terraform plan %v succeeded; want it refused:\n%s", args, out)
	}
	return out
}

// changed returns the attributes a planned update changes: those whose value differs, or that
// are unknown until applied.
func (c planChange) changed() []string {
	var names []string
	for k, after := range c.Change.After {
		if !cmp.Equal(c.Change.Before[k], after) {
			names = append(names, k)
		}
	}
	for k, unknown := range c.Change.AfterUnknown {
		if unknown == true && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// containerImages reads the container name -> image of a task definition's container_definitions.
func containerImages(t *testing.T, definitions string) map[string]string {
	t.Helper()
	var cs []struct {
		Name  string `json:"name"`
		Image string `json:"image"`
	}
	if err := json.Unmarshal([]byte(definitions), &cs); err != nil {
		t.Fatalf("container_definitions %q: %v", definitions, err)
	}
	m := map[string]string{}
	for _, c := range cs {
		m[c.Name] = c.Image
	}
	return m
}

// ecsNetwork is what the example's service is placed in, made on moto.
type ecsNetwork struct{ cluster, subnet, securityGroup string }

func (s *stack) ecsNetwork(t *testing.T) ecsNetwork {
	t.Helper()
	var cluster struct{ Cluster struct{ ClusterArn string } }
	var vpc struct{ Vpc struct{ VpcId string } }
	s.do(t, s.onMoto(&cluster, "ecs", "create-cluster", "--cluster-name", "storage"),
		s.onMoto(&vpc, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16"))
	var subnet struct{ Subnet struct{ SubnetId string } }
	var sg struct{ GroupId string }
	s.do(t, s.onMoto(&subnet, "ec2", "create-subnet", "--vpc-id", vpc.Vpc.VpcId, "--cidr-block", "10.0.1.0/24"),
		s.onMoto(&sg, "ec2", "create-security-group", "--vpc-id", vpc.Vpc.VpcId, "--group-name", "storage", "--description", "storage services"))
	return ecsNetwork{cluster: cluster.Cluster.ClusterArn, subnet: subnet.Subnet.SubnetId, securityGroup: sg.GroupId}
}

// running is what ECS on moto says the example's service runs: its task definition's ARN and
// that revision's container images.
func (s *stack) running(t *testing.T, n ecsNetwork) (string, map[string]string) {
	t.Helper()
	var services struct {
		Services []struct {
			ServiceName    string `json:"serviceName"`
			Status         string `json:"status"`
			TaskDefinition string `json:"taskDefinition"`
		} `json:"services"`
	}
	s.do(t, s.onMoto(&services, "ecs", "describe-services", "--cluster", n.cluster, "--services", "storage-stage"))
	if len(services.Services) != 1 || services.Services[0].Status != "ACTIVE" {
		t.Fatalf("ECS service storage-stage on moto: got %+v, want one ACTIVE", services.Services)
	}
	arn := services.Services[0].TaskDefinition
	var td struct {
		TaskDefinition struct {
			ContainerDefinitions []struct {
				Name  string `json:"name"`
				Image string `json:"image"`
			} `json:"containerDefinitions"`
		} `json:"taskDefinition"`
	}
	s.do(t, s.onMoto(&td, "ecs", "describe-task-definition", "--task-definition", arn))
	images := map[string]string{}
	for _, c := range td.TaskDefinition.ContainerDefinitions {
		images[c.Name] = c.Image
	}
	return arn, images
}

// deployedImages reads the parameters under an environment's label: service -> image.
func (s *stack) deployedImages(t *testing.T, env string) map[string]string {
	t.Helper()
	var params parametersResult
	s.do(t, s.parameters(shiplog.ParameterPath("storage", env), &params))
	m := map[string]string{}
	for _, p := range params.Parameters {
		m[strings.TrimPrefix(p.Name, shiplog.ParameterPath("storage", env))] = p.Value
	}
	return m
}

// onlyExample keeps the example's services of a service -> image map.
func onlyExample(m map[string]string) map[string]string {
	out := map[string]string{}
	for _, s := range exampleServices {
		if v, ok := m[s]; ok {
			out[s] = v
		}
	}
	return out
}

// mentionsOnce checks a failed plan says msg exactly once, in exactly one error.
func mentionsOnce(t *testing.T, out, msg string) {
	t.Helper()
	// Terraform wraps messages at 78 columns: compare with the line breaks gone.
	flat := strings.Join(strings.Fields(out), " ")
	if n := strings.Count(flat, msg); n != 1 {
		t.Errorf("the plan says %q %d times, want once:\n%s", msg, n, out)
	}
	if n := strings.Count(out, "Error: "); n != 1 {
		t.Errorf("the plan reports %d errors, want 1:\n%s", n, out)
	}
}

// TestTerraformAppliesTheDeployedImages is the seed's "our Terraform code reads from SSM to get
// which images to apply", run: the functions deploy, Terraform applies, ECS runs the digests.
func TestTerraformAppliesTheDeployedImages(t *testing.T) {
	tf := newTerraform(t, st.moto.URL)
	st.seed(t)
	f := &flow{s: st, m: newModel(st)}
	n := st.ecsNetwork(t)
	tf.varsFile(t, n)
	v1 := map[string]string{"archivist": st.images[archivistV1].uri, "notifier": st.images[notifierV1].uri}
	v2 := map[string]string{"archivist": st.images[archivistV2].uri, "notifier": st.images[notifierV1].uri}
	var firstRevision string

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"a label with no images is refused once, with the module's message", func(t *testing.T) {
			out := tf.planFails(t)
			mentionsOnce(t, out, `No images under /storage/images/stage/ in SSM Parameter Store`)
		}},
		{"create-release registers the manifest", f.register},
		{"ecr-push of tagged images sets latest", f.taggedPushes},
		{"create-release snapshots latest", f.createRelease},
		{"deploy to stage", f.deployStage},
		{"apply registers a task definition of exactly the digests deployed to stage", func(t *testing.T) {
			if got := onlyExample(st.deployedImages(t, "stage")); !maps.Equal(got, v1) {
				t.Fatalf("parameters under stage: got %v, want %v", got, v1)
			}
			changes := tf.plan(t)
			if got, want := slices.Sorted(maps.Keys(changes)), []string{"aws_ecs_service.storage", "aws_ecs_task_definition.storage"}; !slices.Equal(got, want) {
				t.Errorf("first plan changes %v, want %v", got, want)
			}
			if out, err := tf.run("apply", "-no-color", "tfplan"); err != nil {
				t.Fatalf("terraform apply: %v\n%s", err, out)
			}
			arn, images := st.running(t, n)
			if diff := cmp.Diff(v1, images); diff != "" {
				t.Errorf("images of the task definition ECS runs (-deployed +running):\n%s", diff)
			}
			out, err := tf.run("output", "-raw", "task_definition_arn")
			if err != nil || out != arn {
				t.Errorf("output task_definition_arn %q (%v), want the service's %s", out, err, arn)
			}
			firstRevision = arn
		}},
		{"a plan with nothing deployed since changes no task definition", func(t *testing.T) {
			changes := tf.plan(t)
			if c, ok := changes["aws_ecs_task_definition.storage"]; ok {
				t.Errorf("the task definition would %v: %v", c.Change.Actions, c.changed())
			}
			// moto's DescribeServices leaves out availabilityZoneRebalancing, which ECS returns,
			// so the provider plans to set it again; that attribute alone is moto's.
			if c, ok := changes["aws_ecs_service.storage"]; ok && !slices.Equal(c.changed(), []string{"availability_zone_rebalancing"}) {
				t.Errorf("the service would %v: %v", c.Change.Actions, c.changed())
			}
			delete(changes, "aws_ecs_service.storage")
			delete(changes, "aws_ecs_task_definition.storage")
			if len(changes) > 0 {
				t.Errorf("the plan changes %v", slices.Sorted(maps.Keys(changes)))
			}
		}},
		{"a newer push moves latest", f.newerPush},
		{"deploy latest to prod", f.deployLatestProd},
		{"api deploys release 2 to stage: only archivist changes", f.apiDeploy},
		{"the next plan replaces the task definition for archivist's new image and updates the service", func(t *testing.T) {
			changes := tf.plan(t)
			if got, want := slices.Sorted(maps.Keys(changes)), []string{"aws_ecs_service.storage", "aws_ecs_task_definition.storage"}; !slices.Equal(got, want) {
				t.Fatalf("plan changes %v, want %v", got, want)
			}
			td := changes["aws_ecs_task_definition.storage"]
			if a := td.Change.Actions; !slices.Equal(a, []string{"delete", "create"}) && !slices.Equal(a, []string{"create", "delete"}) {
				t.Errorf("task definition actions %v, want a replacement", a)
			}
			if got, want := td.Change.ReplacePaths, [][]any{{"container_definitions"}}; !cmp.Equal(got, want) {
				t.Errorf("task definition replaced for %v, want %v", got, want)
			}
			before := containerImages(t, td.Change.Before["container_definitions"].(string))
			after := containerImages(t, td.Change.After["container_definitions"].(string))
			if diff := cmp.Diff(v1, before); diff != "" {
				t.Errorf("images before (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(v2, after); diff != "" {
				t.Errorf("images after (-want +got):\n%s", diff)
			}
			svc := changes["aws_ecs_service.storage"]
			if !slices.Equal(svc.Change.Actions, []string{"update"}) {
				t.Errorf("service actions %v, want an update in place", svc.Change.Actions)
			}
			// availability_zone_rebalancing: moto's, as above.
			if got := slices.DeleteFunc(svc.changed(), func(a string) bool { return a == "availability_zone_rebalancing" }); !slices.Equal(got, []string{"task_definition"}) {
				t.Errorf("service update changes %v, want [task_definition]", got)
			}
			if out, err := tf.run("apply", "-no-color", "tfplan"); err != nil {
				t.Fatalf("terraform apply: %v\n%s", err, out)
			}
			arn, images := st.running(t, n)
			if diff := cmp.Diff(v2, images); diff != "" {
				t.Errorf("images of the task definition ECS runs (-deployed +running):\n%s", diff)
			}
			if arn == firstRevision {
				t.Errorf("the service still runs %s", arn)
			}
		}},
		{"a service with no parameter is refused once, naming it", func(t *testing.T) {
			st.do(t, st.onMoto(nil, "ssm", "delete-parameter", "--name", shiplog.ParameterName("storage", "stage", "notifier")))
			out := tf.planFails(t)
			mentionsOnce(t, out, `No image under /storage/images/stage/ for: notifier.`)
		}},
		{"destroy works with the parameters gone", func(t *testing.T) {
			var names []string
			for svc := range st.deployedImages(t, "stage") {
				names = append(names, shiplog.ParameterName("storage", "stage", svc))
			}
			st.do(t, st.onMoto(nil, append([]string{"ssm", "delete-parameters", "--names"}, names...)...))
			if got := st.deployedImages(t, "stage"); len(got) != 0 {
				t.Fatalf("parameters left under stage: %v", got)
			}
			if out, err := tf.run("destroy", "-no-color", "-auto-approve"); err != nil {
				t.Fatalf("terraform destroy: %v\n%s", err, out)
			}
			if out, err := tf.run("state", "list"); err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("terraform state list after destroy: %q (%v), want nothing", out, err)
			}
			var services struct {
				Services []struct {
					Status string `json:"status"`
				} `json:"services"`
			}
			st.do(t, st.onMoto(&services, "ecs", "describe-services", "--cluster", n.cluster, "--services", "storage-stage"))
			for _, s := range services.Services {
				if s.Status == "ACTIVE" {
					t.Errorf("the service is still ACTIVE after destroy")
				}
			}
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.fn) {
			t.Fatalf("step %q failed; the later steps depend on it", step.name)
		}
	}
}

// copyTree copies the .tf and lock files under src to dst, leaving out what init and apply
// leave behind.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(path, ".tf") && d.Name() != ".terraform.lock.hcl" && d.Name() != ".tflint.hcl" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
