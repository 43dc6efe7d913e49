package shiplog

import "strings"

// The name rules below are written as loops rather than regular expressions: a package-level
// regexp is compiled in every Lambda cold start, and ECS's {1,255} repetitions alone compiled to
// thousands of allocations before the first invoke. names_test.go holds each one to the regular
// expression it replaces.

// isIDChars reports whether s is one or more letters, digits, '.', '_' and '-'.
func isIDChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// IsRepositoryName reports whether s follows ECR's rule for repository names (the
// CreateRepository documentation) apart from its length: '/'-separated components, each of
// lower-case letters and digits, with single '.', '_' or '-' between them.
func IsRepositoryName(s string) bool {
	for _, part := range strings.Split(s, "/") {
		if part == "" || !isLowerAlnum(part[0]) || !isLowerAlnum(part[len(part)-1]) {
			return false
		}
		for i := 1; i < len(part); i++ {
			c := part[i]
			sep := c == '.' || c == '_' || c == '-'
			if !sep && !isLowerAlnum(c) || sep && !isLowerAlnum(part[i-1]) {
				return false
			}
		}
	}
	return true
}

// MaxImageTagLength is the longest image tag ECR takes (PutImage's imageTag).
const MaxImageTagLength = 300

// IsImageTag reports whether s is an image tag as the OCI distribution spec writes them,
// [a-zA-Z0-9_][a-zA-Z0-9._-]*, up to ECR's MaxImageTagLength.
func IsImageTag(s string) bool {
	if s == "" || len(s) > MaxImageTagLength || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// IsECSName reports whether s is an ECS cluster or service name: 1 to 255 letters, digits, '-'
// and '_' (the CreateCluster and CreateService documentation).
func IsECSName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ecsResource returns what follows "{kind}/" in an ECS ARN,
// arn:aws[a-z-]*:ecs:{region}:{account}:{kind}/..., with the region [a-z0-9-]+ and the account
// twelve digits.
func ecsResource(arn, kind string) (string, bool) {
	_, rest, ok := parseECSARN(arn)
	if !ok {
		return "", false
	}
	return strings.CutPrefix(rest, kind+"/")
}

// parseECSARN splits an ECS ARN into where it is and its resource ("{kind}/...").
func parseECSARN(arn string) (Location, string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws")
	if !ok {
		return Location{}, "", false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	if !ok || strings.IndexFunc(partition, func(r rune) bool { return (r < 'a' || r > 'z') && r != '-' }) >= 0 {
		return Location{}, "", false
	}
	rest, ok = strings.CutPrefix(rest, "ecs:")
	if !ok {
		return Location{}, "", false
	}
	region, rest, ok := strings.Cut(rest, ":")
	if !ok || !isRegion(region) {
		return Location{}, "", false
	}
	account, rest, ok := strings.Cut(rest, ":")
	if !ok || !isAccount(account) {
		return Location{}, "", false
	}
	return Location{Account: account, Region: region}, rest, true
}

// isRegion reports whether s is shaped like an AWS region: one or more of [a-z0-9-].
func isRegion(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' }) < 0
}

// isAccount reports whether s is an AWS account id: twelve digits.
func isAccount(s string) bool {
	return len(s) == 12 && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// ECSARNLocation returns the account and region of an ECS ARN.
func ECSARNLocation(arn string) (Location, bool) {
	where, _, ok := parseECSARN(arn)
	return where, ok
}

// ParseECSClusterARN returns the cluster name of an ECS cluster ARN
// (arn:aws:ecs:{region}:{account}:cluster/{name}).
func ParseECSClusterARN(arn string) (string, bool) {
	name, ok := ecsResource(arn, "cluster")
	if !ok || !IsECSName(name) {
		return "", false
	}
	return name, true
}

// ParseECSServiceARN returns the cluster and service names of an ECS service ARN: the long form
// (service/{cluster}/{service}) or the old short form (service/{service}), which names no cluster
// (cluster is then "").
func ParseECSServiceARN(arn string) (cluster, service string, ok bool) {
	rest, ok := ecsResource(arn, "service")
	if !ok {
		return "", "", false
	}
	cluster, service, long := strings.Cut(rest, "/")
	if !long {
		cluster, service = "", rest
	}
	if long && !IsECSName(cluster) || !IsECSName(service) {
		return "", "", false
	}
	return cluster, service, true
}
