# shellcheck shell=bash
# Rounds for bench/throughput.sh and bench/flow.sh: BENCH_ROUNDS, checked here, and the median of
# a run's values over the rounds. Sourced, not run.

ROUNDS="${BENCH_ROUNDS:-1}"
if [[ ! "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || ((ROUNDS > 20)); then
    echo "BENCH_ROUNDS must be 1..20 (got '$ROUNDS')" >&2
    exit 2
fi

# median_of FILE NAME COLUMN: prints "count median min max" of column COLUMN over FILE's lines
# whose first column is NAME, or "0" when there are none.
median_of() {
    awk -v t="$2" -v col="$3" 'BEGIN {n = 0} $1 == t {v[n] = $col; n++}
        END {
            if (n == 0) { print 0; exit }
            for (i = 1; i < n; i++) for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
                x = v[j]; v[j] = v[j - 1]; v[j - 1] = x
            }
            m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            print n, m, v[0], v[n - 1]
        }' "$1"
}
