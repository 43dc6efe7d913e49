package awsecr_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// scanResult has moto answer DescribeImageScanFindings for repo's image of digest with body
// (the API's answer, as moto's static results take it) once the image has a scan.
func scanResult(t *testing.T, repo, digest string, findings map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"region": localaws.Region, "results": []any{map[string]any{
		"registryId": motoAccount, "repositoryName": repo, "imageId": map[string]any{"imageDigest": digest},
		"imageScanStatus":   map[string]any{"status": "ACTIVE", "description": "Continuous scan is selected for image."},
		"imageScanFindings": findings,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	m := localaws.SharedMoto(t)
	res, err := http.Post(m.URL+"/moto-api/static/ecr/scan-finding-results", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		t.Fatalf("moto's scan results: status %d", res.StatusCode)
	}
}

// TestScanFindings runs on moto's ECR: an image with no scan, one whose basic scan moto answers
// with its static result (one HIGH finding, counted in findingSeverityCounts), one whose
// enhanced findings come with counts (UNTRIAGED counted as UNDEFINED), one whose enhanced
// findings come without counts (counted one by one), and an image not in ECR. Its calls are held
// to awsecr.FindingsActions.
func TestScanFindings(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	repo := f.createRepo(t, "scanned", localaws.Region)
	unscanned := f.push(t, repo, localaws.Region, dockerV2, 1, "build-1")
	basic := f.push(t, repo, localaws.Region, dockerV2, 2, "build-2")
	counted := f.push(t, repo, localaws.Region, dockerV2, 3, "build-3")
	uncounted := f.push(t, repo, localaws.Region, dockerV2, 4, "build-4")
	for _, uri := range []string{basic, counted, uncounted} {
		im, err := awsecr.ParseImage(uri)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String(repo), ImageId: &types.ImageIdentifier{ImageDigest: aws.String(im.Digest)}}); err != nil {
			t.Fatalf("StartImageScan: %v", err)
		}
	}
	digestOf := func(uri string) string {
		im, _ := awsecr.ParseImage(uri)
		return im.Digest
	}
	scanResult(t, repo, digestOf(counted), map[string]any{
		"findingSeverityCounts": map[string]int{"CRITICAL": 1, "MEDIUM": 2, "UNTRIAGED": 3},
		"enhancedFindings":      []any{map[string]any{"severity": "CRITICAL", "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY"}},
	})
	scanResult(t, repo, digestOf(uncounted), map[string]any{
		"enhancedFindings": []any{
			map[string]any{"severity": "HIGH", "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY"},
			map[string]any{"severity": "HIGH", "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY"},
			map[string]any{"severity": "UNTRIAGED", "status": "ACTIVE", "type": "PACKAGE_VULNERABILITY"},
		},
	})
	missing := absent(repo, 1)

	f.calls.Reset()
	got, err := f.reg.ScanFindings(ctx, []string{unscanned, basic, counted, uncounted, missing})
	if err != nil {
		t.Fatal(err)
	}
	want := []shiplog.ImageFindings{
		{Image: unscanned, Detail: "ECR has no scan of the image (turn on scan on push, or enhanced scanning, for its repository)"},
		{Image: basic, Status: shiplog.ScanComplete, Detail: "The scan was completed successfully.", Counts: map[string]int{"HIGH": 1}},
		{Image: counted, Status: shiplog.ScanActive, Detail: "Continuous scan is selected for image.", Counts: map[string]int{"CRITICAL": 1, "MEDIUM": 2, "UNDEFINED": 3}},
		{Image: uncounted, Status: shiplog.ScanActive, Detail: "Continuous scan is selected for image.", Counts: map[string]int{"HIGH": 2, "UNDEFINED": 1}},
		{Image: missing, Detail: "the image is not in ECR"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ScanFindings: mismatch (-want +got):\n%s", d)
	}
	if got, want := f.calls.Actions(), sorted(awsecr.FindingsActions); !slices.Equal(got, want) {
		t.Errorf("ScanFindings called %v, want %v (awsecr.FindingsActions)", got, want)
	}
}
