// Package version says which shiplog this is: the CLI's --version, the User-Agent of its
// requests, and the dashboard's footer read it from here.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is set at build time with
//
//	go build -ldflags "-X github.com/shiplog/shiplog/pkg/version.Version=v1.2.3"
//
// When it is empty, String falls back to what the Go toolchain recorded in the binary: the
// module's version (go install ...@v1.2.3) or the VCS revision it was built from.
var Version string

// String returns the version: Version if set, else the module version, else the VCS revision
// (first 12 characters, "+dirty" when the work tree had changes), else "devel".
func String() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel-" + rev
	if dirty {
		v += "+dirty"
	}
	return v
}

// UserAgent is the User-Agent of shiplog's HTTP requests: "shiplog/VERSION", and a product
// name after it, e.g. UserAgent("cli") is "shiplog-cli/v1.2.3".
func UserAgent(product string) string {
	name := "shiplog"
	if product = strings.TrimSpace(product); product != "" {
		name += "-" + product
	}
	return name + "/" + String()
}
