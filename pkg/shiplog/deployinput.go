package shiplog

// Validate checks a deploy request as given, before anything is read or written.
func (in DeployInput) Validate() error {
	if err := ValidateID("project_id", in.ProjectID); err != nil {
		return err
	}
	if in.ReleaseID == "" {
		return Errorf(Invalid, "release_id: is required (a release id, or %q)", LatestRelease)
	}
	if err := ValidateID("release_id", in.ReleaseID); err != nil {
		return err
	}
	// A registration from before environments named like labels were refused may still have one.
	if err := validateEnvironmentID("environment", in.Environment); err != nil {
		return err
	}
	if err := validateDescription("description", in.Description); err != nil {
		return err
	}
	return in.RequestedBy.Validate()
}
