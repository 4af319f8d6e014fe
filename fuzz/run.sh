#!/bin/sh
# Run one fuzz target offline on a stable toolchain (see FUZZING.md).
#   fuzz/run.sh TARGET [RUNS] [extra libFuzzer flags...]
# TARGET: engine | scenario_raw | scenario_mutate. RUNS defaults to 10^7.
# Set ASAN=1 for an AddressSanitizer build (needs RUSTC_BOOTSTRAP=1 on
# stable; about 5x slower, and the code under test is safe Rust).
set -eu
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET [RUNS] [libFuzzer flags...]}
runs=${2:-10000000}
[ $# -ge 2 ] && shift 2 || shift $#
corpus=corpus/$target
mkdir -p "$corpus"
set -- -runs="$runs" -print_final_stats=1 "$@"
# The saved findings and seeds of fuzz/regressions/<target>/ start every run.
seeds=regressions/$target
case $target in
scenario_raw) seeds="$seeds ../examples/scenarios"; set -- -dict=scenario.dict "$@" ;;
esac
if [ "${ASAN:-0}" = 1 ]; then
	# shellcheck disable=SC2086 # $seeds is one or two paths
	exec env RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run "$target" "$corpus" $seeds -- "$@"
fi
# shellcheck disable=SC2086
exec nice -n 19 cargo fuzz run -O -s none "$target" "$corpus" $seeds -- "$@"
