#!/usr/bin/env bash
# Reading and validating vs the crates underneath (issue 2's speed goals, issue 10 rows 1-2),
# each side at least three times, alternating, in one run on one machine, under
# /usr/bin/time (elapsed seconds, max RSS). Prints medians, ratios, peak memory, and one
# markdown table row per goal (lines starting with `| `).
#
#   benches/read.sh                          # 1,000,000-row CSV, 100,000-row xlsx
#   benches/read.sh --quick                  # quick mode: 20,000-row CSV, 5,000-row xlsx,
#                                            # one run a side, no default run (what CI runs)
#
# RUNS (default 3) sets the runs per side; FULL=0 skips the informative default
# `muster validate` run (with its Results sheet). Data is generated once into
# target/bench-data/ and reused. pandas comes from a venv in target/bench-venv (made
# here when absent); when that fails the pandas row is skipped, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
if [[ "${1:-}" == "--quick" ]]; then
  : "${ROWS:=20000}" "${XLSX_ROWS:=5000}" "${RUNS:=1}" "${FULL:=0}"
fi
rows=${ROWS:-1000000}
xlsx_rows=${XLSX_ROWS:-100000}
runs=${RUNS:-3}
full=${FULL:-1}

read_bench
csv=$data/roster-$rows.csv
xlsx=$data/roster-$xlsx_rows.xlsx
[ -s "$csv" ] || "$bench" gen-csv "$rows" "$csv" >/dev/null
[ -s "$xlsx" ] || "$bench" gen-xlsx "$xlsx_rows" "$xlsx" >/dev/null

python=""
venv=target/bench-venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pandas' 2>/dev/null; then
  python=$venv/bin/python
elif python3 -m venv "$venv" >/tmp/muster-bench-venv.log 2>&1 &&
  "$venv/bin/pip" install -q pandas >>/tmp/muster-bench-venv.log 2>&1; then
  python=$venv/bin/python
else
  echo "pandas: skipped (could not make a venv with pandas: $(tail -1 /tmp/muster-bench-venv.log))"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A secs mem

for _ in $(seq "$runs"); do
  time_one csv "$bench" csv "$csv"
  time_one validate "$muster" validate "$csv" --errors-only --quiet --out "$out/v.xlsx"
  if [ -n "$python" ]; then
    time_one pandas "$python" -c 'import sys, pandas; print(len(pandas.read_csv(sys.argv[1], dtype=str)))' "$csv"
  fi
  time_one calamine "$bench" calamine "$xlsx"
  time_one muster_xlsx "$bench" muster-read "$xlsx"
done
if [ "$full" = 1 ]; then
  time_one validate_full "$muster" validate "$csv" --quiet --out "$out/full.xlsx"
fi

med() { echo "${secs[$1]}" | median; }

printf 'CSV: %s rows x 12 columns (%s MiB); xlsx: %s rows; medians of %s runs\n' \
  "$rows" $(($(stat -c %s "$csv") / 1048576)) "$xlsx_rows" "$runs"
printf '%-48s %8s s  peak %6s MiB\n' "csv crate, StringRecord loop" "$(med csv)" "$(peak_mib csv)"
printf '%-48s %8s s  peak %6s MiB\n' "muster validate --errors-only --quiet" "$(med validate)" "$(peak_mib validate)"
[ -n "$python" ] &&
  printf '%-48s %8s s  peak %6s MiB\n' "pandas.read_csv (dtype=str)" "$(med pandas)" "$(peak_mib pandas)"
printf '%-48s %8s s  peak %6s MiB\n' "calamine, every cell" "$(med calamine)" "$(peak_mib calamine)"
printf '%-48s %8s s  peak %6s MiB\n' "muster read + map of the xlsx" "$(med muster_xlsx)" "$(peak_mib muster_xlsx)"
[ "$full" = 1 ] &&
  printf '%-48s %8s s  peak %6s MiB  (one run, for information)\n' \
    "muster validate (default, with Results)" "$(med validate_full)" "$(peak_mib validate_full)"

# Each round times the csv crate and then validate, one right after the other: the host's
# load changes from minute to minute, so the ratio within each round says more than the
# ratio of the two medians when the runs are few. For information beside the goal row.
paired=$(paste -d ' ' <(echo "${secs[validate]}" | tr ' ' '\n' | grep .) \
  <(echo "${secs[csv]}" | tr ' ' '\n' | grep .) |
  awk '$2 > 0 { printf "%.2f\n", $1 / $2 }' | sort -n | tr '\n' ' ')
if [ -n "$paired" ]; then
  printf 'validate / csv crate, round by round: median %s× (all: %s)\n' \
    "$(echo "$paired" | median)" "$paired"
else
  echo "validate / csv crate, round by round: none (every csv run took under 0.01 s)"
fi

r=$(ratio "$(med validate)" "$(med csv)")
peak=$(peak_mib validate)
echo "| validate ${rows}-row CSV (--errors-only) | $(med validate) | csv crate $(med csv) | ${r} | ≤ 2.0× | $(met "$r" 2.0) | $peak |"
if [ -n "$python" ]; then
  r=$(ratio "$(med validate)" "$(med pandas)")
  echo "| validate ${rows}-row CSV vs pandas | $(med validate) | pandas.read_csv $(med pandas) | ${r} | ≤ 0.5× | $(met "$r" 0.5) | $peak |"
fi
mem_ok=$(awk -v p="$peak" 'BEGIN { print (p < 1024 ? "yes" : "no") }')
echo "| validate ${rows}-row CSV, peak memory | $(med validate) | — | — | < 1024 MiB | $mem_ok | $peak |"
r=$(ratio "$(med muster_xlsx)" "$(med calamine)")
echo "| read ${xlsx_rows}-row xlsx | $(med muster_xlsx) | calamine $(med calamine) | ${r} | ≤ 1.3× | $(met "$r" 1.3) | $(peak_mib muster_xlsx) |"
