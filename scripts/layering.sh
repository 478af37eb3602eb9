#!/usr/bin/env bash
# Checks the dependency arrows of DESIGN.md with `go list -deps`: for each rule, the packages
# matching a pattern must not depend (directly or not) on the packages it forbids. Prints every
# breach and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
breaches=0

# forbid PACKAGES... -- FORBIDDEN-PREFIX...: none of PACKAGES may depend on a package whose
# import path (after the module path) starts with one of the forbidden prefixes.
forbid() {
	local pkgs=() bad=()
	while [[ $1 != -- ]]; do pkgs+=("$1"); shift; done
	shift
	bad=("$@")
	for pkg in $(go list "${pkgs[@]}"); do
		for dep in $(go list -deps "$pkg" | grep "^$mod/" || true); do
			rel=${dep#"$mod"/}
			for b in "${bad[@]}"; do
				if [[ $rel == "$b" || $rel == "$b"/* ]]; then
					echo "layering: ${pkg#"$mod"/} depends on $rel"
					breaches=$((breaches + 1))
				fi
			done
		done
	done
}

# domain/ is pure: it imports nothing of ours but itself.
forbid ./domain/... -- eventstore commands projections readapi audit internal cmd
# internal/ is plumbing: no application code.
forbid ./internal/... -- audit commands projections readapi cmd
# The event store and its backends know no domain; only eventstore/codec binds domain events.
forbid ./eventstore ./eventstore/postgres ./eventstore/kurrentdb ./eventstore/watermill ./eventstore/conformance ./eventstore/consumer -- domain eventstore/codec
# The write side, the read side and the audit tools do not reach into each other.
forbid ./commands/... -- projections readapi audit
forbid ./projections/... -- commands readapi audit
forbid ./readapi/... -- commands audit
forbid ./audit/... -- commands readapi
# Integration events read the feed like any consumer: no write side, read models or audit;
# and nothing but cmd/ depends on them.
forbid ./integration/... -- commands projections readapi audit cmd
forbid ./commands/... ./projections/... ./readapi/... ./audit/... ./eventstore/... -- integration

if ((breaches > 0)); then
	echo "layering: $breaches breach(es) of DESIGN.md's dependency arrows" >&2
	exit 1
fi
echo "layering: ok"
