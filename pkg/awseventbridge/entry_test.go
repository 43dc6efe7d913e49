package awseventbridge

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestEntryErrorKinds: an entry PutEvents refused is of the kind its code would be as a call's
// error, so that a throttled entry reads as one.
func TestEntryErrorKinds(t *testing.T) {
	tests := []struct {
		code string
		want shiplog.Kind
	}{
		{"ThrottlingException", shiplog.Unavailable},
		{"InternalFailure", shiplog.Unavailable},
		{"AccessDeniedException", shiplog.Internal},
		{"MalformedDetail", shiplog.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			res := types.PutEventsResultEntry{ErrorCode: aws.String(tt.code), ErrorMessage: aws.String("refused")}
			err := service.Wrap(entryError(res), "put event %s on %s", "e1", "bus")
			if got := shiplog.KindOf(err); got != tt.want {
				t.Errorf("kind of %v: got %v, want %v", err, got, tt.want)
			}
		})
	}
}
