package shiplog

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The regular expressions the loops of names.go replace: the rules as the AWS documentation
// writes them. Each loop must agree with its expression on every string tried.
var (
	idRule         = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	repositoryRule = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	ecsNameRule    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	imageTagRule   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,299}$`)
	clusterARNRule = regexp.MustCompile(`^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/([A-Za-z0-9_-]{1,255})$`)
	serviceARNRule = regexp.MustCompile(`^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service/(?:([A-Za-z0-9_-]{1,255})/)?([A-Za-z0-9_-]{1,255})$`)
)

// nameSamples returns hand-picked strings at each rule's edges, and random ones built from the
// pieces the rules are made of, so that most are near misses rather than noise.
func nameSamples() []string {
	long := strings.Repeat("a", 255)
	samples := []string{
		"", "a", "A", "0", ".", "..", "a.b", "a..b", "-a", "a-", "a_b", "a__b", "a/b", "/a", "a/", "a//b",
		"ab", "a.b/c-d_e", "A/b", "a b", "é", long, long + "a", "_a", ".a", "v1.2.3-rc_1", "a\u202eb",
		strings.Repeat("a", 300), strings.Repeat("a", 301),
		"arn:aws:ecs:us-east-1:123456789012:cluster/prod",
		"arn:aws-cn:ecs:cn-north-1:123456789012:cluster/prod",
		"arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/" + long,
		"arn:aws:ecs:us-east-1:123456789012:cluster/" + long + "a",
		"arn:aws:ecs:us-east-1:12345678901:cluster/prod",
		"arn:aws:ecs:us-east-1:1234567890123:cluster/prod",
		"arn:aws:ecs::123456789012:cluster/prod",
		"arn:aws:ecs:US-east-1:123456789012:cluster/prod",
		"arn:aws1:ecs:us-east-1:123456789012:cluster/prod",
		"arn:aws:ecs:us-east-1:123456789012:cluster/",
		"arn:aws:ecs:us-east-1:123456789012:cluster/a/b",
		"arn:aws:ecs:us-east-1:123456789012:service/prod/web",
		"arn:aws:ecs:us-east-1:123456789012:service/web",
		"arn:aws:ecs:us-east-1:123456789012:service//web",
		"arn:aws:ecs:us-east-1:123456789012:service/prod/",
		"arn:aws:ecs:us-east-1:123456789012:service/a/b/c",
		"arn:aws:ecs:us-east-1:123456789012:service/" + long + "/" + long,
		"arn:aws:ecs:us-east-1:123456789012:service/" + long + "a/web",
	}
	pieces := []string{"a", "z", "0", "9", "A", "Z", ".", "_", "-", "/", ":", " ", "é", "ecs", "arn:aws", "123456789012", "cluster/", "service/"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteString([]string{"arn:aws:ecs:us-east-1:123456789012:", "arn:aws-cn:ecs:r:123456789012:", "arn:aws:ecs:a:12345678901:"}[r.IntN(3)])
			b.WriteString([]string{"cluster/", "service/", "task/"}[r.IntN(3)])
		}
		for range r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		samples = append(samples, b.String())
	}
	return samples
}

func TestNameRulesAgreeWithTheirExpressions(t *testing.T) {
	for _, s := range nameSamples() {
		if got, want := isIDChars(s), idRule.MatchString(s); got != want {
			t.Errorf("isIDChars(%q) = %v, the rule says %v", s, got, want)
		}
		if got, want := IsRepositoryName(s), repositoryRule.MatchString(s); got != want {
			t.Errorf("IsRepositoryName(%q) = %v, the rule says %v", s, got, want)
		}
		if got, want := IsECSName(s), ecsNameRule.MatchString(s); got != want {
			t.Errorf("IsECSName(%q) = %v, the rule says %v", s, got, want)
		}
		if got, want := IsImageTag(s), imageTagRule.MatchString(s); got != want {
			t.Errorf("IsImageTag(%q) = %v, the rule says %v", s, got, want)
		}
		name, ok := ParseECSClusterARN(s)
		if m := clusterARNRule.FindStringSubmatch(s); (m != nil) != ok || ok && name != m[1] {
			t.Errorf("ParseECSClusterARN(%q) = %q, %v; the rule matches %q", s, name, ok, m)
		}
		cluster, service, ok := ParseECSServiceARN(s)
		if m := serviceARNRule.FindStringSubmatch(s); (m != nil) != ok || ok && (cluster != m[1] || service != m[2]) {
			t.Errorf("ParseECSServiceARN(%q) = %q, %q, %v; the rule matches %q", s, cluster, service, ok, m)
		}
	}
}
