#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every restore path gives back exactly what the guest disk held at that
# point: a raw file, a qcow2 file, a block device (a loop device filled
# with garbage first, so that zeroes must be written), one disk of two, a
# point in the middle of the chain (which reads nothing above it), with
# and without checksums.  A link damaged in its data fails the streaming
# restore and leaves nothing (a device: its first MiB zeroed); an L2 entry
# pointing outside its file is refused before anything is written, even
# with --no-verify.  An instant restore is an overlay a domain boots
# from: its disk, read through QEMU and copied out by virsh blockcopy,
# is the source at that point; on a 100 GiB disk it reads no data.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
vc_trap_loop

ref_domain "$H" vm a 64 b 48

backup() {
	expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" "$@"
	ref_snapshot a "$(backup_count)"
	ref_snapshot b "$(backup_count)"
}
backup_count() { grep -c '<backup ' "$B/manifest.xml"; }

backup -l full
ref_write "$H" vm vda a 0x11 1M 1M
ref_write "$H" vm vda a 0x12 20M 3M
ref_zero "$H" vm vda a 40M 2M
backup -l inc
ref_discard "$H" vm vda a 1M 64k
ref_write "$H" vm vda a 0x13 21M 64k
ref_write "$H" vm vdb b 0x21 0 1M
backup -l inc
ref_write "$H" vm vda a 0x14 63M 1M
backup -l inc
vc_assert_eq 4 "$(backup_count)" "four links"

# restore_ok ID FORMAT ARGS... : restores vda at ID into a new directory
# and compares it with the source then.
restore_ok() {
	local id=$1 fmt=$2 out=$VC_TMP/r-$1-$2-$RANDOM
	shift 2
	expect_exit 0 vck "$H" restore "$B" -o "$out" --until "$id" --format "$fmt" --disk vda "$@"
	[[ ! -e "$out/vdb.$fmt" ]] || vc_fail "--disk vda restored vdb too"
	[[ "$(stat -c %a "$out/vda.$fmt")" == 600 ]] || vc_fail "$out/vda.$fmt is not mode 0600"
	assert_same_disk "$out/vda.$fmt" "$VC_TMP/a.ref@$id" "vda at $id, $fmt $*"
	if [[ "$fmt" == raw ]]; then
		cmp "$out/vda.raw" "$VC_TMP/a.ref@$id" || vc_fail "raw vda at $id differs"
	else
		qemu-img check -q "$out/vda.qcow2" || vc_fail "qemu-img check of vda at $id"
	fi
	rm -rf "$out"
}
for id in 1 2 3 4; do
	restore_ok "$id" raw
	restore_ok "$id" qcow2
done
restore_ok 2 raw --no-verify
restore_ok 3 qcow2 --no-verify

# A point in the middle reads nothing above it: the links above are gone
# for a while, and the restore does not notice.
mkdir "$VC_TMP/aside"
mv "$B"/0003-* "$B"/0004-* "$VC_TMP/aside/"
restore_ok 2 raw
mv "$VC_TMP"/aside/* "$B/"
vc_log "ok: --until 2 read nothing of links 3 and 4"

# A block device, filled with garbage first.
truncate -s 80M "$VC_TMP/dev.img"
head -c 80M /dev/urandom >"$VC_TMP/dev.img"
LOOP=$(losetup -f --show "$VC_TMP/dev.img")
expect_error 2 "is a block device: restore one disk onto it with --format raw" \
	vck "$H" restore "$B" -o "$LOOP" --until 3
expect_error 2 "is a block device: restore one disk onto it with --format raw" \
	vck "$H" restore "$B" -o "$LOOP" --until 3 --disk vda
tail_before=$(tail -c 16M "$VC_TMP/dev.img" | sha256sum)
expect_error 1 "/dev/nonexistent-disk is not a block device: nothing written" \
	vck "$H" restore "$B" -o /dev/nonexistent-disk --disk vda --format raw
expect_exit 0 vck "$H" restore "$B" -o "$LOOP" --until 3 --disk vda --format raw
cmp -n 64M "$LOOP" "$VC_TMP/a.ref@3" || vc_fail "device restore of vda at 3 differs"
vc_assert_eq "$tail_before" "$(tail -c 16M "$VC_TMP/dev.img" | sha256sum)" \
	"the device past the disk is left alone"
vc_log "ok: block device restore of vda at 3"
expect_exit 0 vck "$H" restore "$B" -o "$LOOP" --disk vdb --format raw
cmp -n 48M "$LOOP" "$VC_TMP/b.ref@4" || vc_fail "device restore of vdb at 4 differs"
vc_log "ok: block device restore of vdb at 4"

# A changed byte in the data of the full backup: found as it streams.
full=$(echo "$B"/0001-*/vda.qcow2)
off=$(($(stat -c %s "$full") - 100000))
flip_byte "$full" "$off"
expect_exit 1 vck "$H" restore "$B" -o "$VC_TMP/bad" --until 2 --format raw
grep -q "vda.qcow2: FAILED: checksum mismatch" <<<"$VC_ERR" || vc_fail "no mismatch named: $VC_ERR"
grep -q "damaged: not restoring" <<<"$VC_ERR" || vc_fail "restore of a damaged chain: $VC_ERR"
[[ ! -e "$VC_TMP/bad" ]] || vc_fail "a failed restore left $VC_TMP/bad"
[[ -z "$(find "$VC_TMP" -maxdepth 1 -name '.virtckpt-restore-*')" ]] ||
	vc_fail "a failed restore left its temporary directory"
vc_log "ok: a damaged link fails the restore, nothing left"
expect_exit 1 vck "$H" restore "$B" -o "$LOOP" --until 2 --disk vda --format raw
grep -q "holds an incomplete restore, its first MiB zeroed" <<<"$VC_ERR" ||
	vc_fail "device restore of a damaged chain: $VC_ERR"
cmp -n 1M "$LOOP" /dev/zero || vc_fail "the failed device restore left a head"
vc_log "ok: a damaged link leaves the device without a head"
flip_byte "$full" "$off"

# An L2 entry of link 2 pointing past its end: refused even unverified.
top=$(echo "$B"/0002-*/vda.qcow2)
l2=$(od -An -tx8 --endian=big -j 65536 -N 8 "$top" | tr -d ' ')
l2=$((0x$l2 & 0x00fffffffffffe00))
cp "$top" "$VC_TMP/l2-saved"
printf '\x80\x00\x7f\xff\xff\xff\x00\x00' | dd of="$top" bs=1 seek="$((l2 + 16 * 8))" conv=notrunc status=none
expect_exit 1 vck "$H" restore "$B" -o "$VC_TMP/bad" --until 2 --no-verify
grep -q "0002-.*vda.qcow2: FAILED: refused as an image: an L2 entry points outside the file" <<<"$VC_ERR" ||
	vc_fail "hostile L2 entry: $VC_ERR"
[[ ! -e "$VC_TMP/bad" ]] || vc_fail "a refused restore left $VC_TMP/bad"
vc_log "ok: an L2 entry outside the file is refused"
cp "$VC_TMP/l2-saved" "$top"

# --- instant restore ------------------------------------------------------
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/inst" --until 3 --instant -v
grep -q "vda: checked 3 links, [0-9]* bytes of metadata read, no data" <<<"$VC_ERR" ||
	vc_fail "instant restore said: $VC_ERR"
[[ "$(stat -c %a "$VC_TMP/inst/vda.qcow2")" == 600 ]] || vc_fail "overlay not mode 0600"
head -c 2000 "$VC_TMP/inst/vda.qcow2" | grep -q "json:{\"driver\":\"qcow2\"" ||
	vc_fail "the overlay's backing is not a json: chain"
assert_same_disk "$VC_TMP/inst/vda.qcow2" "$VC_TMP/a.ref@3" "instant vda at 3, read by qemu-img"
assert_same_disk "$VC_TMP/inst/vdb.qcow2" "$VC_TMP/b.ref@3" "instant vdb at 3, read by qemu-img"
sums_before=$(sha256sum "$B"/*/*.qcow2)

# Boot a domain from it (the <disk> elements virtckpt wrote), read
# through QEMU, then move the disks off the chain with blockcopy --pivot.
# QEMU runs as its own user: it must be able to reach the backups.
chmod 711 "$B" "$B"/*/
{
	printf "<domain type='qemu'>\n  <name>inst</name>\n  <memory unit='MiB'>128</memory>\n"
	printf "  <vcpu>1</vcpu>\n  <os><type arch='x86_64'>hvm</type></os>\n  <devices>\n"
	sed -E "s|<target dev=.vda./>|<target dev='vda' bus='virtio'/>|" "$VC_TMP/inst/vda.xml"
	sed -E "s|<target dev=.vdb./>|<target dev='vdb' bus='virtio'/>|" "$VC_TMP/inst/vdb.xml"
	printf "    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n"
	printf "  </devices>\n</domain>\n"
} >"$VC_TMP/inst.xml"
vc_virsh "$H" create "$VC_TMP/inst.xml" >/dev/null
_vc_qemu_io "$H" inst vda "read -P 0 1M 64k"
_vc_qemu_io "$H" inst vda "read -P 0x11 1114112 983040"
_vc_qemu_io "$H" inst vda "read -P 0x13 21M 64k"
vc_log "ok: the instant domain reads links 2 and 3 through QEMU"
ref_write "$H" inst vda a 0x15 5M 64k    # a write goes to the overlay
vc_virsh "$H" blockcopy inst vda "$VC_TMP/prod-vda.qcow2" --format qcow2 --wait --pivot >/dev/null
vc_virsh "$H" blockcopy inst vdb "$VC_TMP/prod-vdb.raw" --format raw --wait --pivot >/dev/null
vc_virsh "$H" destroy inst >/dev/null
cp --sparse=always "$VC_TMP/a.ref@3" "$VC_TMP/a.ref@3w"
qemu-io -f raw -c "write -P 0x15 5M 64k" "$VC_TMP/a.ref@3w" >/dev/null
assert_same_disk "$VC_TMP/prod-vda.qcow2" "$VC_TMP/a.ref@3w" "instant vda, written to and block-copied"
assert_same_disk "$VC_TMP/prod-vdb.raw" "$VC_TMP/b.ref@3" "instant vdb, block-copied"
vc_assert_eq "$sums_before" "$(sha256sum "$B"/*/*.qcow2)" "the chain is unchanged by the instant domain"
expect_exit 0 vck "$H" verify "$B"

# A chain too long to name in a qcow2 header (1023 bytes) is refused.
deep=$VC_TMP/$(printf 'd%.0s' {1..200})/$(printf 'e%.0s' {1..200})
mkdir -p "$(dirname "$deep")"
cp -a "$B" "$deep"
expect_error 1 "the chain of vda \(4 links\) takes [0-9]+ bytes to name, more than a qcow2 image can hold \(1023\)" \
	vck "$H" restore "$deep" -o "$VC_TMP/inst-long" --instant --disk vda
[[ ! -e "$VC_TMP/inst-long" ]] || vc_fail "a refused instant restore left its OUTDIR"
rm -rf "$deep"

# --- 100 GiB: the instant restore reads no data, whatever the size ------
qemu-img create -q -f qcow2 "$VC_TMP/big.qcow2" 100G
vc_domain_xml big "$VC_TMP/big.qcow2" >"$VC_TMP/big.xml"
vc_virsh "$H" create "$VC_TMP/big.xml" >/dev/null
vc_guest_write "$H" big vda 0x31 50G 1M
expect_exit 0 vck "$H" backup big -o "$VC_TMP/bigb" "${RUN[@]}" -l full
vc_guest_write "$H" big vda 0x32 99G 1M
expect_exit 0 vck "$H" backup big -o "$VC_TMP/bigb" "${RUN[@]}" -l inc
start=$(date +%s%N)
expect_exit 0 vck "$H" restore "$VC_TMP/bigb" -o "$VC_TMP/biginst" --instant -v
ms=$((($(date +%s%N) - start) / 1000000))
meta=$(sed -n 's/.*vda: checked 2 links, \([0-9]*\) bytes of metadata read.*/\1/p' <<<"$VC_ERR")
[[ -n "$meta" && "$meta" -le 1048576 ]] || vc_fail "instant restore of 100 GiB read $meta bytes: $VC_ERR"
vc_log "ok: instant restore of a 100 GiB disk read $meta bytes of metadata, no data, in ${ms} ms"
out=$(qemu-io -f qcow2 -c "read -P 0x31 50G 1M" -c "read -P 0x32 99G 1M" -c "read -P 0 0 1M" \
	"$VC_TMP/biginst/vda.qcow2" 2>&1)
vc_assert_eq 3 "$(grep -c "^read 1048576/1048576" <<<"$out")" "the 100 GiB overlay reads both links and zeroes"
vc_log PASS
