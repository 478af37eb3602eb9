#!/usr/bin/env bash
# Builds the dotmac binary (make build), saying what takes long on a first build and how long
# each step took: downloading the Go modules into a cold module cache, and the first compile
# of every package (later builds reuse the build cache and take seconds).
#
# Usage: scripts/build.sh OUTPUT PACKAGE    (GO names the go command; default go)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/dotmac}
pkg=${2:-./cmd/dotmac}
GO=${GO:-go}

# What a cold module cache costs, measured on this repository's go.sum (126 modules, 151 MB of
# zips in December 2026): update when the dependencies change much.
typical_download_mb=150
typical_download_s="30-120"

ms() { date +%s%3N; }
took() { local t=$(($(ms) - $1)); printf '%d.%01d s' $((t / 1000)) $((t % 1000 / 100)); }

# 1. Modules: everything the package needs must be in the module cache. The check is offline,
#    so it answers at once; on a cold cache, say what is about to happen, then download.
if ! GOFLAGS=-mod=mod GOPROXY=off "$GO" list -deps "$pkg" >/dev/null 2>&1; then
	modules=$(grep -v '/go.mod ' go.sum | awk '{print $1 "@" $2}' | sort -u | wc -l)
	echo "build: the Go module cache ($("$GO" env GOMODCACHE)) lacks modules $pkg needs:"
	echo "build: downloading up to $modules modules (about $typical_download_mb MB; typically $typical_download_s s, longer on a slow network)..."
	start=$(ms)
	if ! "$GO" list -deps "$pkg" >/dev/null; then
		echo "build: downloading the modules failed after $(took "$start") (GOPROXY=$("$GO" env GOPROXY)); see the errors above" >&2
		exit 1
	fi
	echo "build: modules downloaded in $(took "$start")"
fi

# 2. Compile. Without a binary yet this is most likely the first compile: say so.
if [[ ! -x $out ]]; then
	packages=$("$GO" list -deps "$pkg" | wc -l)
	echo "build: first compile of $pkg ($packages packages, the dependencies included): typically 1-3 min on two cores;"
	echo "build: later builds reuse the build cache ($("$GO" env GOCACHE)) and take seconds"
fi
# The version and revision `dotmac --version` and dotmac_build_info report (Go records the
# revision itself too, but not with -buildvcs=false nor in a git worktree).
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
revision=$(git rev-parse HEAD 2>/dev/null || true)
if [[ -n $revision && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	revision+=-modified
fi
ldflags="-X main.version=$version -X main.revision=$revision"
echo "$GO build -o $out -ldflags '$ldflags' $pkg"
start=$(ms)
"$GO" build -o "$out" -ldflags "$ldflags" "$pkg"
echo "build: $out built in $(took "$start")"
