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
scenarios=(redefine-after-recreate redefine-broken-chain bad-input restore-targets
	backup-health backup-offline)
# 'make memcheck-long' adds the longest under valgrind (2 to 4 minutes
# each; schedule-run mostly waits for its windows, stretched to 90 s), to
# keep make check within its time.
[[ "${VIRTCKPT_MEMCHECK_LONG:-0}" != 1 ]] || scenarios+=(backup-resume prune schedule-run)
for t in "${scenarios[@]}"; do
	VC_TEST_NAME="memcheck/$t" bash "$here/$t.sh"
done
