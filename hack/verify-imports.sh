#!/usr/bin/env bash
# Fails when the edge side would burden the agents that embed it.
#
# The edge client (module client/, with the generated LeaderHub clientset)
# and the API types (module api/) are built on the lowest Kubernetes
# libraries they need, the floor, so that an agent on that release (YurtHub
# v1.7.0 is on v0.34) embeds them with its own k8s.io versions unchanged:
#   - in each module, k8s.io/api, apimachinery, client-go and component-base
#     resolve to the floor, the release of the client's code generator
#     (hack/tools/codegen-client), so nothing they need pulls them forward;
#   - neither links server-side or code-generator packages.
# The edge CLI (cmd/leaderhub-watch, in leaderhub's module) links, of
# leaderhub's own packages, only those two modules and itself.
set -o errexit -o nounset -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

module=github.com/leaderhub/leaderhub
floor=$(cd hack/tools/codegen-client && go list -m -f '{{.Version}}' k8s.io/code-generator)
server_side='^(k8s\.io/(apiserver|code-generator|gengo|kube-aggregator|apiextensions-apiserver|kubernetes)|go\.etcd\.io/|github\.com/google/cel-go|'"${module//./\\.}"'/(pkg|cmd|test)/)'
failed=0
for dir in api client; do
  while read -r path version; do
    if [[ "${version}" != "${floor}" ]]; then
      echo "${dir}/: ${path} resolves to ${version}, not the floor ${floor} (what pulls it forward: cd ${dir} && go mod graph | grep ' ${path}@${version}')" >&2
      failed=1
    fi
  done < <(cd "${dir}" && go list -m -f '{{.Path}} {{.Version}}' k8s.io/api k8s.io/apimachinery k8s.io/client-go k8s.io/component-base 2>/dev/null)
  bad=$(cd "${dir}" && go list -deps ./... | grep -E "${server_side}" || true)
  if [[ -n "${bad}" ]]; then
    echo "${dir}/ links server-side or code-generator packages:" >&2
    sed 's/^/  /' <<<"${bad}" >&2
    failed=1
  fi
done
allowed="^${module}/(api/|client/|cmd/leaderhub-watch$)"
bad=$(go list -deps ./cmd/leaderhub-watch | grep "^${module}/" | grep -Ev "${allowed}" || true)
if [[ -n "${bad}" ]]; then
  echo "cmd/leaderhub-watch links server-side packages (only ${module}/api/..., ${module}/client/... and itself are allowed):" >&2
  sed 's/^/  /' <<<"${bad}" >&2
  failed=1
fi
if (( failed )); then
  exit 1
fi
echo "verify-imports: the api and client modules resolve k8s.io to ${floor} and link no server code; the CLI links only them"
