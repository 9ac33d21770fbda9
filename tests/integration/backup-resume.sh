#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup cancelled mid-copy keeps what it copied, and the next backup
# resumes it: it reads over NBD only what was not copied and what the
# guest wrote since, and commits one backup that restores byte for byte
# the disk as it was when the resumed run started.  A full and an inc,
# each interrupted about halfway while the guest writes; a full
# interrupted twice.  Where resuming is impossible the next backup starts
# over and says why: another level asked for, a tampered progress
# record, QEMU killed (the interrupted checkpoint's bitmap is gone).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
MIB=1048576
SIZE=256
# 256 MiB in 8 s: slow enough to be caught halfway, whatever the load
# (16 s under valgrind, where a cancel takes seconds to arrive).
RATE_MIB=32
[[ "${VIRTCKPT_VALGRIND:-0}" != 1 ]] || RATE_MIB=16
RATE=(--max-rate $((RATE_MIB * MIB)))

ref_domain "$H" vm a "$SIZE"

# backup_id : the newest backup's id in the manifest.
backup_id() {
	sed -n 's/.*<backup id="\([0-9]*\)".*/\1/p' "$B/manifest.xml" | tail -1
}

# wait_resumed : the background backup resumes the interrupted one (its
# new image is then the one wait_copied sees).
wait_resumed() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "resumes the backup interrupted" "$VC_TMP/bg.out" && return 0
		sleep 0.05
	done
	vc_fail "the background backup did not resume: $(cat "$VC_TMP/bg.out")"
}

# cancel_backup WHAT : virtckpt cancel; the backup says what it kept.
cancel_backup() {
	local rc=0
	expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --wait 60
	wait "$BG" || rc=$?
	((rc == 1)) || cat "$VC_TMP/bg.out" >&2
	vc_assert_eq 1 "$rc" "$1: the cancelled backup exited 1"
	grep -q "interrupted: kept [0-9.]* MiB it copied" "$VC_TMP/bg.out" ||
		vc_fail "$1: nothing kept: $(cat "$VC_TMP/bg.out")"
	vc_log "$1: $(grep -o "interrupted: kept [0-9.]* MiB" "$VC_TMP/bg.out")"
	[[ -f "$(echo "$B"/.partial-*/progress.xml)" ]] || vc_fail "$1: no progress record"
	vc_virsh "$H" domjobinfo vm | grep -q "Job type: *None" || vc_fail "$1 left the libvirt job"
}

# restores_exactly WHAT : restore of the newest backup = the reference; verify.
restores_exactly() {
	[[ -z "$(find "$B" -name '.partial-*')" ]] || vc_fail "$1: partial directory left"
	rm -rf "$VC_TMP/r"
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r"
	assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "$1: restores exactly"
	expect_exit 0 vck "$H" verify "$B"
}

# read_at_most WHAT MIB : the newest backup read (all its runs) at most
# 1.15 x MIB over NBD.
read_at_most() {
	local read
	read=$(backup_read "$B" "$(backup_id)")
	vc_log "$1: read $((read / MIB)) MiB over NBD for $2 MiB of data and writes"
	((read * 100 <= $2 * MIB * 115)) || vc_fail "$1: read $read bytes, more than 1.15 x $2 MiB"
}

# --- a full backup, cancelled halfway, resumed --------------------------------
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" "${RATE[@]}"
# Guest writes while it copies: one where it copied, one ahead of it.
ref_write "$H" vm vda a 0x11 1M 4M
ref_write "$H" vm vda a 0x12 240M 4M
wait_copied "$B" $((SIZE / 2))
cancel_backup "full"
vc_assert_eq "" "$(vck "$H" list "$B" 2>/dev/null | sed -n '3,$p')" "an interrupted backup is not listed"
# ... and after it.
ref_write "$H" vm vda a 0x13 8M 4M
ref_write "$H" vm vda a 0x14 200M 4M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "backup 1 of vm resumes the backup interrupted at checkpoint" <<<"$VC_ERR" ||
	vc_fail "full: not resumed: $VC_ERR"
grep -q "(full) of vm done" <<<"$VC_ERR" || vc_fail "full: not a full backup: $VC_ERR"
restores_exactly "resumed full"
read_at_most "resumed full" $((SIZE + 16))
vck "$H" list "$B" | grep -qE "^ +1 full .*\(resumed 1 interrupted run, [0-9.]+ MiB reused\)" ||
	vc_fail "list does not say it resumed: $(vck "$H" list "$B")"
vc_assert_eq 1 "$(checkpoint_names "$H" vm | grep -c .)" "full: the interrupted checkpoint was removed"
# --json says so too, with the manifest's figures.
reused=$(($(grep -o ' reused="[0-9]*"' "$B/manifest.xml" | grep -o '[0-9]*' | paste -sd+)))
vck "$H" list "$B" --json | python3 -c '
import json, sys
b = json.load(sys.stdin)["backups"][0]
assert b["resumed"] == 1, b["resumed"]
assert b["bytes_reused"] == int(sys.argv[1]) > 0, (b["bytes_reused"], sys.argv[1])
assert b["bytes_reused"] == sum(d["bytes_reused"] for d in b["disks"])
' "$reused" || vc_fail "list --json does not say it resumed, reusing $reused bytes"

# --- an incremental, cancelled halfway, resumed -----------------------------
for i in 0 1 2 3 4 5 6 7; do
	ref_write "$H" vm vda a "0x2$i" "$((i * 30 + 4))M" 12M
done
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --max-rate 8M
ref_write "$H" vm vda a 0x31 5M 2M
wait_copied "$B" 48
cancel_backup "inc"
ref_write "$H" vm vda a 0x32 100M 2M
ref_write "$H" vm vda a 0x33 250M 2M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "backup 2 of vm resumes the backup interrupted" <<<"$VC_ERR" || vc_fail "inc: not resumed: $VC_ERR"
grep -q "(inc) of vm done" <<<"$VC_ERR" || vc_fail "inc: not an inc: $VC_ERR"
restores_exactly "resumed inc"
read_at_most "resumed inc" $((96 + 6))

# --- a full interrupted twice ---------------------------------------------------
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" -l full "${RATE[@]}"
wait_copied "$B" $((SIZE / 4))
cancel_backup "full, first"
ref_write "$H" vm vda a 0x41 2M 4M
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" -l full "${RATE[@]}"
wait_resumed
wait_copied "$B" $((SIZE * 5 / 8))
cancel_backup "full, second"
kept=$(grep -o "interrupted: kept [0-9]*" "$VC_TMP/bg.out" | grep -o "[0-9]*$")
ref_write "$H" vm vda a 0x42 150M 4M
# A resumed run that fails (its job aborted from outside) puts back what
# it resumed: the next one resumes it.  (Not under valgrind: libnbd 1.14
# reads a freed command when QEMU's export goes away under a read being
# issued, whoever runs the backup.)
if [[ "${VIRTCKPT_VALGRIND:-0}" != 1 ]]; then
	backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" -l full "${RATE[@]}"
	wait_resumed
	wait_copied "$B" $((kept + 8))
	vc_virsh "$H" domjobabort vm
	rc=0
	wait "$BG" || rc=$?
	((rc == 1)) || cat "$VC_TMP/bg.out" >&2
	vc_assert_eq 1 "$rc" "a resumed run whose job is aborted exits 1"
	grep -q "the interrupted backup [0-9]* in $B is kept as it was" "$VC_TMP/bg.out" ||
		vc_fail "the failed resumed run did not put back what it resumed: $(cat "$VC_TMP/bg.out")"
fi
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l full
grep -q "resumes the backup interrupted" <<<"$VC_ERR" || vc_fail "the last run did not resume: $VC_ERR"
vc_log "$(grep -o "resumed [0-9]* interrupted runs*: [0-9.]* MiB of its data were reused" <<<"$VC_ERR")"
restores_exactly "full interrupted twice"
# (the aborted run's reads are not counted: they are lost with it)
read_at_most "full interrupted twice" $((SIZE + 8))
grep -q 'resumed="2"' "$B/manifest.xml" || vc_fail "the manifest does not count 2 resumed runs"

# --- where resuming is impossible, the next backup starts over ---------------
# interrupt WHAT [full] : an inc of new writes (or a full), cancelled
# about halfway.
interrupt() {
	for i in 0 1 2 3; do
		ref_write "$H" vm vda a "0x5$i" "$((i * 60 + 4))M" 16M
	done
	if [[ "${2:-}" == full ]]; then
		backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" -l full "${RATE[@]}"
		wait_copied "$B" $((SIZE / 2))
	else
		backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --max-rate 8M
		wait_copied "$B" 24
	fi
	cancel_backup "$1"
}

# Another level asked for.
interrupt "inc, then a full"
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l full
grep -q "not resuming the interrupted backup [0-9]* of vm, starting over: level full was asked for, the interrupted backup is an inc" <<<"$VC_ERR" ||
	vc_fail "full after an interrupted inc: $VC_ERR"
restores_exactly "full after an interrupted inc"

# A tampered progress record: a copied range beyond the data.
interrupt "tampered record"
rec=$(echo "$B"/.partial-*/progress.xml)
perl -0pi -e 's/(<copied offset="\d+" length=")(\d+)"/$1 . ($2 + 1099511627776) . "\""/e' "$rec"
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "starting over: its progress record fails its checks" <<<"$VC_ERR" ||
	vc_fail "tampered record: $VC_ERR"
grep -q "resumes the backup" <<<"$VC_ERR" && vc_fail "tampered record: resumed"
grep -q "(inc) of vm done" <<<"$VC_ERR" || vc_fail "tampered record: not an inc: $VC_ERR"
restores_exactly "after a tampered record"

# QEMU killed: the interrupted checkpoint's bitmap is gone.
interrupt "QEMU killed" full
vc_on "$H" kill -9 "$(vc_on "$H" cat /run/libvirt/qemu/vm.pid)"
for ((i = 0; i < 100; i++)); do
	vc_virsh "$H" domstate vm >/dev/null 2>&1 || break
	sleep 0.1
done
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "not resuming the interrupted backup [0-9]* of vm, starting over: .*is gone from libvirt" <<<"$VC_ERR" ||
	vc_fail "QEMU killed: $VC_ERR"
grep -q "(full) of vm done" <<<"$VC_ERR" || vc_fail "QEMU killed: not a full: $VC_ERR"
restores_exactly "after QEMU was killed"
vc_log PASS
