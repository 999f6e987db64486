#!/usr/bin/env bash
# Fails when the figures docs/operations.md and the chart's values quote
# from docs/benchmarks.md, or the sizing derived from them, disagree with the
# report (hack/docfigures says which).
set -o errexit -o nounset -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
go run ./hack/docfigures "${ROOT}"
