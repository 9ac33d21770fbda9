#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every libFuzzer target over its seed corpus for a while and fails
# if any of them finds a crash, a leak or a broken property.
#
#   FUZZ_SECONDS=N   seconds per target (default 4: about 40 s in all,
#                    the length of a test; `make fuzz` runs longer)
#   FUZZ_TARGETS=".." which targets (default: all)
#
#   FUZZ_KEEP=1      keep what the runs find in tests/fuzz/work/TARGET
#                    (build tree) and start from it next time, as
#                    `make fuzz` does; otherwise each run starts from the
#                    seed corpus alone, so that the test stays short
#
# New inputs never go into the seed corpus in the source tree; a crashing
# input is kept in tests/fuzz/artifacts/ with the command that replays it.  Without clang
# the targets are not built: skipped, unless VIRTCKPT_REQUIRE_INTEGRATION=1.
set -uo pipefail

srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${abs_top_builddir:-$srcdir}
seconds=${FUZZ_SECONDS:-4}
targets=${FUZZ_TARGETS:-document manifest name-map qcow2 qcow2-check qcow2-chain remote-reply replica resume-record}
out=$builddir/tests/fuzz

missing=0
for t in $targets; do
	[[ -x "$out/fuzz-$t" ]] || missing=1
done
if [[ $missing == 1 ]]; then
	echo "fuzz targets not built (they need clang with -fsanitize=fuzzer: apt-get install clang libclang-rt-14-dev, then configure again)" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
fi

# Stores and manifests are written many times a second: in memory if we can.
scratch=$(mktemp -d "$( [[ -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/virtckpt-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$out/artifacts"

fail=0
for t in $targets; do
	work=$scratch/work-$t
	[[ "${FUZZ_KEEP:-0}" == 1 ]] && work=$out/work/$t
	mkdir -p "$work"
	log=$scratch/$t.log
	echo "== fuzz-$t for ${seconds}s"
	TMPDIR=$scratch "$out/fuzz-$t" -max_total_time="$seconds" \
		-artifact_prefix="$out/artifacts/$t-" -print_final_stats=1 \
		"$work" "$srcdir/tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$log"
	if [[ $rc -ne 0 ]]; then
		fail=1
		echo "FAIL: fuzz-$t exited $rc; the end of its log:" >&2
		tail -n 40 "$log" >&2
		echo "replay with: $out/fuzz-$t $out/artifacts/$t-*" >&2
	fi
done
exit $fail
