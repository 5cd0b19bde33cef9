#!/usr/bin/env bash
# This build against an earlier one, measured in the same run (issue 24: "no stage more
# than 10 % slower than the previous build"):
#
#   benches/compare.sh [REV] [--full]     # REV defaults to HEAD~1; quick sizes unless --full
#
# REV is checked out into target/compare/REV (a git worktree; its own `target/` is kept
# there between runs), and `benches/run.sh --quick` runs in both trees, alternating: old,
# new, old, new (ROUNDS, default 2). Each stage's muster time is the median over the rounds
# of each tree's own medians; the table gives both and new / old, with "slower" when the
# new build takes more than 10 % longer. Baselines (csv, calamine, the hyper pair) are not
# compared: only muster's own time. Exit 1 when a stage is more than 10 % slower, 2 when a
# run fails. Not part of CI (it builds the earlier revision too: minutes on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

rev=HEAD~1
mode=--quick
for arg in "$@"; do
  case $arg in
    --full) mode= ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) rev=$arg ;;
  esac
done
rounds=${ROUNDS:-2}
sha=$(git rev-parse --verify --quiet "$rev^{commit}") || {
  echo "compare: $rev is not a commit of this repository" >&2
  exit 2
}
short=$(git rev-parse --short "$sha")
old=$PWD/target/compare/$short
if [[ ! -d $old ]]; then
  mkdir -p target/compare
  git worktree add --detach "$old" "$sha" >/dev/null || exit 2
fi
# Tools the stage scripts install once (npm's newman, the bench data) are shared.
[[ -d benches/node_modules && ! -e $old/benches/node_modules ]] \
  && ln -s "$PWD/benches/node_modules" "$old/benches/node_modules"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
declare -A times
# run TREE NAME ROUND: benches/run.sh in TREE; each goal row's muster median is kept.
run() {
  local tree=$1 name=$2 round=$3
  echo "== $name ($tree), round $round" >&2
  (cd "$tree" && benches/run.sh $mode) >"$work/$name.$round" 2>"$work/$name.$round.err" || {
    echo "compare: benches/run.sh failed in $tree:" >&2
    tail -20 "$work/$name.$round.err" >&2
    exit 2
  }
  while IFS='|' read -r _ stage secs _; do
    stage=$(echo "$stage" | xargs)
    secs=$(echo "$secs" | xargs)
    [[ $stage == stage || $stage == ---* || -z $stage || $secs == - ]] && continue
    times["$name|$stage"]+="$secs "
  done < <(grep '^| ' "$work/$name.$round")
}
for ((r = 1; r <= rounds; r++)); do
  run "$old" old "$r"
  run "$PWD" new "$r"
done

echo
echo "muster against $short ($rev)${mode:+, quick sizes}, $(date -u +%Y-%m-%d), $(nproc) cores, medians of $rounds alternating rounds"
echo
echo "| stage | $short (s) | this build (s) | this / $short | within 10 % |"
echo "|---|---|---|---|---|"
slower=0
rows=$work/rows
: >"$rows"
for key in "${!times[@]}"; do
  [[ $key == new\|* ]] || continue
  stage=${key#new|}
  new_s=$(echo "${times[$key]}" | median)
  old_s=$(echo "${times[old|$stage]:-}" | median)
  if [[ -z $old_s ]]; then
    echo "| $stage | - | $new_s | new stage | - |" >>"$rows"
    continue
  fi
  r=$(ratio "$new_s" "$old_s")
  ok=$(met "$r" 1.10)
  [[ $ok == no ]] && { ok=slower; slower=1; }
  echo "| $stage | $old_s | $new_s | $r | $ok |" >>"$rows"
done
sort "$rows"
# A stage gone from this build is said, not skipped.
for key in "${!times[@]}"; do
  [[ $key == old\|* ]] || continue
  stage=${key#old|}
  [[ -n ${times[new|$stage]:-} ]] || echo "| $stage | $(echo "${times[$key]}" | median) | - | gone | - |"
done
exit $slower
