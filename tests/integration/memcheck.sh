#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The integration scenarios again, with every virtckpt run under valgrind
# memcheck: a memory error or a definite leak fails the test.
set -eu -o pipefail
here=$(dirname "$0")
if ! command -v valgrind >/dev/null; then
	echo "valgrind not installed" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
fi
export VIRTCKPT_VALGRIND=1
scenarios=(redefine-after-recreate redefine-broken-chain bad-input restore-targets backup-resume
	prune backup-health backup-offline)
# 'make memcheck-long' adds those that mostly wait for the clock (valgrind
# stretches schedule-run's windows to 90 s: 4 minutes).
[[ "${VIRTCKPT_MEMCHECK_LONG:-0}" != 1 ]] || scenarios+=(schedule-run)
for t in "${scenarios[@]}"; do
	VC_TEST_NAME="memcheck/$t" bash "$here/$t.sh"
done
