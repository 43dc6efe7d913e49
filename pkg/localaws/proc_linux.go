package localaws

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the server in a process group of its own, so that Close stops whatever it
// spawned too, and has the kernel kill it if the test binary dies without cleaning up (a shared
// server in a package without TestMain, a panic, ^C).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
