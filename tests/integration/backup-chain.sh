#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Backups are byte-exact at every link: a two-disk domain gets a full
# backup, incrementals with writes, zero writes and discards in between, a
# differential and a copy; every point restores to exactly what the guest
# disks held then (compared with reference files that mirror each guest
# write).  verify catches one changed byte in any file.  A one-disk domain
# does the same with --disk/--exclude.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 64 b 48

# backup LEVEL TAG [ARGS] : backs up, checks the level chosen, keeps the
# references as they are now under TAG (the backup's id).
backup() {
	local level=$1 tag=$2
	shift 2
	expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" "$@"
	grep -q "backup $tag ($level) of vm done" <<<"$VC_ERR" ||
		vc_fail "backup $tag was not a $level backup: $VC_ERR"
	ref_snapshot a "$tag"
	ref_snapshot b "$tag"
}

backup full 1
ref_write "$H" vm vda a 0x11 1M 1M
ref_write "$H" vm vdb b 0x22 40M 64k
backup inc 2 -l inc
ref_zero "$H" vm vda a 4M 1M
ref_discard "$H" vm vdb b 8M 2M
ref_write "$H" vm vda a 0x33 63M 1M
backup inc 3
backup inc 4                       # nothing written since: an empty link
ref_write "$H" vm vda a 0x44 1M 64k
ref_discard "$H" vm vda a 30M 4M
backup diff 5 -l diff
ref_write "$H" vm vdb b 0x55 0 128k
backup inc 6
ref_write "$H" vm vda a 0x66 2M 64k
backup copy 7 -l copy
ref_write "$H" vm vda a 0x77 3M 64k
backup inc 8

vck "$H" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full-0 inc-1 inc-2 inc-3 diff-1 inc-5 copy-0 inc-6" \
	"$(awk 'NR > 2 {print $2 "-" ($5 == "-" ? 0 : $5)}' "$VC_TMP/list.txt" | xargs)" \
	"levels and parents of the eight backups"

# Incrementals copy what changed, not the disk.
vc_assert_eq 1048576 "$(backup_read "$B" 2 vda)" "backup 2 read only the 1 MiB written to vda"
vc_assert_eq 1048576 "$(backup_read "$B" 3 vda)" "backup 3 read only the 1 MiB written to vda (zeroes are not read)"
vc_assert_eq 0 "$(backup_read "$B" 4 vda)" "backup 4 read nothing"
vc_assert_eq 2097152 "$(backup_read "$B" 5 vda)" "diff 5 read the data written since the full (1 MiB at 1 MiB, 1 MiB at 63 MiB)"

# Every point restores byte for byte, as qcow2 and as raw.
for id in 1 2 3 4 5 6 7 8; do
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of backup $id, vda"
	assert_same_disk "$VC_TMP/r$id/vdb.qcow2" "$VC_TMP/b.ref@$id" "restore of backup $id, vdb"
	rm -rf "$VC_TMP/r$id"
done
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/raw" --format raw --disk vdb
[[ ! -e "$VC_TMP/raw/vda.raw" ]] || vc_fail "--disk vdb restored vda too"
cmp "$VC_TMP/raw/vdb.raw" "$VC_TMP/b.ref@8" || vc_fail "raw restore of vdb differs"
vc_log "ok: raw restore of vdb"
cp=$(sed -n 's/.*<backup id="3".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/bycp" --until "$cp"
assert_same_disk "$VC_TMP/bycp/vda.qcow2" "$VC_TMP/a.ref@3" "restore by checkpoint name"
expect_error 1 "exists: not overwriting it" vck "$H" restore "$B" -o "$VC_TMP/bycp" --until 3
expect_error 1 "no backup 'nope' in" vck "$H" restore "$B" -o "$VC_TMP/x" --until nope

# The images are plain qcow2 chains for stock tools.
chain=$(qemu-img info --backing-chain "$B"/0008-*/vda.qcow2 | sed -n 's/^image: .*\/\([0-9]*-[a-z]*\)-.*/\1/p' | xargs)
vc_assert_eq "0008-inc 0006-inc 0005-diff 0001-full" "$chain" "qemu-img follows 8 -> 6 -> 5 -> 1"
qemu-img check -q "$B"/0008-*/vda.qcow2 || vc_fail "qemu-img check of backup 8"

# Only the newest checkpoint of the chain matters to libvirt; all are there.
vc_assert_eq 7 "$(checkpoint_names "$H" vm | grep -c '^virtckpt\.')" "one checkpoint per chained backup (all but the copy)"

# verify: clean, then one changed byte anywhere is caught.
expect_exit 0 vck "$H" verify "$B"
for f in "$B"/0001-*/vda.qcow2 "$B"/0003-*/vdb.qcow2 "$B"/0008-*/vda.qcow2 "$B"/0005-*/checkpoint.xml; do
	size=$(stat -c %s "$f")
	for off in 100 $((size / 2)) $((size - 1)); do
		flip_byte "$f" "$off"
		expect_exit 1 vck "$H" verify "$B"
		grep -q "$(basename "$(dirname "$f")")/$(basename "$f"): FAILED" <<<"$VC_ERR" ||
			vc_fail "verify did not name $f: $VC_ERR"
		flip_byte "$f" "$off"
	done
	vc_log "ok: verify caught a changed byte at 3 places in ${f#"$B"/}"
done
expect_exit 0 vck "$H" verify "$B"
# A damaged link also stops a restore that needs it.
flip_byte "$(echo "$B"/0005-*/vda.qcow2)" 70000
expect_exit 1 vck "$H" restore "$B" -o "$VC_TMP/bad" --until 6
grep -q "damaged: not restoring" <<<"$VC_ERR" || vc_fail "restore of a damaged chain: $VC_ERR"
vc_log "ok: restore refuses a damaged chain"
flip_byte "$(echo "$B"/0005-*/vda.qcow2)" 70000

# Copies into another directory leave this chain alone.
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/copies" "${RUN[@]}" -l copy
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/copies" "${RUN[@]}" -l copy
ref_write "$H" vm vda a 0x99 5M 64k
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/after-copies"
assert_same_disk "$VC_TMP/after-copies/vda.qcow2" "$VC_TMP/a.ref" "the chain goes on after copies elsewhere"

# --- a one-disk selection of the same domain, in its own directory -------
B2=$VC_TMP/only-vdb
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}" --exclude vda -l full
ref_snapshot b x1
ref_write "$H" vm vdb b 0x88 16M 64k
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}" --disk vdb
grep -q "(inc)" <<<"$VC_ERR" || vc_fail "second --disk vdb backup was not incremental: $VC_ERR"
expect_exit 0 vck "$H" restore "$B2" -o "$VC_TMP/r-vdb"
[[ ! -e "$VC_TMP/r-vdb/vda.qcow2" ]] || vc_fail "vda was backed up despite --exclude"
assert_same_disk "$VC_TMP/r-vdb/vdb.qcow2" "$VC_TMP/b.ref" "one-disk chain restores vdb"

# A changed disk set cannot continue the chain: auto makes a full backup.
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}"
grep -q "full backup: the set of disks changed" <<<"$VC_ERR" || vc_fail "disk set change: $VC_ERR"
vc_log PASS
