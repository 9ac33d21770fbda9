#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Checkpoints follow the VM wherever Pacemaker puts it: a stop/start move.
#
# A 3-node cluster (corosync, Pacemaker, libvirtd, virtckptd per node) runs
# vm1 (ocf:heartbeat:VirtualDomain, transient domain, allow-migrate=false)
# on n1, with vm1-ckpt (ocf:virtckpt:checkpoints) after it.  A full backup
# on n1, guest writes on n1, then crm_resource --move to n2: Pacemaker stops
# the checkpoints (capture) and the VM (destroy) on n1 and starts both on
# n2, where the agent redefines the chain from virtckptd's replica.  On n2
# libvirt lists the chain; after more writes, the next automatic backup on
# n2 is incremental and reads exactly what the guest wrote on both nodes;
# restores of both backups equal the guest disk byte for byte.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm1 64 n1 --no-migrate
src=$VC_VM_NODE
dst=n2
B=$VC_BACKUPS

# --- full backup and writes where the VM runs ----------------------------
vc_vm_backup "$src" vm1 1 full
vc_log "ok: full backup on $src"
cp1=$(checkpoint_names "$src" vm1)
[[ -n "$cp1" && $(wc -l <<<"$cp1") == 1 ]] || vc_fail "one checkpoint expected on $src: $cp1"
ref_write "$src" vm1 vda vm1 0x5a 1M 2M
ref_write "$src" vm1 vda vm1 0xa5 40M 64k
ref_zero "$src" vm1 vda vm1 10M 1M
uuid_before=$(vc_virsh "$src" domuuid vm1)

# --- stop/start move -------------------------------------------------------
vc_vm_move vm1 "$dst"
t_move=$VC_MOVE_SECS
ops_src=$(vc_vm_ops vm1 "$src" | xargs)
ops_dst=$(vc_vm_ops vm1 "$dst" | xargs)
vc_log "operations of vm1: $src: $ops_src; $dst: $ops_dst"
[[ " $ops_src " == *" stop "* && " $ops_src " != *" migrate_to "* ]] ||
	vc_fail "vm1 was not stopped on $src (operations: $ops_src)"
[[ " $ops_dst " == *" start "* && " $ops_dst " != *" migrate_from "* ]] ||
	vc_fail "vm1 was not started on $dst (operations: $ops_dst)"
[[ -z "$(vc_virsh "$src" list --all --name | grep -x vm1 || true)" ]] ||
	vc_fail "vm1 still exists on $src"
uuid_after=$(vc_virsh "$dst" domuuid vm1)
[[ "$uuid_before" != "$uuid_after" ]] ||
	vc_fail "vm1 kept its UUID: not a new transient domain"
vc_log "ok: stop/start move $src -> $dst, new domain (uuid $uuid_after)"
# What vm1-ckpt logged: the capture at stop on the source, the redefine on
# the target.
grep -h 'checkpoints(vm1-ckpt).*captured the checkpoints' \
	"$VC_TMP/hosts/$src/root/var/log/pacemaker/pacemaker.log" | tail -n 1 | sed "s/^/    $src: /" >&2 || true

# --- the chain is in libvirt on the new node ------------------------------
vc_assert_eq "$cp1" "$(checkpoint_names "$dst" vm1)" "libvirt on $dst lists the chain (redefined by the agent)"
grep -q "checkpoints(vm1-ckpt).*redefined 1 checkpoint of vm1" \
	"$VC_TMP/hosts/$dst/root/var/log/pacemaker/pacemaker.log" ||
	vc_fail "no redefine by vm1-ckpt in $dst's pacemaker.log"
grep -h 'checkpoints(vm1-ckpt).*redefined' \
	"$VC_TMP/hosts/$dst/root/var/log/pacemaker/pacemaker.log" | tail -n 1 | sed "s/^/    $dst: /" >&2 || true

# --- writes and an incremental on the new node ----------------------------
ref_write "$dst" vm1 vda vm1 0xc3 20M 1M
ref_write "$dst" vm1 vda vm1 0x3c 63M 512k
vc_vm_backup "$dst" vm1 2 inc
# 2M + 64k written on n1, 1M + 512k on n2 (zeroes are not read)
vc_assert_eq $((2097152 + 65536 + 1048576 + 524288)) "$(backup_read "$B" 2)" \
	"the incremental on $dst read exactly what the guest wrote on $src and $dst"
vnck "$dst" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full inc" "$(awk 'NR > 2 { print $2 }' "$VC_TMP/list.txt" | xargs)" "levels in the backup directory"

# --- restores --------------------------------------------------------------
expect_exit 0 vnck "$dst" verify "$B"
expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r2"
assert_same_disk "$VC_TMP/r2/vda.qcow2" "$VC_TMP/vm1.ref@2" "restore of the incremental (backup 2)"
expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r1" --until 1
assert_same_disk "$VC_TMP/r1/vda.qcow2" "$VC_TMP/vm1.ref@1" "restore of the full backup (backup 1)"

# The chain of two is in libvirt, in every node's store, and nothing failed.
vc_assert_eq 2 "$(checkpoint_names "$dst" vm1 | wc -l)" "two checkpoints in libvirt on $dst"
for n in "${VC_NODES[@]}"; do
	vc_assert_eq 2 "$(vnck "$n" checkpoints show vm1 | sed -n 's/^Checkpoints: *//p')" \
		"two checkpoints stored on $n"
done
vc_wait_idle
vc_pcmk_timing "move ${t_move}s"
