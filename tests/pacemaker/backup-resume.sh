#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup interrupted by Pacemaker moving the VM resumes on the new node.
#
# vm6 (1 GiB of random data) runs on n1; vm6-ckpt cancels a running backup
# at once when it stops (backup_wait=0).  A full backup limited to 64 MiB/s
# (16 s) is caught about halfway by a live migration to n2 while the guest
# writes: the agent cancels it, it keeps what it copied and its
# checkpoint, vm6-ckpt redefines the chain with that checkpoint on n2, and
# the next backup on n2 resumes it.  Then an incremental of 128 MiB of new
# writes is caught halfway by a stop/start relocation to n3 (allow-migrate
# false: QEMU stops, its bitmaps saved in the image), and resumes on n3.
# Then an incremental of 192 MiB interrupted by two live migrations in a
# row, n3 -> n1 -> n2, resumed twice.  Each time the runs together read
# over NBD at most 1.15 x (the data + what the guest wrote meanwhile), and
# the backups restore byte for byte the disk as it was when the last run
# started.  Last, a node crash mid-backup (virtckpt and QEMU killed): the
# next backup, where Pacemaker restarted the VM, removes what it left and
# is a full one (the chain is broken), and restores exactly.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

MIB=1048576
SIZE=1024

vc_pcmk_lab 3
vc_vm_setup vm6 "$SIZE" n1
vc_rsc_param vm6-ckpt backup_wait 0
vc_wait_idle
B=$VC_BACKUPS

# interrupted WHAT : the background backup was cancelled by the agent and
# kept what it copied.
interrupted() {
	local rc=0
	wait "$BG" || rc=$?
	vc_assert_eq 1 "$rc" "$1: the backup exited 1"
	grep -q "interrupted: kept [0-9.]* MiB it copied" "$VC_TMP/bg.out" ||
		vc_fail "$1: nothing kept: $(cat "$VC_TMP/bg.out")"
	vc_log "$1: $(grep -o "interrupted: kept [0-9.]* MiB" "$VC_TMP/bg.out")"
}

# resumed NODE ID LEVEL MIB WHAT : backup ID on NODE resumes the
# interrupted one, reads at most 1.15 x MIB in all, and every backup so
# far restores exactly.
resumed() {
	local read id
	vc_vm_backup "$1" vm6 "$2" "$3"
	grep -q "backup $2 of vm6 resumes the backup interrupted" <<<"$VC_ERR" ||
		vc_fail "$5: backup $2 did not resume: $VC_ERR"
	read=$(backup_read "$B" "$2")
	vc_log "$5: backup $2 read $((read / MIB)) MiB over NBD in all its runs, for $4 MiB of data and writes"
	((read * 100 <= $4 * MIB * 115)) || vc_fail "$5: read $read bytes, more than 1.15 x $4 MiB"
	expect_exit 0 vnck "$1" verify "$B"
	for ((id = 1; id <= $2; id++)); do
		rm -rf "$VC_TMP/r$id"
		expect_exit 0 vnck "$1" restore "$B" -o "$VC_TMP/r$id" --until "$id"
		assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm6.ref@$id" "$5: restore of backup $id"
		rm -rf "$VC_TMP/r$id"
	done
}

# --- a full backup, live migration about halfway -------------------------------
backup_in_background "$B" vnck n1 backup vm6 -o "$B" --max-rate $((64 * MIB))
ref_write n1 vm6 vda vm6 0x61 8M 8M
wait_copied "$B" $((SIZE / 2))
vc_vm_move vm6 n2
vc_assert_eq "running (migrated)" "$(vc_virsh n2 domstate --reason vm6)" "vm6 live-migrated to n2"
interrupted "full, live migration"
ref_write n2 vm6 vda vm6 0x62 900M 8M
resumed n2 1 full $((SIZE + 16)) "full, live migration"

# --- an incremental, stop/start relocation about halfway ------------------------
for i in 0 1 2 3 4 5 6 7; do
	ref_write n2 vm6 vda vm6 "0x7$i" "$((i * 120 + 4))M" 16M
done
vc_rsc_meta vm6 allow-migrate false
vc_wait_idle
backup_in_background "$B" vnck n2 backup vm6 -o "$B" --max-rate $((16 * MIB))
wait_copied "$B" 64
vc_vm_move vm6 n3
vc_assert_eq "running (booted)" "$(vc_virsh n3 domstate --reason vm6)" "vm6 started again on n3"
interrupted "inc, relocation"
ref_write n3 vm6 vda vm6 0x63 300M 4M
resumed n3 2 inc $((128 + 4)) "inc, relocation"

# --- an incremental interrupted twice: live migrations n3 -> n1 -> n2 ----------
for i in 0 1 2 3 4 5 6 7; do
	ref_write n3 vm6 vda vm6 "0x8$i" "$((i * 120 + 40))M" 24M
done
vc_rsc_meta vm6 allow-migrate true
vc_wait_idle
backup_in_background "$B" vnck n3 backup vm6 -o "$B" --max-rate $((16 * MIB))
wait_copied "$B" 64
vc_vm_move vm6 n1
interrupted "inc, first migration"
ref_write n1 vm6 vda vm6 0x64 500M 4M
backup_in_background "$B" vnck n1 backup vm6 -o "$B" --max-rate $((16 * MIB))
for ((i = 0; i < 600; i++)); do
	grep -q "resumes the backup interrupted" "$VC_TMP/bg.out" && break
	sleep 0.05
done
wait_copied "$B" 128
vc_vm_move vm6 n2
interrupted "inc, second migration"
grep -q "resumes the backup interrupted" "$VC_TMP/bg.out" || vc_fail "the second run did not resume"
ref_write n2 vm6 vda vm6 0x65 10M 4M
resumed n2 3 inc $((192 + 8)) "inc, two migrations"
grep -q 'resumed="2"' "$B/manifest.xml" || vc_fail "backup 3 does not count 2 interrupted runs"
vc_wait_idle
[[ -z "$(vc_pcmk_failures)" ]] || vc_fail "failed actions: $(vc_pcmk_failures)"

# --- a node crash mid-backup: nothing can be trusted, the next one starts over --
backup_in_background "$B" vnck n2 backup vm6 -o "$B" -l full --max-rate $((64 * MIB))
wait_copied "$B" $((SIZE / 4))
kill -KILL "$BACKUP_PID"
vc_node_crash n2 vm6
wait "$BG" || true
vc_wait_running_off n2 vm6 vm6-ckpt
node=$VC_VM_NODE
vc_log "vm6 runs on $node after the crash of n2"
vc_vm_backup "$node" vm6 4 full
grep -q "removing $B/.partial-4, left by an interrupted backup" <<<"$VC_ERR" ||
	vc_fail "the crashed backup's partial directory was not removed: $VC_ERR"
grep -q "resumes the backup" <<<"$VC_ERR" && vc_fail "a crashed backup was resumed: $VC_ERR"
grep -q "full backup: the checkpoint chain is broken" <<<"$VC_ERR" ||
	vc_fail "the backup after the crash does not say why it is full: $VC_ERR"
rm -rf "$VC_TMP/r4"
expect_exit 0 vnck "$node" restore "$B" -o "$VC_TMP/r4"
assert_same_disk "$VC_TMP/r4/vda.qcow2" "$VC_TMP/vm6.ref@4" "node crash: the full backup after it restores exactly"
vc_wait_idle
vc_log PASS
