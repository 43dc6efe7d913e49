# tflint with only its bundled terraform ruleset (no plugin downloads, so it runs offline), every
# rule on. Run from the repository root:
#   tflint --chdir terraform --recursive --config "$PWD/terraform/.tflint.hcl"
plugin "terraform" {
  enabled = true
  preset  = "all"
}
