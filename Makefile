# leaderhub — see README.md. Every target runs on a fresh machine with Go and
# the Go module proxy; control-plane binaries are built once into _output/bin.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
OUTPUT   := _output
BIN_DIR  := $(OUTPUT)/bin
LOCAL    := $(OUTPUT)/local
# Unit tests: everything but the test harness and the integration tests (the
# bench's report code is unit-tested), with the race detector
# (a recursive variable: `go list` runs only for the targets that use it).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /test/) ./test/bench
# The API types and the edge client are modules of their own, on the older
# Kubernetes libraries of the agents that embed them (see client/doc.go):
# built, vetted, linted and tested in their own directories, with their own
# go.mod.
EDGE_MODULES := api client
INTEGRATION_PKGS := ./test/integration/...
INTEGRATION_TIMEOUT ?= 30m

# The build stamp (pkg/version): the chart's appVersion is the release
# version; the revision and date come from git, the date from the commit so
# that the same commit builds the same bytes.
VERSION     ?= v$(shell sed -n 's/^appVersion: *"*\([^"]*\)"*$$/\1/p' charts/leaderhub/Chart.yaml)
REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
TREE_STATE  ?= $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo clean || echo dirty)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
BUILD_DATE  := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/leaderhub/leaderhub/pkg/version
LDFLAGS     := -s -w -X $(VERSION_PKG).gitVersion=$(VERSION) -X $(VERSION_PKG).gitCommit=$(REVISION) \
               -X $(VERSION_PKG).gitTreeState=$(TREE_STATE) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)
GO_BUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: build
build: ## Build leaderhub-apiserver and leaderhub-watch (static, version-stamped) into _output/bin.
	$(GO) build ./...
	@for m in $(EDGE_MODULES); do (cd $$m && $(GO) build ./...); done
	$(GO_BUILD) -o $(BIN_DIR)/leaderhub-apiserver ./cmd/leaderhub-apiserver
	$(GO_BUILD) -o $(BIN_DIR)/leaderhub-watch ./cmd/leaderhub-watch

# The image: one OCI index for PLATFORMS, each a static binary on an empty
# base running as 65532:65532, written as an OCI image layout (no Docker
# daemon or registry needed); see hack/tools/image.
PLATFORMS    ?= linux/amd64 linux/arm64
IMAGE        ?= docker.io/leaderhub/leaderhub-apiserver:$(VERSION)
IMAGE_LAYOUT := $(OUTPUT)/image/leaderhub-apiserver
IMAGE_BINS   := $(OUTPUT)/image/bin
IMAGE_FLAGS   = $(foreach p,$(PLATFORMS),--binary $(p)=$(IMAGE_BINS)/$(subst /,-,$(p))/leaderhub-apiserver) \
	--entrypoint /leaderhub-apiserver --created $(SOURCE_DATE_EPOCH) --layout $(IMAGE_LAYOUT) --ref-name $(VERSION) \
	--label org.opencontainers.image.title=leaderhub-apiserver --label org.opencontainers.image.version=$(VERSION) \
	--label org.opencontainers.image.revision=$(REVISION) --label org.opencontainers.image.created=$(BUILD_DATE) \
	--label org.opencontainers.image.source=https://github.com/leaderhub/leaderhub \
	--label org.opencontainers.image.licenses=Apache-2.0

.PHONY: image-binaries
image-binaries:
	@for p in $(PLATFORMS); do \
	  echo "building leaderhub-apiserver $(VERSION) for $$p"; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO_BUILD) -o $(IMAGE_BINS)/$${p%/*}-$${p#*/}/leaderhub-apiserver ./cmd/leaderhub-apiserver; \
	done

.PHONY: image-builder
image-builder:
	hack/build-tools.sh image-builder

.PHONY: image
image: image-binaries image-builder ## Build the multi-architecture image into _output/image/leaderhub-apiserver (an OCI layout).
	$(BIN_DIR)/image-builder $(IMAGE_FLAGS)

.PHONY: image-push
image-push: image-binaries image-builder ## Build the image and push it to IMAGE (a reachable registry; docker login credentials apply).
	$(BIN_DIR)/image-builder $(IMAGE_FLAGS) --push $(IMAGE)

.PHONY: tools
tools: ## Build the pinned helm, golangci-lint and promtool into _output/bin, fetch the chart test's third-party CRDs (skipped when up to date).
	hack/build-tools.sh helm golangci-lint promtool third-party-crds

# helm renders the chart's RBAC for every leaderhub the local demo, the bench
# and the tests start (test/framework); built here so its first build shows.
.PHONY: helm
helm:
	hack/build-tools.sh helm

.PHONY: yurthub
yurthub: ## Build upstream YurtHub (hack/tools/yurthub) with integrations/yurthub's patch into _output/bin (skipped when up to date).
	hack/build-yurthub.sh

.PHONY: controlplane
controlplane: ## Build etcd, kube-apiserver, kube-controller-manager and kubectl into _output/bin (skipped when up to date).
	hack/build-controlplane.sh

.PHONY: test
test: controlplane tools test-unit test-bench-once test-fuzz test-image test-integration test-local-up ## Unit, one iteration of each Go benchmark, fuzz, image, integration tests and the README's local demo (builds the control plane and tools first).

.PHONY: test-unit
test-unit: ## Unit tests with the race detector.
	$(GO) test -race -count=1 $(UNIT_PKGS)
	@for m in $(EDGE_MODULES); do echo "cd $$m && go test -race -count=1 ./..."; (cd $$m && $(GO) test -race -count=1 ./...); done

.PHONY: test-bench-once
test-bench-once: ## Each Go benchmark once (-benchtime 1x), so none rots; `make bench` measures.
	$(GO) test -run '^$$' -bench . -benchtime 1x $(UNIT_PKGS)
	@for m in $(EDGE_MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchtime 1x ./...); done

.PHONY: test-local-up
test-local-up: controlplane helm ## The README's first command: make local-up, kubectl get lh through the aggregator, make local-down.
	hack/test-local-up.sh

# Bounded by executions, not time: a time bound can end with the fuzzing
# coordinator's "context deadline exceeded" while a worker is mid-input,
# which fails the run without any crasher. About 10s each on 2 cores.
FUZZ_PROJECTION ?= 150000x
FUZZ_REQUESTS ?= 20000x
FUZZ_ENCODINGS ?= 10000x
.PHONY: test-fuzz
test-fuzz: ## A short, bounded run of each fuzz target (the checked-in seed corpus always runs in test-unit).
	$(GO) test -run '^$$' -fuzz '^FuzzLeaderHub$$' -fuzztime $(FUZZ_PROJECTION) ./pkg/projection
	$(GO) test -run '^$$' -fuzz '^FuzzRequestOptions$$' -fuzztime $(FUZZ_REQUESTS) ./pkg/registry/leaderhub/viewstore
	$(GO) test -run '^$$' -fuzz '^FuzzLeaderHubEncodings$$' -fuzztime $(FUZZ_ENCODINGS) ./pkg/apis/leaderhub/install

.PHONY: test-image
test-image: image ## Build the image, then read it back and run its amd64 binary.
	LEADERHUB_IMAGE_LAYOUT=$(CURDIR)/$(IMAGE_LAYOUT) LEADERHUB_IMAGE_VERSION=$(VERSION) \
	  $(GO) test -count=1 -v ./test/image/...

.PHONY: test-integration
test-integration: controlplane tools yurthub ## Integration tests against a real etcd and kube-apiserver (and the chart, with helm).
	@mkdir -p _output/logs
	@# The failing tests' names are repeated last: a failure dumps the
	@# control plane's logs, which would push them out of a CI log's tail.
	@set -o pipefail; $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) -v $(INTEGRATION_PKGS) 2>&1 | tee _output/logs/test-integration.log || \
		{ rc=$$?; hack/test-failures.sh _output/logs/test-integration.log; exit $$rc; }

BENCH_FLAGS ?=
.PHONY: bench
bench: controlplane helm yurthub ## Measure leaderhub against the alternatives on a real control plane; writes docs/benchmarks.md.
	$(GO) run ./test/bench $(BENCH_FLAGS)

.PHONY: verify
verify: verify-gofmt verify-vet verify-codegen verify-tidy verify-imports verify-chart verify-doc-figures lint ## Static checks CI runs.

.PHONY: verify-doc-figures
verify-doc-figures: ## The figures the docs quote from docs/benchmarks.md, and the sizing derived from them, match the report.
	hack/verify-doc-figures.sh

.PHONY: verify-chart
verify-chart: ## helm lint and template over the chart's values variants; artifacts/ match the chart.
	hack/verify-chart.sh

.PHONY: manifests
manifests: ## Render artifacts/deploy and artifacts/monitoring from the chart.
	hack/update-manifests.sh

.PHONY: lint
lint: ## golangci-lint with .golangci.yaml, over leaderhub, its api and client modules and the image builder's module.
	hack/build-tools.sh golangci-lint
	$(BIN_DIR)/golangci-lint run ./...
	@for m in $(EDGE_MODULES); do echo "cd $$m && golangci-lint run ./..."; (cd $$m && $(CURDIR)/$(BIN_DIR)/golangci-lint run --config $(CURDIR)/.golangci.yaml ./...); done
	cd hack/tools/image && $(CURDIR)/$(BIN_DIR)/golangci-lint run --config $(CURDIR)/.golangci.yaml ./...

.PHONY: verify-gofmt
verify-gofmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: verify-vet
verify-vet:
	$(GO) vet ./...
	@for m in $(EDGE_MODULES); do (cd $$m && $(GO) vet ./...); done

.PHONY: verify-codegen
verify-codegen: ## Fail when generated code or the CRD is stale.
	hack/verify-codegen.sh

.PHONY: verify-imports
verify-imports: ## Fail when the edge client links server-side packages or needs newer Kubernetes libraries than its floor, or the CLI links server-side packages.
	hack/verify-imports.sh

.PHONY: verify-tidy
verify-tidy: ## Fail when go.mod/go.sum of the project or a tools module are not tidy.
	hack/verify-tidy.sh

.PHONY: codegen
codegen: ## Regenerate clients, deepcopy, conversion, OpenAPI and the CRD.
	hack/update-codegen.sh

.PHONY: local-up
local-up: controlplane helm ## Start the local demo under _output/local (idempotent).
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
