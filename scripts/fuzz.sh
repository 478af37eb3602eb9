#!/usr/bin/env bash
# Runs every Fuzz* target found in the given packages (default ./domain/...) for a fixed time
# each (FUZZ_TIME, default 5s). Targets are discovered with `go test -list`, so new ones are
# picked up without editing anything. Go fuzzes one target of one package per invocation.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" when the
# -fuzztime window closes while a worker is still busy (go.dev/issue/75804, fixed in Go 1.27):
# nothing was found and no failing input is written. Such a run is repeated, at most twice.
# Any other failure, and every run that writes a failing input, fails at once.
#
#   scripts/fuzz.sh --self-test   checks the classifier against sample logs
set -euo pipefail

fuzz_time=${FUZZ_TIME:-5s}

# deadline_flake LOG: true when LOG is the coordinator's shutdown race and nothing else.
deadline_flake() {
	local log=$1
	grep -q '^    context deadline exceeded$' "$log" || return 1
	! grep -qE 'Failing input written to|^panic:|^fatal error:|_test\.go:[0-9]+:' "$log"
}

# fuzz_targets FILE...: the fuzz targets the files declare, as `go test -list '^Fuzz'` would list
# them (top-level func Fuzz or FuzzX, X not a lower-case letter, taking a *testing.F), read from
# the source: -list would compile (without -race, so not from make test's cache) and link the
# test binary of every package, those without targets too. A package that does not build fails
# its go test -fuzz below, and make test-integration before it.
fuzz_targets() {
	(($#)) || return 0
	sed -nE 's/^func (Fuzz([^a-z(][A-Za-z0-9_]*)?)\([A-Za-z0-9_]+ \*testing\.F\).*/\1/p' "$@" | LC_ALL=C sort -u
}

self_test() {
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	printf '%s\n' 'fuzz: elapsed: 6s, execs: 29701 (0/sec), new interesting: 23 (total: 98)' \
		'--- FAIL: FuzzRead (6.02s)' '    context deadline exceeded' 'FAIL' >"$tmp/flake"
	printf '%s\n' '--- FAIL: FuzzRead (0.31s)' '    --- FAIL: FuzzRead (0.00s)' \
		'        fuzz_test.go:31: error x is not a *FileError' '' \
		'    Failing input written to testdata/fuzz/FuzzRead/5d1f' 'FAIL' >"$tmp/found"
	printf '%s\n' '--- FAIL: FuzzRead (6.02s)' '    context deadline exceeded' \
		'    Failing input written to testdata/fuzz/FuzzRead/5d1f' 'FAIL' >"$tmp/found-at-deadline"
	printf '%s\n' 'panic: runtime error: index out of range' '    context deadline exceeded' >"$tmp/panic"
	printf '%s\n' 'package x' 'func FuzzA(f *testing.F) {}' 'func Fuzz(f *testing.F) {}' 'func Fuzz_b(ff *testing.F) {' \
		'func Fuzzy(f *testing.F) {}' 'func FuzzC(t *testing.T) {}' '	func FuzzD(f *testing.F) {}' 'func (s) FuzzE(f *testing.F) {}' >"$tmp/x_test.go"
	[[ $(fuzz_targets "$tmp/x_test.go" | tr '\n' ' ') == 'Fuzz FuzzA Fuzz_b ' ]] || {
		echo "self-test: fuzz_targets lists $(fuzz_targets "$tmp/x_test.go" | tr '\n' ' ')" >&2
		return 1
	}
	deadline_flake "$tmp/flake" || { echo "self-test: the bare deadline is not taken for the race" >&2; return 1; }
	for f in found found-at-deadline panic; do
		if deadline_flake "$tmp/$f"; then
			echo "self-test: a real failure ($f) is taken for the race" >&2
			return 1
		fi
	done
	echo "fuzz.sh self-test: ok"
}

if [[ ${1:-} == --self-test ]]; then
	self_test
	exit
fi

(($#)) || set -- ./domain/...

# Only packages with tests can hold fuzz targets; go list names the test files of the build.
pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "$@")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
count=0
for pkg in $pkgs; do
	mapfile -t files < <(go list -f '{{$d := .Dir}}{{range .TestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .XTestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}' "$pkg" | grep .)
	for target in $(fuzz_targets "${files[@]}"); do
		for attempt in 1 2 3; do
			echo "==> fuzz $pkg $target for $fuzz_time"
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzz_time" "$pkg" 2>&1 | tee "$log"; then
				break
			fi
			if ((attempt < 3)) && deadline_flake "$log"; then
				echo "==> $target ended on Go's fuzztime deadline race (go.dev/issue/75804), nothing found: running it again"
				continue
			fi
			exit 1
		done
		count=$((count + 1))
	done
done
echo "==> fuzzed $count target(s)"
