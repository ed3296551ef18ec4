#!/usr/bin/env bash
# Instructions per hook call, counted by valgrind's callgrind: a figure that does not drift with the machine's
# load or clock (on a shared VM, timings of the same call can differ by 1.7x within minutes, hiding any
# change under ~20%).  Runs benchmarks/profile_hook.py twice with different numbers of calls and divides
# the difference, so start-up and warm-up cancel out.  Needs valgrind (apt-get install valgrind); takes a
# few minutes, as the interpreter runs some 50 times slower under it.
#
#     benchmarks/instructions_per_call.sh [typical|heavy]
set -euo pipefail
cd "$(dirname "$0")/.."
chart=${1:-typical}
# profile_hook.py's own usage error would vanish into the sed below: say it here.
case "$chart" in
    typical | heavy) ;;
    *) echo "usage: benchmarks/instructions_per_call.sh [typical|heavy]" >&2; exit 2 ;;
esac
# Heavy calls differ more from one to the next (a difference over 4 calls varied by 13%): 10 of them.
if [ "$chart" = heavy ]; then low=2; high=12; else low=10; high=40; fi
python=${PYTHON:-.venv/bin/python}
count() {
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$python" benchmarks/profile_hook.py --chart "$chart" --calls "$1" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
first=$(count "$low")
second=$(count "$high")
echo "$chart: $(( (second - first) / (high - low) )) instructions per hook call"
