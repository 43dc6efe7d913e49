# shiplog — see README.md. The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

FUNCTIONS := ecr-push create-release deploy api
# Tools the tests drive, installed into ./bin at pinned versions so a fresh machine gets them.
RIE_VERSION    := v0.0.0-20261030222936-bef5c4ba774d
TFLINT_VERSION := v0.64.0
TOOLS_BIN := $(CURDIR)/bin
export PATH := $(TOOLS_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

ADDR ?= 127.0.0.1:8080
DATA ?= .shiplog/shiplog.db

.PHONY: help run build test bench tools vet fmt-check clean FORCE

help:
	@echo "make run    - the local stack on $(ADDR) (HTTP API + Lambda Invoke API), data in $(DATA)"
	@echo "make test   - every test: unit, contract suites on bbolt/moto/dynalite, end to end, linters"
	@echo "make build  - each function as build/<function>/bootstrap and build/<function>.zip (linux/arm64)"
	@echo "make bench  - SDK calls per operation against moto (not part of make test)"

run:
	go run ./cmd/shiplog serve --addr $(ADDR) --data $(DATA) $(ARGS)

build: $(FUNCTIONS:%=build/%.zip)

build/%.zip: FORCE
	@mkdir -p build/$*
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o build/$*/bootstrap ./functions/$*
	@rm -f $@ && cd build/$* && zip -q -X ../$*.zip bootstrap
	@echo "built $@"

tools: $(TOOLS_BIN)/aws-lambda-rie $(TOOLS_BIN)/tflint node_modules/.bin/dynalite

$(TOOLS_BIN)/aws-lambda-rie:
	GOBIN=$(TOOLS_BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(TOOLS_BIN)/tflint:
	GOBIN=$(TOOLS_BIN) go install github.com/terraform-linters/tflint@$(TFLINT_VERSION)

node_modules/.bin/dynalite: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

vet:
	go vet ./...

test: tools fmt-check vet
	go test -count=1 -timeout 30m ./...

bench: tools
	go test -count=1 -run '^$$' -bench . -benchtime 1x ./pkg/...

clean:
	rm -rf build

FORCE:
