#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup that does not finish commits nothing and costs the chain
# nothing: virtckpt killed with SIGKILL mid-copy, stopped with SIGTERM, its
# libvirt job aborted from outside, cancelled by "virtckpt cancel" while
# suspended (^Z), its target disk full, QEMU killed.  Stopped by a signal
# it handles, it keeps what it copied for the next backup to resume
# (backup-resume.sh tests the resume itself).  In each case the next
# backup is correct, and every restore is byte-exact.
# Also: one backup per domain at a time, a hold refuses new backups, bad
# arguments, a directory that belongs to another domain.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
# Slow enough to be caught in the middle, however fast the machine: 8 MiB/s,
# so the 96 MiB of dirty_a take 12 s.
RATE=$((8 * 1048576))
SLOW=(--max-rate "$RATE")

ref_domain "$H" vm a 128

expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
manifest0=$(sha256sum <"$B/manifest.xml")
# A finished backup leaves no pid behind for cancel to find.
vc_assert_eq 0 "$(stat -c %s "$VC_TMP/run/vm.xml.lock")" "the run lock is emptied at the end"

# dirty_a N : 96 MiB of new data, spread over the disk.
dirty_a() {
	local i
	for i in 0 1 2 3 4 5 6 7 8 9 a b; do
		ref_write "$H" vm vda a "0x$1$i" "$((16#$i * 10 + 2))M" 8M
	done
}

# start_slow_backup : a backup in the background, caught while it copies
# (BG, BACKUP_PID: see backup_in_background).
start_slow_backup() {
	backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" "${SLOW[@]}"
}

# after_failure WHAT : nothing of the failed backup is committed or left.
after_failure() {
	vc_assert_eq "$manifest0" "$(sha256sum <"$B/manifest.xml")" "$1: manifest unchanged"
}

# kept WHAT N : a backup stopped by a signal it can handle kept its
# partial directory with a progress record and its checkpoint (after the N
# of the chain) for the next backup to resume, and ended its libvirt job.
kept() {
	[[ -f "$(echo "$B"/.partial-*/progress.xml)" ]] || vc_fail "$1 kept no progress record"
	vc_virsh "$H" domjobinfo vm | grep -q "Job type: *None" || vc_fail "$1 left the libvirt job"
	vc_assert_eq "$(($2 + 1))" "$(checkpoint_names "$H" vm | grep -c .)" "$1: its checkpoint is kept"
}

# next_backup_is_exact WHAT : the next backup is an incremental whose
# restore equals the disk.
next_backup_is_exact() {
	expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
	grep -q "(inc) of vm done" <<<"$VC_ERR" || vc_fail "$1: next backup was not incremental: $VC_ERR"
	BACKUP_ERR=$VC_ERR
	[[ -z "$(find "$B" -name '.partial-*')" ]] || vc_fail "$1: partial directory left"
	rm -rf "$VC_TMP/r"
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r"
	assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "$1: next backup restores exactly"
	expect_exit 0 vck "$H" verify "$B"
	manifest0=$(sha256sum <"$B/manifest.xml")
}

# --- SIGKILL of virtckpt in the middle of the copy --------------------------
dirty_a 1
start_slow_backup
kill -KILL "$BACKUP_PID"
wait "$BG" || true
after_failure "SIGKILL"
jobinfo=$(vc_virsh "$H" domjobinfo vm 2>&1 || true)
grep -q "Job type: *Unbounded" <<<"$jobinfo" ||
	vc_fail "the killed backup's libvirt job is not left behind: test is not testing: $jobinfo; the backup: $(cat "$VC_TMP/bg.out")"
next_backup_is_exact "after SIGKILL"
grep -q "ending a backup job of vm left by an interrupted virtckpt" <<<"$BACKUP_ERR" ||
	vc_fail "stale job not reported: $BACKUP_ERR"
grep -q "removing checkpoint virtckpt\..* left by an interrupted backup" <<<"$BACKUP_ERR" ||
	vc_fail "orphan checkpoint not reported: $BACKUP_ERR"

# --- SIGTERM ---------------------------------------------------------------
dirty_a 2
start_slow_backup
kill -TERM "$BACKUP_PID"
wait_backup_interrupted "SIGTERM"
after_failure "SIGTERM"
kept "SIGTERM" 2
next_backup_is_exact "after SIGTERM"
grep -q "resumes the backup interrupted" <<<"$BACKUP_ERR" || vc_fail "SIGTERM: not resumed: $BACKUP_ERR"
vc_assert_eq 3 "$(checkpoint_names "$H" vm | grep -c .)" "SIGTERM: the interrupted checkpoint is gone once resumed"

# --- virtckpt cancel: a backup suspended with ^Z, then a hold ---------------
expect_exit 0 vck "$H" -v cancel vm "${RUN[@]}"
grep -q "no backup of vm is running on this host" <<<"$VC_ERR" || vc_fail "cancel, nothing running: $VC_ERR"
dirty_a 6
start_slow_backup
suspend_backup
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --grace 1 --wait 30 --hold 300
resume_backup
# (pids as the host's PID namespace sees them)
for msg in "backups of vm are held on this host for 300 s" \
	"waiting up to 1 s for the backup of vm \(pid [0-9]+\) to finish" \
	"cancelling the backup of vm \(pid [0-9]+\)" \
	"the backup of vm \(pid [0-9]+\) was cancelled"; do
	grep -qE "$msg" <<<"$VC_ERR" || vc_fail "cancel: no '$msg' in: $VC_ERR"
done
wait_backup_interrupted "cancel"
after_failure "cancel"
kept "cancel" 3
vc_assert_eq 4 "$(vck "$H" checkpoints show vm | sed -n 's/^Checkpoints: *//p')" "cancel: the store holds the chain and the kept checkpoint"
expect_error 1 "backups of vm are held on this host for [0-9]+ more s: the cluster is moving it" \
	vck "$H" -q backup vm -o "$B" "${RUN[@]}"
after_failure "held"
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --release
next_backup_is_exact "after cancel and release"
# A backup that finishes within the grace period is not cancelled.
dirty_a 8
start_slow_backup
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --grace 120
grep -qE "the backup of vm \(pid [0-9]+\) finished" <<<"$VC_ERR" || vc_fail "cancel --grace: $VC_ERR"
grep -q "cancelling" <<<"$VC_ERR" && vc_fail "cancel --grace cancelled a backup that finished: $VC_ERR"
wait "$BG" || vc_fail "the backup given a grace period failed: $(cat "$VC_TMP/bg.out")"
grep -q "(inc) of vm done" "$VC_TMP/bg.out" || vc_fail "backup in the grace period: $(cat "$VC_TMP/bg.out")"
# --max-rate held: the backup took at least 90 % of read / rate.
id=$(sed -n 's/.*<backup id="\([0-9]*\)".*/\1/p' "$B/manifest.xml" | tail -1)
read=$(backup_read "$B" "$id")
secs=$(sed -n 's/.*<backup id="'"$id"'".* seconds="\([0-9.]*\)".*/\1/p' "$B/manifest.xml")
awk -v r="$read" -v s="$secs" -v rate="$RATE" 'BEGIN { exit !(r >= 64 * 1048576 && s >= 0.9 * r / rate) }' ||
	vc_fail "--max-rate $RATE: backup $id read $read bytes in $secs s"
vc_log "--max-rate $RATE: backup $id read $read bytes in $secs s"
rm -rf "$VC_TMP/r"
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r"
assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "the backup that finished in the grace period restores exactly"
manifest0=$(sha256sum <"$B/manifest.xml")
# A cancel that cannot end the backup in time says so.
dirty_a 7
start_slow_backup
suspend_backup
# With --wait 0 cancel looks once, right after SIGTERM: too early.
expect_error 1 "the backup of vm \(pid [0-9]+\) did not end within 0 s of SIGTERM" \
	vck "$H" -q cancel vm "${RUN[@]}" --wait 0
resume_backup
wait "$BG" || true
after_failure "cancel with --wait 0"
next_backup_is_exact "after cancel --wait 0"

# --- the libvirt job aborted from outside ----------------------------------
dirty_a 3
start_slow_backup
vc_virsh "$H" domjobabort vm
rc=0
wait "$BG" || rc=$?
vc_assert_eq 1 "$rc" "job aborted: exit 1"
after_failure "job aborted"
next_backup_is_exact "after domjobabort"

# --- the target disk full --------------------------------------------------
small=$VC_TMP/small
mkdir "$small"
vc_on "$H" mount -t tmpfs -o size=40M tmpfs "$small"
expect_error 1 "No space left on device" vck "$H" -q backup vm -o "$small/b" "${RUN[@]}"
# The tmpfs exists only in the host's mount namespace: look from there.
vc_on "$H" test ! -e "$small/b/manifest.xml" || vc_fail "full disk: a manifest was written"
vc_assert_eq "" "$(vc_on "$H" find "$small/b" -name '*.qcow2')" "full disk: no partial image left"
vc_on "$H" umount "$small"
dirty_a 4
next_backup_is_exact "after a full target disk"

# --- one backup of a domain at a time ---------------------------------------
dirty_a 5
start_slow_backup
expect_error 1 "(a backup of vm is already running|another virtckpt is writing to)" \
	vck "$H" backup vm -o "$VC_TMP/elsewhere" "${RUN[@]}"
expect_error 1 "another virtckpt is writing to $B" vck "$H" -q backup vm -o "$B" "${RUN[@]}"
wait "$BG" || vc_fail "the first backup failed: $(cat "$VC_TMP/bg.out")"
manifest0=$(sha256sum <"$B/manifest.xml")

# --- bad arguments -----------------------------------------------------------
expect_exit 2 vck "$H" backup vm
expect_exit 2 vck "$H" backup vm -o "$B" -l weekly
expect_exit 2 vck "$H" backup -o "$B"
expect_error 2 "domain vm has no disk 'vdz'" vck "$H" -q backup vm -o "$B" "${RUN[@]}" --disk vdz
expect_error 2 "no disk of vm left to back up" vck "$H" -q backup vm -o "$B" "${RUN[@]}" --exclude vda
expect_error 1 "no disks known for ghost: it is not defined here and no checkpoint of it is stored" \
	vck "$H" -q backup ghost -o "$B" "${RUN[@]}"
vc_make_image "$VC_TMP/o.qcow2" 16M
vc_domain_xml other "$VC_TMP/o.qcow2" >"$VC_TMP/other.xml"
vc_virsh "$H" create "$VC_TMP/other.xml" >/dev/null
expect_error 1 "$B holds backups of domain 'vm', not 'other'" vck "$H" -q backup other -o "$B" "${RUN[@]}"
vc_virsh "$H" destroy other >/dev/null
after_failure "bad arguments"

# --- QEMU killed: the chain is broken, auto makes a full backup -----------
# Only overwrite allocated clusters before the crash: those writes reach the
# image file without metadata changes, so the reference stays exact.
ref_write "$H" vm vda a 0x99 5M 1M
vc_on "$H" kill -9 "$(vc_on "$H" cat /run/libvirt/qemu/vm.pid)"
for ((i = 0; i < 100; i++)); do
	vc_virsh "$H" domstate vm >/dev/null 2>&1 || break
	sleep 0.1
done
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
expect_exit 3 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
grep -q "a full backup is needed" <<<"$VC_ERR" || vc_fail "inc after crash: $VC_ERR"
after_failure "inc refused after the crash"
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "full backup: the checkpoint chain is broken" <<<"$VC_ERR" || vc_fail "auto after crash: $VC_ERR"
rm -rf "$VC_TMP/r"
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r"
assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "full backup after the crash restores exactly"
vck "$H" checkpoints show vm | grep -q "^State: *ok" || vc_fail "the full backup did not clear the broken mark"
ref_write "$H" vm vda a 0x98 6M 1M
manifest0=$(sha256sum <"$B/manifest.xml")
next_backup_is_exact "after the crash and a full backup"
vc_log PASS
