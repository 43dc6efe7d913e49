package main

import (
	"net/http"

	"github.com/shiplog/shiplog/pkg/dashboard"
)

// uiHandler is the dashboard that shiplog ui serves at / and /assets/.
func uiHandler() http.Handler { return dashboard.Handler() }
