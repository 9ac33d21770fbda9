#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A chain whose bitmaps are gone is redefined all or nothing: nothing is
# left half-defined in libvirt, the chain is marked broken in the store,
# and virtckpt exits 3 ("the next backup must be full").
#  a. one bitmap of the newest checkpoint removed from the second disk's
#     image: c1 and c2 redefine fine, c3 fails, c1 and c2 are undone;
#  b. QEMU killed with SIGKILL: bitmaps made in that run never reach the
#     image, and those loaded from it stay flagged in-use.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1

# --- a. a bitmap missing on one disk ---------------------------------------
DOM=vm-a
vc_make_image "$VC_TMP/a1.qcow2" 32M
vc_make_image "$VC_TMP/a2.qcow2" 32M
vc_domain_xml "$DOM" "$VC_TMP/a1.qcow2" "$VC_TMP/a2.qcow2" >"$VC_TMP/a.xml"
vc_virsh "$H" create "$VC_TMP/a.xml" >/dev/null
for c in c1 c2 c3; do
	vc_virsh "$H" checkpoint-create-as "$DOM" "$c" >/dev/null
	vc_guest_write "$H" "$DOM" vdb 0x5a 1M 64k
done
expect_exit 0 vck "$H" checkpoints capture "$DOM"
vc_virsh "$H" destroy "$DOM" >/dev/null
qemu-img bitmap --remove "$VC_TMP/a2.qcow2" c3
vc_virsh "$H" create "$VC_TMP/a.xml" >/dev/null

expect_exit 3 vck "$H" checkpoints redefine "$DOM"
grep -q "checkpoint c3: .*missing or broken bitmap 'c3' for disk 'vdb'" <<<"$VC_ERR" ||
	vc_fail "redefine did not name the missing bitmap: $VC_ERR"
grep -q "the chain is marked broken and the next backup must be full" <<<"$VC_ERR" ||
	vc_fail "redefine did not say the chain is broken: $VC_ERR"
vc_log "ok: $(grep 'cannot redefine' <<<"$VC_ERR")"
vc_assert_eq "" "$(checkpoint_names "$H" "$DOM")" "c1 and c2 were undone: no partial chain"
vck "$H" checkpoints show "$DOM" >"$VC_TMP/show.txt"
grep -q "^State: *broken: checkpoint c3" "$VC_TMP/show.txt" ||
	vc_fail "store does not record the broken chain: $(cat "$VC_TMP/show.txt")"
vc_assert_eq "vm-a 3 c3 broken" "$(vck "$H" checkpoints list | awk 'NR > 1 {print $1, $2, $3, $4}')" \
	"list shows the broken chain"

# Broken stays broken: redefine refuses at once, and changes nothing.
before=$(store_digest)
expect_error 3 "chain of vm-a is broken .*next backup must be full" \
	vck "$H" checkpoints redefine "$DOM"
vc_assert_eq "" "$(checkpoint_names "$H" "$DOM")" "still no partial chain"
vc_assert_eq "$before" "$(store_digest)" "second redefine left the store unchanged"

# Forgetting the chain is the operator's way out.
expect_exit 0 vck "$H" checkpoints forget "$DOM"
expect_exit 0 vck "$H" checkpoints redefine "$DOM"
grep -q "no checkpoints stored for vm-a: nothing to redefine" <<<"$VC_ERR" ||
	vc_fail "redefine after forget said: $VC_ERR"
vc_virsh "$H" destroy "$DOM" >/dev/null

# --- b. QEMU killed --------------------------------------------------------
DOM=vm-b
vc_make_image "$VC_TMP/b1.qcow2" 32M
vc_domain_xml "$DOM" "$VC_TMP/b1.qcow2" >"$VC_TMP/b.xml"
vc_virsh "$H" create "$VC_TMP/b.xml" >/dev/null
vc_virsh "$H" checkpoint-create-as "$DOM" k1 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x01 0 64k
expect_exit 0 vck "$H" checkpoints capture "$DOM"
vc_virsh "$H" destroy "$DOM" >/dev/null

vc_virsh "$H" create "$VC_TMP/b.xml" >/dev/null
expect_exit 0 vck "$H" checkpoints redefine "$DOM"
vc_virsh "$H" checkpoint-create-as "$DOM" k2 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x02 64k 64k
expect_exit 0 vck "$H" checkpoints capture "$DOM"
vc_assert_eq "k1 k2" "$(checkpoint_names "$H" "$DOM" | xargs)" "k1 redefined, k2 added"

qemu_pid=$(vc_on "$H" cat "/run/libvirt/qemu/$DOM.pid")
vc_on "$H" kill -9 "$qemu_pid"
for ((i = 0; i < 100; i++)); do
	vc_virsh "$H" domstate "$DOM" >/dev/null 2>&1 || break
	sleep 0.1
done
vc_virsh "$H" create "$VC_TMP/b.xml" >/dev/null
expect_exit 3 vck "$H" checkpoints redefine "$DOM"
grep -q "checkpoint k1: .*inconsistent" <<<"$VC_ERR" ||
	vc_fail "redefine after kill -9 said: $VC_ERR"
vc_log "ok: $(grep 'cannot redefine' <<<"$VC_ERR")"
vc_assert_eq "" "$(checkpoint_names "$H" "$DOM")" "no partial chain after the crash"
vck "$H" checkpoints show "$DOM" | grep -q "^State: *broken" ||
	vc_fail "crash did not mark the chain broken"
vc_log PASS
