#!/usr/bin/env bash
# A sheet as large as Excel's (issue 30): `muster validate --errors-only` of a 1,048,575-row,
# 12-column xlsx (Excel's last row; written by rust_xlsxwriter, as benches/read.rs gen-xlsx)
# vs calamine reading the same file, streaming (`worksheet_cells_reader`, which muster's
# reader uses) and whole (`worksheet_range`), RUNS (default 3) runs a side, alternating, in
# one run on one machine, under /usr/bin/time (elapsed seconds, max RSS). Goal: validate
# ≤ 1.2× calamine's streaming read, peak ≤ 256 MiB. Prints medians and one goal row.
#
#   benches/xlsx.sh            # 1,048,575 rows (written once into target/bench-data)
#   benches/xlsx.sh --quick    # 20,000 rows, one run a side (what CI runs)
#   SHARED=1 benches/xlsx.sh   # the same rows with their text in shared strings, as Excel
#                              # saves it (calamine holds those whole: not in the goal)
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
if [[ "${1:-}" == "--quick" ]]; then
  : "${XLSX_ROWS:=20000}" "${RUNS:=1}"
fi
rows=${XLSX_ROWS:-1048575}
runs=${RUNS:-3}

read_bench
if [[ ${SHARED:-0} == 1 ]]; then
  xlsx=$data/roster-shared-$rows.xlsx gen=gen-xlsx-shared kind="shared-strings "
else
  xlsx=$data/roster-$rows.xlsx gen=gen-xlsx kind=""
fi
[ -s "$xlsx" ] || "$bench" "$gen" "$rows" "$xlsx" >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A secs mem
for _ in $(seq "$runs"); do
  time_one stream "$bench" calamine-stream "$xlsx"
  time_one validate "$muster" validate "$xlsx" --errors-only --quiet --out "$out/v.xlsx"
  time_one range "$bench" calamine "$xlsx"
done
med() { echo "${secs[$1]}" | median; }

printf '%sxlsx: %s rows x 12 columns (%s MiB); medians of %s runs\n' \
  "$kind" "$rows" $(($(stat -c %s "$xlsx") / 1048576)) "$runs"
printf '%-48s %8s s  peak %6s MiB\n' "calamine, streaming read (cell reader)" "$(med stream)" "$(peak_mib stream)"
printf '%-48s %8s s  peak %6s MiB\n' "calamine, whole-sheet read (worksheet_range)" "$(med range)" "$(peak_mib range)"
printf '%-48s %8s s  peak %6s MiB\n' "muster validate --errors-only --quiet" "$(med validate)" "$(peak_mib validate)"
r=$(ratio "$(med validate)" "$(med stream)")
peak=$(peak_mib validate)
met=$(met "$r" 1.2)
if [[ $met == yes ]] && (( peak > 256 )); then met=no; fi
echo "| validate ${rows}-row ${kind}xlsx (--errors-only) | $(med validate) | calamine streaming $(med stream) (whole sheet $(med range), peak $(peak_mib range) MiB) | ${r} | ≤ 1.2×, peak ≤ 256 MiB | $met | $peak |"
