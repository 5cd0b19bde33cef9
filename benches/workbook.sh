#!/usr/bin/env bash
# Writing the result workbook vs rust_xlsxwriter alone writing the same cells (constant
# memory), three runs each, alternating, in one run on one machine. Prints medians, the
# ratio and peak memory (max RSS). ROWS defaults to 1,000,000; `--quick` (or QUICK=1) or
# `ROWS=20000` for a quick run. The last line is the goal row benches/run.sh collects:
#   | stage | muster median s | baseline median s | ratio | goal | met | peak MiB |
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
[[ "${1:-}" == "--quick" ]] && QUICK=1
if [[ ${QUICK:-0} == 1 ]]; then rows=${ROWS:-20000}; else rows=${ROWS:-1000000}; fi
cargo bench --bench workbook --no-run >/dev/null 2>&1 || cargo bench --bench workbook --no-run
bin=$(ls -t target/release/deps/workbook-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A secs mem
for i in 1 2 3; do
  for mode in raw muster; do
    /usr/bin/time -f "%e %M" -o "$out/t" "$bin" "$mode" "$rows" "$out/$mode.xlsx" >/dev/null
    read -r s m < "$out/t"
    secs[$mode]+="$s "
    mem[$mode]+="$m "
  done
done
raw_s=$(echo "${secs[raw]}" | median); mus_s=$(echo "${secs[muster]}" | median)
raw_m=$(echo "${mem[raw]}" | median); mus_m=$(echo "${mem[muster]}" | median)
printf 'rows: %s (median of 3)\n' "$rows"
printf '%-30s %8s s  peak %6d MiB\n' "rust_xlsxwriter alone" "$raw_s" $((raw_m / 1024))
printf '%-30s %8s s  peak %6d MiB\n' "muster ResultsWriter" "$mus_s" $((mus_m / 1024))
ratio=$(ratio "$mus_s" "$raw_s")
met=$(met "$ratio" 1.3)
if [[ $met == yes ]] && (( mus_m >= 100 * 1024 )); then met=no; fi
printf 'ratio: %s (goal <= 1.3x)\n' "$ratio"
echo "| write the result workbook, $rows rows | $mus_s | rust_xlsxwriter $raw_s | ${ratio} | ≤ 1.3×, peak < 100 MiB | $met | $((mus_m / 1024)) |"
