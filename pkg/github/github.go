// Package github reads what a range of revisions holds from the GitHub REST API: each commit's
// title and author, and the pull requests it belongs to (docs/change-notes.md, "Commits from
// GitHub"). It is optional: without a token shiplog makes no call to GitHub at all.
package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// DefaultAPIURL is github.com's API. GitHub Enterprise Server's is https://{host}/api/v3.
const DefaultAPIURL = "https://api.github.com"

// MaxCommits bounds the commits read for one range (and so the pull-request look-ups, one per
// commit): a range longer than that is marked truncated, its newest commits kept.
const MaxCommits = 30

// Client reads commits from one GitHub API.
type Client struct {
	// APIURL is the API's base URL (DefaultAPIURL if empty); tests point it at a local server.
	APIURL string
	// Token authenticates every call (a fine-grained token with Contents and Pull requests
	// read). Empty: Commits makes no call and returns nothing.
	Token string
	// Host is the web host whose repositories this API serves ("github.com" if empty): a range
	// of a repository on any other host is not read.
	Host string
	HTTP *http.Client
}

// Commits returns the commits from base (excluded) to head in repo (a web URL such as
// https://github.com/org/repo), oldest first, each with its pull requests; truncated is set when
// the range held more than MaxCommits. A repository of another host, or no token, gives nothing
// and no call.
func (c *Client) Commits(ctx context.Context, repo, base, head string) (commits []shiplog.Commit, truncated bool, err error) {
	if c == nil || c.Token == "" {
		return nil, false, nil
	}
	owner, name, ok := c.repository(repo)
	if !ok || base == "" || head == "" {
		return nil, false, nil
	}
	var cmp struct {
		TotalCommits int `json:"total_commits"`
		Commits      []struct {
			SHA    string `json:"sha"`
			Commit struct {
				Message string `json:"message"`
				Author  struct {
					Name string `json:"name"`
				} `json:"author"`
			} `json:"commit"`
			Author *struct {
				Login string `json:"login"`
			} `json:"author"`
		} `json:"commits"`
	}
	path := fmt.Sprintf("/repos/%s/%s/compare/%s...%s", url.PathEscape(owner), url.PathEscape(name), url.PathEscape(base), url.PathEscape(head))
	if err := c.get(ctx, path, &cmp); err != nil {
		return nil, false, err
	}
	list := cmp.Commits
	if len(list) > MaxCommits {
		list, truncated = list[len(list)-MaxCommits:], true
	}
	if cmp.TotalCommits > len(cmp.Commits) {
		truncated = true
	}
	for _, gc := range list {
		cm := shiplog.Commit{SHA: gc.SHA, Title: firstLine(gc.Commit.Message), Author: gc.Commit.Author.Name}
		if gc.Author != nil && gc.Author.Login != "" {
			cm.Author = gc.Author.Login
		}
		var pulls []struct {
			Number int `json:"number"`
		}
		if err := c.get(ctx, fmt.Sprintf("/repos/%s/%s/commits/%s/pulls", url.PathEscape(owner), url.PathEscape(name), url.PathEscape(gc.SHA)), &pulls); err != nil {
			return nil, false, err
		}
		for _, p := range pulls {
			cm.PullRequests = append(cm.PullRequests, p.Number)
		}
		commits = append(commits, cm)
	}
	return commits, truncated, nil
}

// repository returns the owner and name of a repository URL of the client's host.
func (c *Client) repository(repo string) (owner, name string, ok bool) {
	u, err := url.Parse(repo)
	if err != nil {
		return "", "", false
	}
	host := c.Host
	if host == "" {
		host = "github.com"
	}
	if !strings.EqualFold(u.Hostname(), host) {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	base := strings.TrimSuffix(c.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return fmt.Errorf("github: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "shiplog")
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("github: GET %s: %w", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("github: GET %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("github: GET %s: %s: %s", path, res.Status, e.Message)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("github: GET %s: the answer is not the JSON expected: %w", path, err)
	}
	return nil
}

// firstLine is a commit message's title: its first line, at most 200 characters.
func firstLine(msg string) string {
	title, _, _ := strings.Cut(msg, "\n")
	title = strings.TrimSpace(title)
	if r := []rune(title); len(r) > 200 {
		title = string(r[:199]) + "…"
	}
	return title
}
