#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The chaos soak's short run, for make check: every fault kind of soak.sh
# once (SOAK_ONLY), with the writes and nodes of SEED=1, so that each fault
# and its invariants are checked on every run in about 3 minutes.  A long
# random run: make soak SEED=N STEPS=N (doc/soak.md).

export SOAK_SEED=${SOAK_SEED:-1}
export SOAK_ONLY=${SOAK_ONLY:-"kill-backup full-target minority crash kill-qemu partition kill-corosync kill-pacemaker kill-daemon migrate move"}
export SOAK_STEPS=${SOAK_STEPS:-11}
exec "$(dirname "$0")/soak.sh"
