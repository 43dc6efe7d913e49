package awsecr

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// FindingsActions are the IAM actions ScanFindings calls, on the images' repositories.
var FindingsActions = []string{"ecr:DescribeImageScanFindings"}

var _ shiplog.Findings = (*Registry)(nil)

// findingsPage is the page size of the calls that count findings one by one, when ECR gives
// no counts (ECR's largest page).
const findingsPage = 1000

// ScanFindings reads each image's scan findings, basic or enhanced, in the account and region
// its URI names: one DescribeImageScanFindings per image (up to checkers at once), asking for
// one finding, since the answer's findingSeverityCounts sums them all; only an answer without
// counts is paged through and its findings counted by severity. Enhanced scanning's UNTRIAGED
// is counted as UNDEFINED. An image with no scan (scan on push off, no enhanced scanning), or
// not in ECR, has Status "" and Detail saying so.
func (r *Registry) ScanFindings(ctx context.Context, uris []string) ([]shiplog.ImageFindings, error) {
	images := make([]Image, len(uris))
	for i, uri := range uris {
		im, err := ParseImage(uri)
		if err != nil {
			return nil, err
		}
		images[i] = im
	}
	out := make([]shiplog.ImageFindings, len(uris))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(checkers)
	for i, im := range images {
		g.Go(func() error {
			f, err := r.scanFindings(ctx, im)
			f.Image = uris[i]
			out[i] = f
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Registry) scanFindings(ctx context.Context, im Image) (shiplog.ImageFindings, error) {
	in := &ecr.DescribeImageScanFindingsInput{
		RegistryId:     aws.String(im.Account),
		RepositoryName: aws.String(im.Repository),
		ImageId:        &types.ImageIdentifier{ImageDigest: aws.String(im.Digest)},
		MaxResults:     aws.Int32(1),
	}
	var f shiplog.ImageFindings
	res, err := r.client.DescribeImageScanFindings(ctx, in, inRegion(im.Region))
	var noScan *types.ScanNotFoundException
	var noImage *types.ImageNotFoundException
	var noRepo *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &noScan):
		f.Detail = "ECR has no scan of the image (turn on scan on push, or enhanced scanning, for its repository)"
		return f, nil
	case errors.As(err, &noImage), errors.As(err, &noRepo):
		f.Detail = "the image is not in ECR"
		return f, nil
	case err != nil:
		return f, mapError(err, "scan findings of %s", im.URI())
	}
	if res.ImageScanStatus != nil {
		f.Status = string(res.ImageScanStatus.Status)
		f.Detail = aws.ToString(res.ImageScanStatus.Description)
	}
	if !f.Scanned() {
		return f, nil
	}
	f.Counts = map[string]int{}
	sf := res.ImageScanFindings
	if sf == nil || len(sf.FindingSeverityCounts) > 0 || (len(sf.Findings) == 0 && len(sf.EnhancedFindings) == 0) {
		if sf != nil {
			for sev, n := range sf.FindingSeverityCounts {
				f.Counts[severity(sev)] += int(n)
			}
		}
		return f, nil
	}
	// Findings but no counts: count them all, from the first.
	in.MaxResults = aws.Int32(findingsPage)
	for {
		res, err := r.client.DescribeImageScanFindings(ctx, in, inRegion(im.Region))
		if err != nil {
			return f, mapError(err, "scan findings of %s", im.URI())
		}
		if sf := res.ImageScanFindings; sf != nil {
			for _, x := range sf.Findings {
				f.Counts[severity(string(x.Severity))]++
			}
			for _, x := range sf.EnhancedFindings {
				f.Counts[severity(aws.ToString(x.Severity))]++
			}
		}
		if aws.ToString(res.NextToken) == "" {
			return f, nil
		}
		in.NextToken = res.NextToken
	}
}

// severity names a severity as shiplog.FindingSeverities does: enhanced scanning's UNTRIAGED
// (and anything unknown) is UNDEFINED.
func severity(s string) string {
	switch s {
	case "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL":
		return s
	}
	return "UNDEFINED"
}
