package awsapp_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shiplog/shiplog/pkg/awsapp"
)

// A bad parameter prefix stops the function at start-up with the variable's name, rather than
// writing parameters where no role may reach them.
func TestNewRefusesABadParameterPrefix(t *testing.T) {
	tables := awsapp.Tables{Releases: "r", State: "s", ParameterPrefix: "shiplog/"}
	_, err := awsapp.New(aws.Config{}, tables, nil, nil)
	if err == nil || !strings.Contains(err.Error(), awsapp.ParameterPrefixEnv) || !strings.Contains(err.Error(), `"shiplog/"`) {
		t.Errorf("New with prefix %q: got %v, want an error naming %s and the value", tables.ParameterPrefix, err, awsapp.ParameterPrefixEnv)
	}
}
