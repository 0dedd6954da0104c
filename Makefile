# Tally developer targets. `make localnet` and `make test` are the two the
# README promises work on a fresh machine.

GO        ?= go
BUILD_DIR ?= build
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/tallyledger/tally/app.Version=$(VERSION)
LOCALNET  ?= $(BUILD_DIR)/localnet
VALIDATORS ?= 4

SHELL     := /bin/bash

.PHONY: build install test faults test-short bench proto proto-check lint localnet localnet-reset clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BUILD_DIR)/tallyd ./cmd/tallyd

install:
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/tallyd

## test: every test, including the in-process and multi-process network tests.
## Prints a line per package, the output of each failed test, and a closing
## list of every skipped test with its reason (the raw run is in
## build/test.json).
test: build
	$(GO) build -o $(BUILD_DIR)/testreport ./scripts/testreport
	set -o pipefail; TALLYD_BIN=$(CURDIR)/$(BUILD_DIR)/tallyd $(GO) test -count=1 -timeout 15m -json ./... \
		| tee $(BUILD_DIR)/test.json | $(BUILD_DIR)/testreport
	# Query and CheckTx run beside FinalizeBlock and Commit: prove it race-free.
	$(GO) test -race -count=1 -run 'TestConcurrent|TestReader' ./app/ ./store/

## faults: the whole fault suite, long version (about 20 minutes): more
## rounds and longer loads per scenario than the short one `make test` runs.
## Prints each scenario's checks and a results table; results also go to
## build/faults.jsonl.
faults: build
	rm -f $(BUILD_DIR)/faults.jsonl
	FAULTS=long FAULTS_REPORT=$(CURDIR)/$(BUILD_DIR)/faults.jsonl TALLYD_BIN=$(CURDIR)/$(BUILD_DIR)/tallyd \
		$(GO) test -count=1 -timeout 90m -v ./testnet/faults/ 2>&1 | grep --line-buffered -v '^        [IEDW]\[' | tee $(BUILD_DIR)/faults.log; \
		exit $${PIPESTATUS[0]}

test-short:
	$(GO) test -count=1 -short ./...

bench:
	$(GO) test -run XXX -bench . -benchtime 3x ./app/

## proto: regenerate Go code from proto/ with the pinned toolchain.
proto:
	./scripts/protogen.sh

## proto-check: fail when the committed generated code is stale.
proto-check: proto
	@git diff --exit-code -- proto || { echo "generated protobuf code is stale: run 'make proto' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- proto)" || { echo "untracked generated files under proto/: run 'make proto' and commit"; git status --porcelain -- proto; exit 1; }

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

## localnet: a local multi-validator network with demo data (init if needed, then start).
## MONITOR=1 also runs Prometheus (if installed) with monitoring/'s
## configuration and alert rules, scraping every node of the network
## (validators and the council's node), on http://127.0.0.1:9090/.
localnet: build
	@test -f $(LOCALNET)/testnet.json || $(BUILD_DIR)/tallyd testnet init --validators $(VALIDATORS) --output $(LOCALNET)
	$(BUILD_DIR)/tallyd testnet start $(LOCALNET) $(if $(MONITOR),--prometheus 127.0.0.1:9090)

localnet-reset:
	rm -rf $(LOCALNET)

clean:
	rm -rf $(BUILD_DIR)
