# Helpers the stage scripts share (`source benches/lib.sh` from the repository root).

# The median of the numbers on stdin, separated by spaces or newlines (the lower middle
# one of an even count).
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ratio A B: A / B as "1.23×". A baseline B that took under 0.01 s (quick mode's small
# inputs) gives no ratio: "n/a".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else printf "n/a" }'; }

# met RATIO GOAL: "yes" when RATIO (as `ratio` prints it) is at most GOAL, "no" when it is
# over, "not timed" for "n/a" (never a pass).
met() { awk -v r="$1" -v g="$2" 'BEGIN { print (r == "n/a" ? "not timed" : (r + 0 <= g ? "yes" : "no")) }'; }

# time_one NAME COMMAND...: one run under /usr/bin/time; its elapsed seconds and max RSS
# (KiB) are appended to secs[NAME] and mem[NAME], associative arrays the caller declares
# (`declare -A secs mem`), with $out a scratch folder. Exit 0, or 1 (`muster validate`
# with invalid rows, as the bench rosters have), counts; any other stops the script.
time_one() {
  local name=$1
  shift
  local status=0
  /usr/bin/time -f "%e %M" -o "$out/t" "$@" >"$out/stdout" 2>"$out/stderr" || status=$?
  if [ "$status" -gt 1 ]; then
    echo "$name failed (exit $status):" >&2
    cat "$out/stderr" >&2
    exit 2
  fi
  local s m
  read -r s m < <(tail -1 "$out/t")
  secs[$name]+="$s "
  mem[$name]+="$m "
}

# The largest of the numbers on stdin.
max() { tr ' ' '\n' | grep . | sort -n | tail -1; }

# peak_mib NAME: the largest max RSS of NAME's runs, in MiB.
peak_mib() { echo $(($(echo "${mem[$1]}" | max) / 1024)); }

# read_bench: builds benches/read.rs (and muster beside it) in release mode; sets $bench (its
# binary), $muster (the muster binary built with it) and $data (where generated inputs are
# kept, to be reused).
read_bench() {
  cargo bench --bench read --no-run >/dev/null 2>&1 || cargo bench --bench read --no-run
  bench=$(ls -t target/release/deps/read-* | grep -v '\.d$' | head -1)
  muster=$("$bench" muster-bin)
  [ -x "$muster" ] || { echo "muster binary not found at $muster" >&2; exit 2; }
  data=target/bench-data
  mkdir -p "$data"
}
