#!/usr/bin/env bash
# buf breaking against main: the protos as they stand on main (or, when HEAD is main, on the
# commit before it) must stay wire- and source-compatible with the working tree's protos.
# googleapis protos are not committed, so the base is rebuilt in a temporary copy that gets
# the same third_party/ as the working tree.
set -euo pipefail
buf=$(realpath "$1")
against=${BUF_BREAKING_AGAINST:-main}

if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "buf breaking: no '$against' ref here, skipped"; exit 0
fi
base=$(git rev-parse "$against")
if [ "$base" = "$(git rev-parse HEAD)" ] && git diff --quiet HEAD -- protos; then
  base=$(git rev-parse --verify --quiet HEAD~1 || true)
fi
if [ -z "$base" ] || ! git cat-file -e "$base:protos/buf.yaml" 2>/dev/null; then
  echo "buf breaking: the base has no protos yet, skipped"; exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" protos | tar -x -C "$tmp"
cp -r protos/third_party "$tmp/protos/"
cd protos && "$buf" breaking --against "$tmp/protos"
echo "buf breaking: compatible with $(git rev-parse --short "$base")"
