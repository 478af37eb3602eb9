#!/usr/bin/env bash
# Runs every Fuzz* target found in the given packages (default ./domain/...) for a fixed time
# each (FUZZ_TIME, default 5s). Targets are discovered with `go test -list`, so new ones are
# picked up without editing anything. Go fuzzes one target of one package per invocation.
set -euo pipefail

fuzz_time=${FUZZ_TIME:-5s}
(($#)) || set -- ./domain/...

# Only packages with tests can hold fuzz targets.
pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "$@")
count=0
for pkg in $pkgs; do
	list=$(go test -list '^Fuzz' "$pkg") # a package that does not build fails the run here
	for target in $(grep '^Fuzz' <<<"$list" || true); do
		echo "==> fuzz $pkg $target for $fuzz_time"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzz_time" "$pkg"
		count=$((count + 1))
	done
done
echo "==> fuzzed $count target(s)"
