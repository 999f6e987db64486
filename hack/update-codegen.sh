#!/usr/bin/env bash
# Regenerates everything generated in leaderhub: protobuf (generated.proto,
# generated.pb.go), deepcopy/conversion/defaults
# (zz_generated.*.go next to the types), OpenAPI definitions, the clientsets,
# listers, informers (client/generated for LeaderHubs; pkg/generated/openyurt,
# with apply configurations, for NodePools), and the NodePool CRD
# (artifacts/crds). Generators come from the pinned tools module
# hack/tools/codegen, never from leaderhub's own go.mod.
#
# The versioned LeaderHub types are in the module api/, their clientset in the
# module client/ (both on older Kubernetes libraries, for the agents that embed
# the edge client); the generators run from leaderhub's module, which replaces
# both with these directories.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
MODULE=github.com/leaderhub/leaderhub
TOOLS="${ROOT}/hack/tools/codegen"
BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"

(cd "${TOOLS}" && go mod download k8s.io/code-generator)
CODEGEN_PKG=$(cd "${TOOLS}" && go list -m -f '{{.Dir}}' k8s.io/code-generator)
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

# Protobuf for leaderhub.openyurt.io/v1alpha1 (generated.proto and
# generated.pb.go next to the types; go-to-protobuf also writes the protobuf
# struct tags in types.go, keeping the field numbers already there, which
# mirror core/v1 Endpoints). go-to-protobuf wants its packages under one
# GOPATH-style root and runs protoc, protoc-gen-gogo, goimports and gofmt
# from PATH: all pinned, protoc by hack/ensure-protoc.sh.
"${ROOT}/hack/ensure-protoc.sh"
scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
(cd "${TOOLS}" && go build -o "${scratch}/bin/" k8s.io/code-generator/cmd/go-to-protobuf \
  k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo golang.org/x/tools/cmd/goimports)
go mod download k8s.io/api k8s.io/apimachinery
(cd "${TOOLS}" && go mod download github.com/gogo/protobuf)
mkdir -p "${scratch}/src/github.com/leaderhub" "${scratch}/include/k8s.io" "${scratch}/include/github.com/gogo"
ln -s "${ROOT}" "${scratch}/src/${MODULE}"
ln -s "$(go list -m -f '{{.Dir}}' k8s.io/api)" "${scratch}/include/k8s.io/api"
ln -s "$(go list -m -f '{{.Dir}}' k8s.io/apimachinery)" "${scratch}/include/k8s.io/apimachinery"
GOGO=$(cd "${TOOLS}" && go list -m -f '{{.Dir}}' github.com/gogo/protobuf)
ln -s "${GOGO}" "${scratch}/include/github.com/gogo/protobuf"
PATH="${scratch}/bin:${PATH}" go-to-protobuf \
  --go-header-file "${BOILERPLATE}" \
  --output-dir "${scratch}/src" \
  --proto-import "${scratch}/include" \
  --proto-import "${GOGO}/protobuf" \
  --packages "${MODULE}/api/leaderhub/v1alpha1" \
  --apimachinery-packages "-k8s.io/apimachinery/pkg/util/intstr,-k8s.io/apimachinery/pkg/api/resource,-k8s.io/apimachinery/pkg/runtime/schema,-k8s.io/apimachinery/pkg/runtime,-k8s.io/apimachinery/pkg/apis/meta/v1,-k8s.io/api/core/v1"

# Deepcopy for the versioned types (module api/); deepcopy for the internal
# and NodePool types, and the versioned types' conversions and defaults
# (pkg/apis/leaderhub/v1alpha1, which names api/ as its external types).
kube::codegen::gen_helpers \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/api"
kube::codegen::gen_helpers \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "${ROOT}/pkg/generated/openapi" \
  --output-pkg "${MODULE}/pkg/generated/openapi" \
  --report-filename "${ROOT}/hack/api-rules-violations.list" \
  --output-model-name-file zz_generated.model_name.go \
  --update-report \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/api"

# Two clientsets. LeaderHubs are served by leaderhub's own API server, which
# speaks protobuf, so their clientset prefers it (informers and edge clients
# get protobuf without configuration). NodePools are a custom resource, which
# kube-apiserver serves in JSON only and cannot accept in protobuf, so their
# clientset stays JSON (client-gen's --prefers-protobuf is clientset-wide).
# LeaderHubs are read-only, so their clientset has no apply configurations.
# The generators of the client module's Kubernetes release (newer client-gen
# output calls client-go functions that release lacks), from their own tools
# module and with their own GOBIN, in a subshell so that the functions
# sourced above stay those of the main generators. client-gen loads its
# input by directory, so it runs in the api module.
CLIENT_TOOLS="${ROOT}/hack/tools/codegen-client"
(cd "${CLIENT_TOOLS}" && go mod download k8s.io/code-generator)
CLIENT_CODEGEN_PKG=$(cd "${CLIENT_TOOLS}" && go list -m -f '{{.Dir}}' k8s.io/code-generator)
(
  export GOBIN="${scratch}/client-bin"
  # shellcheck source=/dev/null
  source "${CLIENT_CODEGEN_PKG}/kube_codegen.sh"
  cd "${ROOT}/api"
  kube::codegen::gen_client \
    --with-watch \
    --prefers-protobuf \
    --one-input-api leaderhub \
    --output-dir "${ROOT}/client/generated" \
    --output-pkg "${MODULE}/client/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/api"
)

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-externals "k8s.io/api/core/v1.Taint:k8s.io/client-go/applyconfigurations/core/v1" \
  --one-input-api apps \
  --output-dir "${ROOT}/pkg/generated/openyurt" \
  --output-pkg "${MODULE}/pkg/generated/openyurt" \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/pkg/apis"

# The NodePool CRD is generated from the Go types, never written by hand.
rm -rf "${ROOT}/artifacts/crds"
(cd "${TOOLS}" && go tool controller-gen \
  crd:crdVersions=v1 \
  paths="${ROOT}/pkg/apis/apps/v1beta2/..." \
  output:crd:artifacts:config="${ROOT}/artifacts/crds")
# The chart installs the same CRD when crds.install=true (a chart cannot read
# files outside its directory, so it gets a copy).
rm -rf "${ROOT}/charts/leaderhub/files/crds"
mkdir -p "${ROOT}/charts/leaderhub/files/crds"
cp "${ROOT}"/artifacts/crds/*.yaml "${ROOT}/charts/leaderhub/files/crds/"
