package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// The help: one table of exit codes, in its own topic, and examples on every command.

// exitCodesCommand is the help topic `shiplog help exit-codes`: the one place the exit codes
// are listed, which every command's help points to.
func exitCodesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "What shiplog's exit codes mean, for scripts",
		Long: exitCodesHelp + `

Under -o json (or -o yaml) an error is also written to stderr as JSON (or YAML):
  {"error": {"kind": "NotFound", "message": "...", "exit_code": 3}}`,
	}
}

// examples are each command's examples, by command path without "shiplog ".
var examples = map[string]string{
	"projects":         "shiplog projects\nshiplog projects -o json",
	"project show":     "shiplog project show storage",
	"project register": "shiplog project register -f .wellcome_project\nshiplog project register -f .wellcome_project --project storage --retire qa",
	"images":           "shiplog images storage            # the newest pushes (label latest)\nshiplog images storage prod       # what prod runs",
	"releases":         "shiplog releases storage\nshiplog releases storage --limit 5 -o yaml",
	"release show":     "shiplog release show storage latest\nshiplog release show storage 3Q4W5E6R   # the last 8 characters tables show",
	"release create":   "shiplog release create storage --description \"weekly\"\nshiplog release create storage --label stage   # what stage runs, as a release",
	"diff":             "shiplog diff storage prod latest\nshiplog diff storage stage prod\nshiplog diff storage environment:stage release:3Q4W5E6R",
	"history":          "shiplog history storage\nshiplog history storage prod --limit 5",
	"status":           "shiplog status storage\nshiplog status storage prod",
	"events":           "shiplog events storage --since 7d\nshiplog events storage --type deployment.failed",
	"metrics":          "shiplog metrics storage prod\nshiplog metrics storage prod --since 90d",
	"deploy":           "shiplog deploy storage stage latest\nshiplog deploy storage prod 3Q4W5E6R --wait verified\nshiplog deploy storage prod 3Q4W5E6R --override \"hotfix for INC-42\" --yes",
	"promote":          "shiplog promote storage stage prod\nshiplog promote storage stage prod --yes --no-wait",
	"rollback":         "shiplog rollback storage prod --reason \"notifier errors\"\nshiplog rollback storage prod --reason \"bad config\" --hold --to 9U0I1O2P",
	"wait":             "shiplog wait storage 9U0I1O2P\nshiplog wait storage 9U0I1O2P --for verified --timeout 1h",
	"lock":             "shiplog lock storage prod --reason \"db migration\" --expires 2h",
	"unlock":           "shiplog unlock storage prod",
	"approve":          "shiplog approve storage prod 3Q4W5E6R\nshiplog approve storage prod 3Q4W5E6R --withdraw",
	"approvals":        "shiplog approvals storage prod 3Q4W5E6R",
	"freeze set":       "shiplog freeze set storage xmas --starts 2026-12-20 --ends 2027-01-04 --reason \"holidays\"\nshiplog freeze set storage release-week --environments prod --ends 3d --reason \"release week\"",
	"freeze list":      "shiplog freeze list storage",
	"freeze delete":    "shiplog freeze delete storage xmas",
	"report":           "shiplog report storage 9U0I1O2P verified --detail \"smoke tests pass\"\nshiplog report storage 9U0I1O2P failed --detail \"5xx on /health\"",
	"ui":               "shiplog ui\nshiplog ui --api https://abc123.execute-api.eu-west-1.amazonaws.com",
	"serve":            "shiplog serve\nshiplog serve --addr 127.0.0.1:9090 --data /tmp/shiplog.db",
	"completion":       "source <(shiplog completion bash)\nshiplog completion zsh > \"${fpath[1]}/_shiplog\"\nshiplog completion fish > ~/.config/fish/completions/shiplog.fish",
}

// addExamples sets each command's examples, indented as cobra shows them.
func addExamples(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if ex, ok := examples[path]; ok && c.Example == "" {
			c.Example = "  " + strings.ReplaceAll(ex, "\n", "\n  ")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
