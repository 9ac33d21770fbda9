#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# backup and cancel from any node of a 3-node Pacemaker cluster, the VM
# (vm6) running on n1 (node id 1):
#  - "virtckpt backup" on n2 is handed over to n1: n1's virtckptd runs it
#    (its log), the output comes back to n2, the restore equals the disk;
#  - two slow backups handed over at once from n2 and n3: exactly one
#    runs, the other fails with "backup of vm6 already running on node 1";
#    the one that ran restores exact;
#  - a slow backup from n2, cancelled by "virtckpt cancel" on n3: n2's
#    backup fails and says it was interrupted; the next one is exact;
#  - n1 crashing while it runs a backup handed over from n2: n2's backup
#    fails with a clear error (its member left).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm6 128 n1
vc_wait_idle
B=$VC_BACKUPS
N1_LOG=$VC_TMP/hosts/n1/log/virtckptd.log

# restore_check NODE ID : backup ID restored on NODE equals the disk then.
restore_check() {
	expect_exit 0 vnck "$1" restore "$B" -o "$VC_TMP/r$2" --until "$2"
	assert_same_disk "$VC_TMP/r$2/vda.qcow2" "$VC_TMP/vm6.ref@$2" "restore of backup $2 on $1"
}

# --- handed over --------------------------------------------------------------
expect_exit 0 vnck n2 backup vm6 -o "$B"
grep -q "backup of vm6 handed over to node 1, where it runs" <<<"$VC_ERR" ||
	vc_fail "not handed over to n1: $VC_ERR"
grep -q "backup 1 (full) of vm6 done" <<<"$VC_ERR" ||
	vc_fail "n1's output did not come back to n2: $VC_ERR"
grep -q "node 2 hands over a backup of vm6" "$N1_LOG" || vc_fail "n1's daemon did not run it"
ref_snapshot vm6 1
restore_check n3 1

# --- two at once ------------------------------------------------------------------
ref_write n1 vm6 vda vm6 0x5a 0 48M
vnck n2 backup vm6 -o "$B" --max-rate 8M >"$VC_TMP/b2.out" 2>"$VC_TMP/b2.err" &
P2=$!
vnck n3 backup vm6 -o "$B" --max-rate 8M >"$VC_TMP/b3.out" 2>"$VC_TMP/b3.err" &
P3=$!
s2=0 s3=0
wait "$P2" || s2=$?
wait "$P3" || s3=$?
vc_log "concurrent backups from n2 and n3 exited $s2 and $s3"
if ((s2 == 0 && s3 != 0)); then
	ran=n2 refused=$VC_TMP/b3.err
elif ((s3 == 0 && s2 != 0)); then
	ran=n3 refused=$VC_TMP/b2.err
else
	vc_fail "not exactly one backup ran: n2 $s2 ($(cat "$VC_TMP/b2.err")), n3 $s3 ($(cat "$VC_TMP/b3.err"))"
fi
grep -q "backup of vm6 already running on node 1" "$refused" ||
	vc_fail "the refused backup says: $(cat "$refused")"
grep -q "backup 2 (inc) of vm6 done" "$VC_TMP/b${ran#n}.err" ||
	vc_fail "the backup from $ran: $(cat "$VC_TMP/b${ran#n}.err")"
vc_log "ok: the backup from $ran ran on node 1, the other was refused"
ref_snapshot vm6 2
restore_check n2 2

# --- cancel from n3 ---------------------------------------------------------------
ref_write n1 vm6 vda vm6 0x66 0 64M
vnck n2 backup vm6 -o "$B" --max-rate 2M >"$VC_TMP/slow.out" 2>"$VC_TMP/slow.err" &
SLOW=$!
vc_wait_lease n3 vm6 1
start=$(date +%s%N)
vnck n1 status >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
vc_log "status on n1 while the backup runs there: $ms ms"
((ms < 2000)) || vc_fail "status took $ms ms on n1 while a job ran"
expect_exit 0 vnck n3 cancel vm6
grep -q "cancel of vm6 handed over to node 1" <<<"$VC_ERR" ||
	vc_fail "cancel not handed over: $VC_ERR"
got=0
wait "$SLOW" || got=$?
((got != 0)) || vc_fail "the cancelled backup exited 0"
grep -q "interrupted by signal" "$VC_TMP/slow.err" ||
	vc_fail "n2 was not told: $(cat "$VC_TMP/slow.err")"
vc_log "ok: cancelled from n3; n2's backup exited $got"
vc_wait_lease n2 vm6 0 10
expect_exit 0 vnck n2 backup vm6 -o "$B"
grep -q "backup 3 (inc) of vm6 done" <<<"$VC_ERR" || vc_fail "backup 3: $VC_ERR"
ref_snapshot vm6 3
restore_check n3 3

# --- n1 crashes mid-backup ----------------------------------------------------------
ref_write n1 vm6 vda vm6 0x77 0 64M
vnck n2 backup vm6 -o "$B" --max-rate 2M >"$VC_TMP/slow.out" 2>"$VC_TMP/slow.err" &
SLOW=$!
vc_wait_lease n3 vm6 1
vc_node_crash n1 vm6
got=0
wait "$SLOW" || got=$?
vc_assert_eq 1 "$got" "n2's backup fails when n1 crashes"
grep -q "node 1, which ran the backup of vm6, left the cluster" "$VC_TMP/slow.err" ||
	vc_fail "no clear error on n2: $(cat "$VC_TMP/slow.err")"
vc_pcmk_timing "backup and cancel handed over"
vc_log PASS
