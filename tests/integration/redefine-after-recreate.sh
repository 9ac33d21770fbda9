#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The seed scenario: a transient two-disk domain gets checkpoints with guest
# writes in between; virtckpt captures them; the domain is destroyed and
# created again (same UUID, then a new one), which loses libvirt's
# checkpoints but not the bitmaps; virtckpt redefines the chain, and a
# pull-mode incremental backup then sees exactly the ranges written since
# each checkpoint.  Without the redefine the incremental is impossible and
# a new checkpoint of an old name hits "Bitmap already exists".

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1

# An odd but valid name: spaces, UTF-8, dots.
DOM="web 01 ü.é"
vc_make_image "$VC_TMP/a.qcow2" 64M
vc_make_image "$VC_TMP/b.qcow2" 64M
uuid=$(cat /proc/sys/kernel/random/uuid)
vc_domain_xml "$DOM" --uuid "$uuid" "$VC_TMP/a.qcow2" "$VC_TMP/b.qcow2" >"$VC_TMP/with-uuid.xml"
vc_domain_xml "$DOM" "$VC_TMP/a.qcow2" "$VC_TMP/b.qcow2" >"$VC_TMP/no-uuid.xml"

vc_virsh "$H" create "$VC_TMP/with-uuid.xml" >/dev/null
vc_virsh "$H" checkpoint-create-as "$DOM" c1 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x11 1M 1M
vc_virsh "$H" checkpoint-create-as "$DOM" c2 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x22 4M 512k
vc_guest_write "$H" "$DOM" vdb 0x33 0 64k
vc_virsh "$H" checkpoint-create-as "$DOM" c3 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x44 8M 1M
vc_guest_write "$H" "$DOM" vdb 0x55 2M 128k

expect_exit 0 vck "$H" checkpoints capture "$DOM"
vc_assert_eq "c1 c2 c3" "$(vck "$H" checkpoints show --xml "$DOM" |
	sed -n 's/.*<checkpoint name="\([^"]*\)".*/\1/p' | xargs)" "capture stored c1 c2 c3"

# Everything a backup since each checkpoint must see.
since_c3_vda="8388608 1048576"
since_c3_vdb="2097152 131072"
since_c2_vda="4194304 524288
8388608 1048576"
since_c1_vda="1048576 1048576
4194304 524288
8388608 1048576"

check_chain() {
	local what=$1
	vc_assert_eq "c1 c2 c3" "$(checkpoint_names "$H" "$DOM" | xargs)" "$what: libvirt has c1 c2 c3"
	vc_assert_eq "$since_c3_vda" "$(vc_dirty_extents "$H" "$DOM" vda c3)" "$what: vda dirty since c3"
	vc_assert_eq "$since_c3_vdb" "$(vc_dirty_extents "$H" "$DOM" vdb c3)" "$what: vdb dirty since c3"
	vc_assert_eq "$since_c2_vda" "$(vc_dirty_extents "$H" "$DOM" vda c2)" "$what: vda dirty since c2"
	vc_assert_eq "$since_c1_vda" "$(vc_dirty_extents "$H" "$DOM" vda c1)" "$what: vda dirty since c1"
}
check_chain "before re-creation"

# --- destroy and re-create with the same UUID -----------------------------
vc_virsh "$H" destroy "$DOM" >/dev/null
vc_virsh "$H" create "$VC_TMP/with-uuid.xml" >/dev/null
vc_assert_eq "" "$(checkpoint_names "$H" "$DOM")" "re-created domain has no checkpoints"

# The problem, without virtckpt: no incremental, and old names collide.
if out=$(vc_dirty_extents "$H" "$DOM" vda c3 2>&1); then
	vc_fail "an incremental since c3 worked without redefine: $out"
fi
if out=$(vc_virsh "$H" checkpoint-create-as "$DOM" c1 2>&1); then
	vc_fail "checkpoint c1 could be created again: $out"
fi
grep -q "Bitmap already exists: c1" <<<"$out" || vc_fail "unexpected error: $out"
vc_log "ok: without virtckpt: $out"

# Capturing now would throw the stored chain away: refused, store untouched.
before=$(store_digest)
expect_error 5 "holds none of the 3 stored checkpoints" vck "$H" checkpoints capture "$DOM"
vc_assert_eq "$before" "$(store_digest)" "refused capture left the store unchanged"

expect_exit 0 vck "$H" -v checkpoints redefine "$DOM"
grep -q "redefined 3 checkpoints" <<<"$VC_ERR" || vc_fail "redefine said: $VC_ERR"
check_chain "after redefine (same UUID)"

# Idempotent.
expect_exit 0 vck "$H" checkpoints redefine "$DOM"
grep -q "redefined 0 checkpoints .*3 already present" <<<"$VC_ERR" ||
	vc_fail "second redefine said: $VC_ERR"
vc_assert_eq "c1 c2 c3" "$(checkpoint_names "$H" "$DOM" | xargs)" "second redefine changed nothing"

# A checkpoint made by another tool is left alone.
vc_virsh "$H" checkpoint-create-as "$DOM" other-tool >/dev/null
expect_exit 0 vck "$H" checkpoints redefine "$DOM"
grep -q "checkpoint other-tool of .* is not in the store: left alone" <<<"$VC_ERR" ||
	vc_fail "redefine did not report the foreign checkpoint: $VC_ERR"
vc_assert_eq "c1 c2 c3 other-tool" "$(checkpoint_names "$H" "$DOM" | xargs)" \
	"foreign checkpoint kept"
vc_virsh "$H" checkpoint-delete "$DOM" other-tool >/dev/null

# --- one more link, then re-create WITHOUT a UUID (a new one) -------------
vc_virsh "$H" checkpoint-create-as "$DOM" c4 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x66 12M 64k
vc_guest_write "$H" "$DOM" vdb 0x77 6M 64k
expect_exit 0 vck "$H" checkpoints capture "$DOM"
vc_virsh "$H" destroy "$DOM" >/dev/null
vc_virsh "$H" create "$VC_TMP/no-uuid.xml" >/dev/null
new_uuid=$(vc_virsh "$H" domuuid "$DOM" | sed '/^$/d')
[[ "$new_uuid" != "$uuid" ]] || vc_fail "domain kept its UUID"

expect_exit 0 vck "$H" checkpoints redefine "$DOM"
vc_assert_eq "c1 c2 c3 c4" "$(checkpoint_names "$H" "$DOM" | xargs)" "after redefine (new UUID)"
vc_assert_eq "12582912 65536" "$(vc_dirty_extents "$H" "$DOM" vda c4)" "vda dirty since c4"
vc_assert_eq "6291456 65536" "$(vc_dirty_extents "$H" "$DOM" vdb c4)" "vdb dirty since c4"
vc_assert_eq "$since_c2_vda
12582912 65536" "$(vc_dirty_extents "$H" "$DOM" vda c2)" "vda dirty since c2"

# The next backup's checkpoint is created without a collision, and the
# capture after it records the new UUID.
vc_virsh "$H" checkpoint-create-as "$DOM" c5 >/dev/null
expect_exit 0 vck "$H" checkpoints capture "$DOM"
vck "$H" checkpoints show "$DOM" >"$VC_TMP/show.txt"
grep -q "^UUID: *$new_uuid" "$VC_TMP/show.txt" || vc_fail "store has not the new UUID: $(cat "$VC_TMP/show.txt")"
vc_assert_eq "c1 c2 c3 c4 c5" "$(awk '/^  /{print $1}' "$VC_TMP/show.txt" | xargs)" "store holds c1..c5"
vc_log PASS
