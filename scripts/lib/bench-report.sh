# Shared by scripts/compare-builds.sh, scripts/upper-bounds.sh and scripts/commands-p99-bound.sh:
# one `dotmac bench` run and the figures of its --json report, and the medians of several
# builds' runs. Source it; needs jq.

# bench_header: the column names of bench_figures' lines, the build's name first.
bench_header() {
	printf 'build\tpgbench tx/s\tcommands/s\tratio\tp99 ms\tpgbench p99 ms\tCPU us/cmd\tcommits/cmd\trows/cmd\talloc KB/cmd\thot16/s\thot16 p99 ms\thot64/s\tinvoices/s\tbill reads p99 ms\tinvoices/pgbench\n'
}

# bench_figures FILE: one tab-separated line of the run's figures, "-" where a scenario did
# not run. "pgbench p99" is the single-row insert's at the commands' client count, in the same
# run: the host's own tail, beside the commands' p99. Rows written and bytes the server allocated per command are counts, not timings:
# they hold from run to run where the rates move with the host, so a change of a few percent
# shows in them first.
bench_figures() {
	jq -r '
		def f: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
		.baseline.single_row_insert_tx_per_s as $b |
		[ ($b | f),
		  (.scenarios.commands.commands_per_s | f), (.scenarios.commands.ratio | f), (.scenarios.commands.p99_ms | f),
		  (.baseline.at_command_clients.p99_ms | f),
		  (.scenarios.commands.cpu_per_command.total_us | f), (.scenarios.commands.work_per_command.commits | f),
		  (.scenarios.commands.work_per_command.rows_written | f),
		  (if .scenarios.commands.work_per_command.server_allocated_bytes then .scenarios.commands.work_per_command.server_allocated_bytes / 1024 else null end | f),
		  (.scenarios.commands_hot[0].commands_per_s | f), (.scenarios.commands_hot[0].p99_ms | f),
		  (.scenarios.commands_hot[1].commands_per_s | f),
		  (.scenarios.billing_run.invoices_per_s | f), (.scenarios.billing_run.query_p99_ms | f),
		  (if .scenarios.billing_run.invoices_per_s and $b > 0 then .scenarios.billing_run.invoices_per_s / $b else null end | f)
		] | @tsv' "$1"
}

# bench_run WHO NAME I DIR COMMAND...: runs COMMAND (a `dotmac bench` command line, given
# --json DIR/NAME-I.json) with its output in DIR/NAME-I.log, and prints NAME and the run's
# figures (bench_figures). A run that fails is named, with where its output is, by WHO (the
# calling script) on standard error, and returns 1.
bench_run() {
	local who=$1 name=$2 i=$3 dir=$4
	shift 4
	if ! "$@" --json "$dir/$name-$i.json" >"$dir/$name-$i.log" 2>&1; then
		echo "$who: $name's run $i failed; its output: $dir/$name-$i.log" >&2
		return 1
	fi
	printf '%s\t%s\n' "$name" "$(bench_figures "$dir/$name-$i.json")"
}

# bench_medians RUNS BASE: from RUNS (bench_header, then "NAME<TAB>bench_figures" lines), each
# column's median by build, in the order the builds first appear, and each other build's
# median over BASE's.
bench_medians() {
	awk -F'\t' -v base="$2" '
		function median(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		NR == 1 { cols = NF; for (c = 2; c <= NF; c++) name[c] = $c; next }
		{
			if (!seen[$1]++) builds[++nb] = $1
			for (c = 2; c <= NF; c++) if ($c != "-") { n[$1, c]++; v[$1, c, n[$1, c]] = $c + 0 }
		}
		END {
			printf "median"
			for (b = 1; b <= nb; b++) printf "\t%s", builds[b]
			for (b = 1; b <= nb; b++) if (builds[b] != base) printf "\t%s/%s", builds[b], base
			printf "\n"
			for (c = 2; c <= cols; c++) {
				line = name[c]; any = 0
				for (b = 1; b <= nb; b++) {
					m[b] = "-"
					if (n[builds[b], c]) {
						delete a; for (i = 1; i <= n[builds[b], c]; i++) a[i] = v[builds[b], c, i]
						m[b] = median(a, n[builds[b], c]); any = 1
					}
					if (builds[b] == base) mb = m[b]
					line = line "\t" (m[b] == "-" ? "-" : sprintf("%.2f", m[b]))
				}
				if (!any) continue
				for (b = 1; b <= nb; b++) if (builds[b] != base)
					line = line "\t" ((m[b] == "-" || mb == "-" || mb == 0) ? "-" : sprintf("%.3f", m[b] / mb))
				print line
			}
		}' "$1"
}
