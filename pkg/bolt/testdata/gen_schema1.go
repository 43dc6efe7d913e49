//go:build ignore

// gen_schema1 wrote schema1.db and schema1.golden.json with the embedded store of commit a468552
// (bbolt schema version 1, a bucket per record kind), before the store moved onto the ledger:
//
//	git worktree add /tmp/old a468552 && cp gen_schema1.go /tmp/old/pkg/bolt/testdata/ &&
//	  (cd /tmp/old && go run ./pkg/bolt/testdata/gen_schema1.go /tmp/out)
//
// (shiplogtest.WriteHistory and ReadHistory came a commit later; copy them beside it.) The upgrade
// test opens a copy of schema1.db with today's store and compares ReadHistory with the golden file.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

func main() {
	dir := os.Args[1]
	ctx := context.Background()
	s, err := bolt.Open(filepath.Join(dir, "schema1.db"))
	if err != nil {
		log.Fatal(err)
	}
	if err := s.PutParameters(ctx, map[string]string{"/bugfarm/images/stage/api": "012345678910.dkr.ecr.eu-west-1.amazonaws.com/shared/base@sha256:aa", "/bugfarm/images/latest/web": "x"}); err != nil {
		log.Fatal(err)
	}
	if err := shiplogtest.WriteHistory(ctx, s); err != nil {
		log.Fatal(err)
	}
	h, err := shiplogtest.ReadHistory(ctx, s)
	if err != nil {
		log.Fatal(err)
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema1.golden.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
}
