// Package lambdaconfig builds the aws.Config of a Lambda function from the environment Lambda
// gives it, without the SDK's config package. That package resolves profiles, shared files, SSO,
// web identity and role chains, and so links the STS, SSO, SSO-OIDC and sign-in clients and
// runs their package init on every cold start; a Lambda function uses none of them. The local
// CLI (cmd/shiplog), where a person's profile matters, keeps the full config.
//
// Load reads:
//   - the region: AWS_REGION, else AWS_DEFAULT_REGION (Lambda sets both);
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (what Lambda
//     sets for the execution role), else the container credentials endpoint
//     (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN
//     or _TOKEN_FILE), as Lambda uses under SnapStart; AWS_ACCOUNT_ID, if set, goes with the keys;
//   - endpoints: AWS_ENDPOINT_URL, and AWS_ENDPOINT_URL_<SERVICE> over it for one service,
//     unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true;
//   - AWS_CA_BUNDLE, a PEM file of certificates to trust, if set (Lambda does not set it).
//
// Each is read with the SDK's precedence, so the same environment means the same thing here
// and under config.LoadDefaultConfig.
package lambdaconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
)

// The environment variables Load reads, by the SDK's names.
const (
	regionEnv                = "AWS_REGION"
	defaultRegionEnv         = "AWS_DEFAULT_REGION"
	accessKeyIDEnv           = "AWS_ACCESS_KEY_ID"
	accessKeyEnv             = "AWS_ACCESS_KEY" // the SDK's older name for the key id
	secretAccessKeyEnv       = "AWS_SECRET_ACCESS_KEY"
	secretKeyEnv             = "AWS_SECRET_KEY" // the SDK's older name for the secret
	sessionTokenEnv          = "AWS_SESSION_TOKEN"
	accountIDEnv             = "AWS_ACCOUNT_ID"
	containerFullURIEnv      = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	containerRelativeURIEnv  = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
	containerTokenEnv        = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	containerTokenFileEnv    = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	endpointURLEnv           = "AWS_ENDPOINT_URL"
	ignoreConfiguredEndpoint = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	caBundleEnv              = "AWS_CA_BUNDLE"
)

// containerHost is where a relative container credentials URI points, as the SDK has it: a
// variable only so that the tests can point it at a local server.
var containerHost = "http://169.254.170.2"

// Load returns the configuration the environment describes, or an error that names what is
// missing or wrong. Credentials from an endpoint are fetched on the first call, not here.
func Load() (aws.Config, error) {
	cfg := aws.Config{}
	var errs []error

	cfg.Region = os.Getenv(regionEnv)
	if cfg.Region == "" {
		cfg.Region = os.Getenv(defaultRegionEnv)
	}
	if cfg.Region == "" {
		errs = append(errs, fmt.Errorf("%s is not set: it names the AWS region (Lambda sets it)", regionEnv))
	}

	creds, err := credentialsFromEnv()
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Credentials = creds

	ignore, err := ignoreConfiguredEndpoints()
	if err != nil {
		errs = append(errs, err)
	}
	if !ignore {
		if u := os.Getenv(endpointURLEnv); u != "" {
			cfg.BaseEndpoint = aws.String(u)
		}
	}
	// The service clients look up AWS_ENDPOINT_URL_<SERVICE> through ConfigSources.
	cfg.ConfigSources = []any{endpointSource{ignore: ignore}}

	if path := os.Getenv(caBundleEnv); path != "" {
		client, err := trusting(path)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.HTTPClient = client
	}

	if err := errors.Join(errs...); err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration from the environment: %w", err)
	}
	return cfg, nil
}

// credentialsFromEnv picks the credentials in the order the SDK's default chain would for an
// environment without shared files: keys in the environment, then the container endpoint.
func credentialsFromEnv() (aws.CredentialsProvider, error) {
	id := firstSet(accessKeyIDEnv, accessKeyEnv)
	secret := firstSet(secretAccessKeyEnv, secretKeyEnv)
	if id != "" && secret != "" {
		return credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID:     id,
			SecretAccessKey: secret,
			SessionToken:    os.Getenv(sessionTokenEnv),
			AccountID:       os.Getenv(accountIDEnv),
			Source:          "EnvConfigCredentials",
		}}, nil
	}

	var endpoint string
	if full := os.Getenv(containerFullURIEnv); full != "" {
		if err := checkContainerURI(full); err != nil {
			return nil, err
		}
		endpoint = full
	} else if rel := os.Getenv(containerRelativeURIEnv); rel != "" {
		endpoint = containerHost + rel
	}
	if endpoint == "" {
		var half string
		switch {
		case id != "":
			half = fmt.Sprintf(" (%s is set but %s is not)", accessKeyIDEnv, secretAccessKeyEnv)
		case secret != "":
			half = fmt.Sprintf(" (%s is set but %s is not)", secretAccessKeyEnv, accessKeyIDEnv)
		}
		return nil, fmt.Errorf("no AWS credentials in the environment%s: want %s and %s (with %s), or %s or %s",
			half, accessKeyIDEnv, secretAccessKeyEnv, sessionTokenEnv, containerFullURIEnv, containerRelativeURIEnv)
	}

	token, tokenFile := os.Getenv(containerTokenEnv), os.Getenv(containerTokenFileEnv)
	provider := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		if tokenFile != "" {
			// Read on every refresh: the file is rotated under a running function.
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("read %s %s: %w", containerTokenFileEnv, tokenFile, err)
				}
				return strings.TrimSpace(string(b)), nil
			})
		}
	})
	return aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 5 * time.Minute // refresh ahead, as the SDK does for this provider
	}), nil
}

// checkContainerURI refuses a full container credentials URI that would send the token in the
// clear anywhere but to this machine or the container agents' link-local addresses: the rule the
// SDK applies to it.
func checkContainerURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%s %q is not a URL with a host", containerFullURIEnv, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
	default:
		return fmt.Errorf("%s %q: want an http or https URL", containerFullURIEnv, raw)
	}
	host := u.Hostname()
	addrs := []string{host}
	if net.ParseIP(host) == nil {
		if addrs, err = net.LookupHost(host); err != nil {
			return fmt.Errorf("%s %q: resolve %s: %w", containerFullURIEnv, raw, host, err)
		}
	}
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || !(ip.IsLoopback() || ip.Equal(net.IPv4(169, 254, 170, 2)) || ip.Equal(net.IPv4(169, 254, 170, 23)) ||
			ip.Equal(net.ParseIP("fd00:ec2::23"))) {
			return fmt.Errorf("%s %q: over plain http only a loopback or container agent host (169.254.170.2, 169.254.170.23, fd00:ec2::23) is allowed",
				containerFullURIEnv, raw)
		}
	}
	return nil
}

func ignoreConfiguredEndpoints() (bool, error) {
	v := os.Getenv(ignoreConfiguredEndpoint)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s is %q: want true or false", ignoreConfiguredEndpoint, v)
	}
	return b, nil
}

// endpointSource answers the service clients' question for AWS_ENDPOINT_URL_<SERVICE>: it has
// the methods of the SDK's internal configsources interfaces, which the clients look for in
// aws.Config.ConfigSources.
type endpointSource struct{ ignore bool }

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SDK ID>, the id upper-cased with spaces as
// underscores (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_ECR).
func (s endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if s.ignore {
		return "", false, nil
	}
	v := os.Getenv(endpointURLEnv + "_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s endpointSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.ignore, s.ignore, nil
}

// trusting returns an HTTP client that trusts the certificates of the PEM file at path, besides
// the system's, as the SDK does with AWS_CA_BUNDLE.
func trusting(path string) (*awshttp.BuildableClient, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", caBundleEnv, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s holds no PEM certificate", caBundleEnv, path)
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}), nil
}

func firstSet(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
