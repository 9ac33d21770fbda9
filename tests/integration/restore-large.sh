#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A restore larger than the target's writeback window (64 MiB,
# helper/backup/restore-target.h): the data goes to disk and leaves the
# page cache window by window while the copy runs, and the result is still
# exactly the guest disk.  A 200 MiB disk of random data, then an
# incremental with 80 MiB written all over it (its clusters land between
# those of the full backup on the target, so that each window spans data
# of both links), restored to a raw file, a qcow2 file and a block device
# full of garbage, with and without checksums; a damaged full backup found
# at its very end, after several windows went to disk, leaves nothing (a
# device: its first MiB zeroed).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
vc_trap_loop

ref_domain "$H" vm a 200

expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l full
ref_snapshot a 1
for i in 0 1 2 3 4 5 6 7 8 9; do
	ref_write "$H" vm vda a "0x4$i" "$((i * 20 + 3))M" 8M
done
ref_zero "$H" vm vda a 190M 4M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
ref_snapshot a 2

# restore_ok ID FORMAT ARGS... : restores vda at ID and compares it.
restore_ok() {
	local id=$1 fmt=$2 out=$VC_TMP/r-$1-$2-$RANDOM
	shift 2
	expect_exit 0 vck "$H" restore "$B" -o "$out" --until "$id" --format "$fmt" "$@"
	if [[ "$fmt" == raw ]]; then
		cmp "$out/vda.raw" "$VC_TMP/a.ref@$id" || vc_fail "raw vda at $id differs $*"
		vc_log "ok: vda at $id, raw $*"
	else
		qemu-img check -q "$out/vda.qcow2" || vc_fail "qemu-img check of vda at $id"
		assert_same_disk "$out/vda.qcow2" "$VC_TMP/a.ref@$id" "vda at $id, qcow2 $*"
	fi
	rm -rf "$out"
}
restore_ok 1 qcow2
restore_ok 2 raw
restore_ok 2 qcow2
restore_ok 2 raw --no-verify

# A block device, filled with garbage first.
head -c 256M /dev/urandom >"$VC_TMP/dev.img"
LOOP=$(losetup -f --show "$VC_TMP/dev.img")
tail_before=$(tail -c 56M "$VC_TMP/dev.img" | sha256sum)
expect_exit 0 vck "$H" restore "$B" -o "$LOOP" --format raw
cmp -n 200M "$LOOP" "$VC_TMP/a.ref@2" || vc_fail "device restore of vda at 2 differs"
vc_assert_eq "$tail_before" "$(tail -c 56M "$VC_TMP/dev.img" | sha256sum)" \
	"the device past the disk is left alone"
vc_log "ok: block device restore of vda at 2"

# A changed byte at the end of the full backup: known only once every
# window before it went to disk.
full=$(echo "$B"/0001-*/vda.qcow2)
off=$(($(stat -c %s "$full") - 4096))
flip_byte "$full" "$off"
expect_exit 1 vck "$H" restore "$B" -o "$VC_TMP/bad" --format qcow2
grep -q "vda.qcow2: FAILED: checksum mismatch" <<<"$VC_ERR" || vc_fail "no mismatch named: $VC_ERR"
[[ ! -e "$VC_TMP/bad" ]] || vc_fail "a failed restore left $VC_TMP/bad"
[[ -z "$(find "$VC_TMP" -maxdepth 1 -name '.virtckpt-restore-*')" ]] ||
	vc_fail "a failed restore left its temporary directory"
vc_log "ok: a damaged link fails the restore, nothing left"
expect_exit 1 vck "$H" restore "$B" -o "$LOOP" --format raw
grep -q "holds an incomplete restore, its first MiB zeroed" <<<"$VC_ERR" ||
	vc_fail "device restore of a damaged chain: $VC_ERR"
cmp -n 1M "$LOOP" /dev/zero || vc_fail "the failed device restore left a head"
vc_log "ok: a damaged link leaves the device without a head"
flip_byte "$full" "$off"
restore_ok 2 qcow2
