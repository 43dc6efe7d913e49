package shiplog

import "strings"

// Validate checks a deploy request as given, before anything is read or written.
func (in DeployInput) Validate() error {
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return err
	}
	switch {
	case in.FromEnvironment != "" && in.ReleaseID != "":
		return Errorf(Invalid, "release_id and from_environment: give one of them, not both")
	case in.FromEnvironment != "":
		if err := ValidateID("from_environment", in.FromEnvironment); err != nil {
			return err
		}
	case in.ReleaseID == "":
		return Errorf(Invalid, "release_id: is required (a release id, or %q), or from_environment to promote", LatestRelease)
	default:
		if err := ValidateID("release_id", in.ReleaseID); err != nil {
			return err
		}
	}
	// A registration from before environments named like labels were refused may still have one.
	if err := validateEnvironmentID("environment", in.Environment); err != nil {
		return err
	}
	if err := validateDescription("description", in.Description); err != nil {
		return err
	}
	// An override reason makes the deploy pass locks, freezes and gates: a blank one would pass
	// them saying nothing. "" is no override.
	if in.OverrideReason != "" && strings.TrimSpace(in.OverrideReason) == "" {
		return Errorf(Invalid, "override_reason: is blank: say why the deploy passes the environment's lock, freezes and gates")
	}
	if err := validateDescription("override_reason", in.OverrideReason); err != nil {
		return err
	}
	return in.RequestedBy.Validate()
}
