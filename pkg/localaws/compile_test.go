package localaws

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileLoopbackWithoutJDK gives the launcher's compile a java without jdk.compiler, as a
// JRE is: the error says so and how to install a JDK.
func TestCompileLoopbackWithoutJDK(t *testing.T) {
	jar, err := DynamoDBLocalJar()
	if err != nil {
		t.Fatal(err)
	}
	// What a JRE's java answers to -m jdk.compiler/...
	fake := filepath.Join(t.TempDir(), "java")
	script := "#!/bin/sh\necho 'Error occurred during initialization of boot layer' >&2\n" +
		"echo 'java.lang.module.FindException: Module jdk.compiler not found' >&2\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = compileLoopback(fake, jar, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no jdk.compiler module") || !strings.Contains(err.Error(), "apt-get install openjdk-17-jdk-headless") {
		t.Errorf("compileLoopback with a JRE's java: got %v, want an error naming jdk.compiler and how to install a JDK", err)
	}
}
