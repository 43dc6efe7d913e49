package localaws

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PastPyenvShim returns the program a pyenv shim at path runs, or path if it is no shim or pyenv
// cannot say. A shim is a chain of shell scripts that finds the Python version on every call: on
// this machine it was more than half of each aws CLI call's time, and the tests make hundreds.
func PastPyenvShim(path string) string {
	shims := filepath.Dir(path)
	if filepath.Base(shims) != "shims" {
		return path
	}
	root := filepath.Dir(shims)
	for _, pyenv := range []string{filepath.Join(root, "bin", "pyenv"), filepath.Join(root, "libexec", "pyenv")} {
		cmd := exec.Command(pyenv, "which", filepath.Base(path))
		cmd.Env = append(os.Environ(), "PYENV_ROOT="+root)
		out, err := cmd.Output()
		if err != nil {
			continue
		}
		if real := strings.TrimSpace(string(out)); filepath.IsAbs(real) {
			if _, err := os.Stat(real); err == nil {
				return real
			}
		}
	}
	return path
}
