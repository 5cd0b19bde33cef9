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
