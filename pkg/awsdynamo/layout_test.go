package awsdynamo

import (
	"sort"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The state table's key layout, as the tests assert it (pkg/ledger's keys.go writes it): items
// stay where the first store put them, so that its tables are read as they are.

func projectKey(projectID string) item { return stateKey("projects", projectID) }

func repoKey(repository, projectID string) item { return stateKey("repo#"+repository, projectID) }

func envKey(projectID, env string) item { return stateKey("project#"+projectID, "env#"+env) }

func deploySK(id string) string { return "deploy#" + id }

func envDeploySK(env, id string) string { return "envdeploy#" + env + "#" + id }

// releaseItem is a release's item as the store writes it.
func releaseItem(r shiplog.Release) (item, error) {
	if r.Images == nil {
		r.Images = map[string]string{}
	}
	if r.Deployments == nil {
		r.Deployments = []shiplog.Deployment{}
	}
	return marshal(r)
}

// deploymentItem is one of a deployment's listing items.
func deploymentItem(rec shiplog.DeploymentRecord, sk string) (item, error) {
	m, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	m[attrPK], m[attrSK] = str("project#"+rec.ProjectID), str(sk)
	return m, nil
}

// projectRecord is what the tests read of a project's item.
type projectRecord struct {
	Version            int64    `json:"version"`
	MappedRepositories []string `json:"mapped_repositories"`
	Unfinished         bool     `json:"unfinished"`
}

func decodeProject(m item) (struct{}, projectRecord, error) {
	var rec projectRecord
	err := unmarshal(m, &rec)
	return struct{}{}, rec, err
}

func sortedUnique(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Attribute names the tests look at.
const (
	attrLastDeploy  = "last_date_deployed"
	attrPending     = "pending"
	attrLocked      = "locked_until"
	attrDeployments = "deployments"
)
