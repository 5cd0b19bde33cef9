#!/usr/bin/env bash
# The one benchmark command (issue 10): runs every stage script — each generates its data,
# builds and runs muster and its baseline three times, alternating, on this machine — and
# prints one table of medians and ratios. `benches/run.sh --quick` uses small sizes
# (seconds in all; what CI runs: it fails when a script breaks, never on a missed goal).
#
# A stage script prints its details on stderr and its goal rows on stdout, as
#   | stage | muster median s | baseline median s | ratio | goal | met | peak MiB |
set -uo pipefail
cd "$(dirname "$0")/.."
quick=
[[ "${1:-}" == "--quick" ]] && quick=--quick
table=$(mktemp)
trap 'rm -f "$table"' EXIT
failed=()
for stage in workbook read xlsx submit; do
  script=benches/$stage.sh
  if [[ ! -f $script ]]; then
    echo "== $stage: $script is missing; stage not run" >&2
    echo "| $stage | - | - | - | - | missing | - |" >> "$table"
    continue
  fi
  echo "== $stage ($script $quick)" >&2
  out=$(bash "$script" $quick)
  rc=$?
  grep -v '^| ' <<< "$out" >&2
  grep '^| ' <<< "$out" >> "$table"
  if (( rc != 0 )); then
    echo "== $stage: $script failed (exit $rc)" >&2
    failed+=("$stage")
  fi
done
echo
echo "muster benchmarks${quick:+ (quick sizes)}, $(date -u +%Y-%m-%d), $(nproc) cores, medians of 3 runs"
echo
echo "| stage | muster (s) | baseline (s) | ratio | goal | met | muster peak (MiB) |"
echo "|---|---|---|---|---|---|---|"
cat "$table"
if (( ${#failed[@]} > 0 )); then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
