# leaderhub — see README.md. Every target runs on a fresh machine with Go and
# the Go module proxy; control-plane binaries are built once into _output/bin.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
OUTPUT   := _output
BIN_DIR  := $(OUTPUT)/bin
LOCAL    := $(OUTPUT)/local
# Unit tests: everything but the integration packages, with the race detector
# (a recursive variable: `go list` runs only for the targets that use it).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /test/)
INTEGRATION_PKGS := ./test/integration/...
INTEGRATION_TIMEOUT ?= 30m

.PHONY: build
build: ## Build leaderhub-apiserver into _output/bin.
	$(GO) build ./...
	$(GO) build -o $(BIN_DIR)/leaderhub-apiserver ./cmd/leaderhub-apiserver

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver, kube-controller-manager and kubectl into _output/bin (skipped when up to date).
	hack/build-controlplane.sh

.PHONY: test
test: controlplane test-unit test-fuzz test-integration ## Unit, short fuzz and integration tests (builds the control plane first).

.PHONY: test-unit
test-unit: ## Unit tests with the race detector.
	$(GO) test -race -count=1 $(UNIT_PKGS)

# Bounded by executions, not time: a time bound can end with the fuzzing
# coordinator's "context deadline exceeded" while a worker is mid-input,
# which fails the run without any crasher. About 10s each on 2 cores.
FUZZ_PROJECTION ?= 150000x
FUZZ_REQUESTS ?= 20000x
.PHONY: test-fuzz
test-fuzz: ## A short, bounded run of each fuzz target (the checked-in seed corpus always runs in test-unit).
	$(GO) test -run '^$$' -fuzz '^FuzzLeaderHub$$' -fuzztime $(FUZZ_PROJECTION) ./pkg/projection
	$(GO) test -run '^$$' -fuzz '^FuzzRequestOptions$$' -fuzztime $(FUZZ_REQUESTS) ./pkg/registry/leaderhub/viewstore

.PHONY: test-integration
test-integration: controlplane ## Integration tests against a real etcd and kube-apiserver.
	$(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) -v $(INTEGRATION_PKGS)

BENCH_FLAGS ?=
.PHONY: bench
bench: controlplane ## Measure leaderhub against the alternatives on a real control plane; writes docs/benchmarks.md.
	$(GO) run ./test/bench $(BENCH_FLAGS)

.PHONY: verify
verify: verify-gofmt verify-vet verify-codegen verify-tidy ## Static checks CI runs.

.PHONY: verify-gofmt
verify-gofmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: verify-vet
verify-vet:
	$(GO) vet ./...

.PHONY: verify-codegen
verify-codegen: ## Fail when generated code or the CRD is stale.
	hack/verify-codegen.sh

.PHONY: verify-tidy
verify-tidy: ## Fail when go.mod/go.sum of the project or a tools module are not tidy.
	hack/verify-tidy.sh

.PHONY: codegen
codegen: ## Regenerate clients, deepcopy, conversion, OpenAPI and the CRD.
	hack/update-codegen.sh

.PHONY: local-up
local-up: controlplane ## Start the local demo under _output/local (idempotent).
	$(GO) run ./test/localcluster --dir $(LOCAL) up

.PHONY: local-down
local-down: ## Stop every process local-up started (idempotent).
	$(GO) run ./test/localcluster --dir $(LOCAL) down

.PHONY: clean
clean: local-down
	rm -rf $(OUTPUT)

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'
