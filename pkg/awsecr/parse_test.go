package awsecr

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// imageRule is the regular expression parseImage replaces.
var imageRule = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z]{2}(?:-[a-z0-9]+)+-[0-9]+)\.amazonaws\.com(?:\.cn)?/` +
	`((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)@(sha256:[0-9a-f]{64})$`)

func TestParseImageAgreesWithItsExpression(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	samples := []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/app-1@" + digest,
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a.b_c/d@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/App@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + strings.Repeat("A", 64),
		"12345678901.dkr.ecr.us-east-1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.useast-1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us-east.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us--1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com//app@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digest + "0",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digest + "@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.cn.cn/app@" + digest,
		"",
	}
	pieces := []string{"1", "0", "a", "z", "A", "-", ".", "_", "/", "@", ":", "sha256:", "dkr.ecr.", ".amazonaws.com", ".cn", "us", "east", "123456789012", strings.Repeat("f", 64)}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		s := samples[r.IntN(3)]
		// Replace, insert or delete a piece somewhere in a valid URI: near misses.
		i := r.IntN(len(s) + 1)
		j := min(len(s), i+r.IntN(4))
		samples = append(samples, s[:i]+pieces[r.IntN(len(pieces))]+s[j:])
	}
	for _, s := range samples {
		im, ok := parseImage(s)
		m := imageRule.FindStringSubmatch(s)
		if (m != nil) != ok {
			t.Errorf("parseImage(%q) ok = %v, the rule says %v", s, ok, m != nil)
			continue
		}
		if ok && (im.Account != m[1] || im.Region != m[2] || im.Repository != m[3] || im.Digest != m[4]) {
			t.Errorf("parseImage(%q) = %+v, the rule reads %q", s, im, m[1:])
		}
	}
}
