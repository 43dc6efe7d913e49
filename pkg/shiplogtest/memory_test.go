package shiplogtest_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// The in-memory parameters that the store suite's deploy tests use keep the same contract as SSM.
func TestMemoryParameters(t *testing.T) {
	shiplogtest.RunParameterStoreTests(t, func(t *testing.T) shiplog.ParameterStore { return shiplogtest.NewMemoryParameters() })
}
