#!/usr/bin/env bash
# Measures how long each console page takes to answer: signs in with a tenant token and an
# operator token, finds a customer (the one with the most statement lines among the first
# page), one of its invoices and payments, then requests every page ROUNDS times (after one
# warm-up) and prints each page's median, 95th percentile and maximum in milliseconds.
# The issue's target: every page within 200 ms on `dotmac demo seed --customers 1000 --months 12`.
#
#   scripts/console-latency.sh [BASE_URL] TENANT_TOKEN OPERATOR_TOKEN
#   BASE_URL defaults to http://localhost:8081; ROUNDS (default 20) from the environment.
set -euo pipefail
base=${1:-http://localhost:8081}
tenant=${2:?tenant token (bin/dotmac token --tenant demo --perm "*")}
operator=${3:?operator token (bin/dotmac token --operator)}
rounds=${ROUNDS:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sign_in() { # jar token
	curl -fsS -c "$1" -o /dev/null --data-urlencode "token=$2" "$base/console/sign-in"
}
sign_in "$work/tenant" "$tenant"
sign_in "$work/operator" "$operator"

page() { curl -fsS -b "$work/tenant" "$base$1"; }
customer=$(page /console/customers | grep -o '/console/customers/[0-9a-f-]\{36\}' | head -n 1)
[[ -n $customer ]] || { echo "no customer in the tenant" >&2; exit 1; }
body=$(page "$customer")
invoice=$(grep -o '/console/invoices/[0-9a-f-]\{36\}' <<<"$body" | head -n 1)
payment=$(grep -o '/console/payments/[0-9a-f-]\{36\}' <<<"$body" | head -n 1)
event=$(page "$invoice" | grep -o '?at=[0-9]*' | tail -n 1)
name=$(page /console/customers | grep -o '/console/customers/[0-9a-f-]\{36\}">[^<]*' | head -n 1 | sed 's/.*">//; s/ .*//')
# An "as of" date inside the data: the middle date of the customer's statement.
dates=$(grep -o '<td>[0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}</td>' <<<"$body" | sort -u | sed 's/<[^>]*>//g')
as_of=$(sed -n "$((($(wc -l <<<"$dates") + 1) / 2))p" <<<"$dates")

pages=(
	"tenant /console/customers"
	"tenant /console/customers?q=$name"
	"tenant $customer"
	"tenant $customer?as_of=$as_of"
	"tenant $invoice"
	"tenant $invoice$event"
	"tenant $payment"
	"tenant /console/reports/aging"
	"tenant /console/reports/mrr"
	"tenant /console/ledger/trial-balance"
	"tenant /console/ledger/trial-balance?as_of=$as_of"
	"tenant /console/ledger/trial-balance?as_of=$as_of&source=replay"
	"tenant /console/ledger/accounts/1100"
	"tenant /console/audit"
	"operator /console/ops"
	"operator /console/ops/projections/invoices"
)
printf '%-72s %8s %8s %8s\n' page median_ms p95_ms max_ms
for entry in "${pages[@]}"; do
	who=${entry%% *} path=${entry#* }
	curl -fsS -b "$work/$who" -o /dev/null "$base$path" # warm-up
	for _ in $(seq "$rounds"); do
		curl -fsS -b "$work/$who" -o /dev/null -w '%{time_total}\n' "$base$path"
	done | sort -n | awk -v p="$path" '{ t[NR] = $1 * 1000 } END {
		printf "%-72s %8.1f %8.1f %8.1f\n", substr(p, 1, 72), t[int((NR + 1) / 2)], t[int(NR * 0.95 + 0.999)], t[NR] }'
done
