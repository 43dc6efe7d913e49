package awsapp

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/github"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The environment variables of the functions that deploy (deploy and api) for GitHub enrichment
// (docs/change-notes.md): the SSM SecureString parameter holding the token (the template's
// GitHubTokenParameter; empty: no enrichment) and the API's URL (GitHubApiUrl).
const (
	GitHubTokenParameterEnv = "SHIPLOG_GITHUB_TOKEN_PARAMETER"
	GitHubAPIURLEnv         = "SHIPLOG_GITHUB_API_URL"
)

// GitHubCommits returns the CommitHistory of the GitHub API at apiURL (github.DefaultAPIURL if
// empty) with the token in the SSM SecureString parameter named parameter, or nil (no
// enrichment, no call to SSM or GitHub) if parameter is empty. It makes no client and reads
// nothing now: the first range to read reads the token (one ssm:GetParameter, decrypted), and
// keeps it for the life of the function. A token it cannot read is that range's error, which
// the deploy notes on the range as it notes GitHub's (CommitsUnknown); it is read again on the
// next use. The stack's ParameterPrefix does not apply to parameter.
func GitHubCommits(cfg aws.Config, parameter, apiURL string) (shiplog.CommitHistory, error) {
	if parameter == "" {
		return nil, nil
	}
	if !strings.HasPrefix(parameter, "/") || strings.HasSuffix(parameter, "/") || strings.Contains(parameter, "//") {
		return nil, fmt.Errorf("%s: %q is not an SSM parameter name of the form /a/b", GitHubTokenParameterEnv, parameter)
	}
	if apiURL == "" {
		apiURL = github.DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: %q is not an http(s) URL", GitHubAPIURLEnv, apiURL)
	}
	// github.com's repositories, unless the API is GitHub Enterprise Server's
	// (https://HOST/api/v3), which serves the repositories of its own web host.
	host := "github.com"
	if strings.TrimSuffix(u.Path, "/") == "/api/v3" {
		host = u.Hostname()
	}
	return &tokenCommits{cfg: cfg, parameter: parameter, apiURL: apiURL, host: host}, nil
}

// tokenCommits reads the token on first use, then delegates to a github.Client.
type tokenCommits struct {
	cfg       aws.Config
	parameter string
	apiURL    string
	host      string

	mu     sync.Mutex
	client *github.Client // nil until the token is read
}

func (c *tokenCommits) Commits(ctx context.Context, repo, base, head string) ([]shiplog.Commit, bool, error) {
	gh, err := c.github(ctx)
	if err != nil {
		return nil, false, err
	}
	return gh.Commits(ctx, repo, base, head)
}

func (c *tokenCommits) github(ctx context.Context) (*github.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	out, err := ssm.NewFromConfig(c.cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(c.parameter), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("github token: reading the SSM parameter %s: %w", c.parameter, err)
	}
	token := strings.TrimSpace(aws.ToString(out.Parameter.Value))
	if token == "" {
		return nil, fmt.Errorf("github token: the SSM parameter %s is empty", c.parameter)
	}
	c.client = &github.Client{APIURL: c.apiURL, Token: token, Host: c.host}
	return c.client, nil
}
