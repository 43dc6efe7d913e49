package memstore_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/ledger/ledgertest"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

func TestParameterStore(t *testing.T) {
	shiplogtest.RunParameterStoreTests(t, func(t *testing.T) shiplog.ParameterStore { return memstore.New() })
}

func TestStore(t *testing.T) {
	shiplogtest.RunStoreTests(t, func(t *testing.T) shiplog.Store { return memstore.New() })
}

func TestStoreConcurrency(t *testing.T) {
	shiplogtest.RunStoreConcurrencyTests(t, func(t *testing.T) shiplog.Store { return memstore.New() })
}

func TestDriver(t *testing.T) {
	ledgertest.RunDriverTests(t, func(t *testing.T) ledger.Driver { return memstore.New().Driver() })
}
