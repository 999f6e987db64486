#!/usr/bin/env bash
# Fails when the edge side links server code. The edge client library
# (pkg/client/leaders) and the edge CLI (cmd/leaderhub-watch) may import,
# of leaderhub's own packages, only the API types (pkg/apis/...), the
# generated LeaderHub clientset (pkg/generated/clientset/...) and the client
# itself: an agent that embeds the client (YurtHub) must not link the view,
# the controllers or the projection.
set -o errexit -o nounset -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

module=github.com/leaderhub/leaderhub
allowed="^${module}/(pkg/apis/|pkg/generated/clientset/|pkg/client/leaders$|cmd/leaderhub-watch$)"
failed=0
for pkg in ./pkg/client/leaders ./cmd/leaderhub-watch; do
  bad=$(go list -deps "${pkg}" | grep "^${module}/" | grep -Ev "${allowed}" || true)
  if [[ -n "${bad}" ]]; then
    echo "${pkg} links server-side packages (only ${module}/pkg/apis/..., pkg/generated/clientset/... and itself are allowed):" >&2
    sed 's/^/  /' <<<"${bad}" >&2
    failed=1
  fi
done
if (( failed )); then
  exit 1
fi
echo "verify-imports: the edge client and CLI link only the API types, the generated clientset and themselves"
