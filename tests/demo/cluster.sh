#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The cluster story, told step by step: Pacemaker moves a VM from one node
# to another (stop there, start here: a new transient domain), the
# checkpoints resource redefines the chain from virtckptd's replica, and
# the next backup on the new node is incremental; its restore equals the
# guest disk byte for byte.  Runs a 3-node lab cluster (corosync,
# Pacemaker, libvirtd, virtckptd per node) in namespaces; leaves nothing
# behind.

set -eu -o pipefail
export VC_TEST_NAME=demo-cluster
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

# where : which node runs vm1 and vm1-ckpt, as crm_mon says.
where() {
	printf '    vm1 runs on %s, vm1-ckpt on %s\n' "$(vc_vm_node vm1)" "$(vc_rsc_node vm1-ckpt)"
}

# ops NODE... : what Pacemaker ran for vm1 and vm1-ckpt on each node.
ops() {
	local n
	for n in "$@"; do
		printf '    %s: vm1: %s; vm1-ckpt: %s\n' "$n" \
			"$(vc_vm_ops vm1 "$n" | xargs)" "$(vc_vm_ops vm1-ckpt "$n" | xargs)"
	done
}

# checkpoints : libvirt's checkpoints of vm1 on every node.
checkpoints() {
	local n
	for n in "${VC_NODES[@]}"; do
		vc_show "virsh -c qemu:///system checkpoint-list vm1 --name   # on $n"
		if vc_virsh "$n" list --name | grep -qx vm1; then
			checkpoint_names "$n" vm1 | vc_indent
		else
			echo "    (no domain vm1 on $n)"
		fi
	done
}

# agent_log NODE PATTERN : the last matching message of vm1-ckpt on NODE.
agent_log() {
	grep -h "checkpoints(vm1-ckpt).*$2" \
		"$VC_TMP/hosts/$1/root/var/log/pacemaker/pacemaker.log" | tail -n 1 |
		sed "s/^.*checkpoints(vm1-ckpt)\[[0-9]*\]: */    $1: /" || true
}

# guest_writes NODE "PATTERN OFFSET LENGTH"... : the guest of vm1 on NODE
# writes, and the reader is told what.
guest_writes() {
	local node=$1 w pat off len
	shift
	for w in "$@"; do
		read -r pat off len <<<"$w"
		echo "    guest on $node writes $len of $pat at $off"
		ref_write "$node" vm1 vda vm1 "$pat" "$off" "$len"
	done
}

vc_init

vc_step "Starting a 3-node lab cluster: corosync, libvirtd, virtckptd, Pacemaker on n1 n2 n3"
# Not in a pipeline: the harness must remember the cluster to stop it.
vc_pcmk_cluster 3 2>"$VC_TMP/start.log"
vc_indent <"$VC_TMP/start.log"
vc_crm n1 crm_mon -1 | sed -n '/^Node List:/,/^$/p' | vc_indent

vc_step "vm1 under Pacemaker: VirtualDomain (stop/start moves) and the checkpoints agent after it"
ref_disk vm1 64
mv "$VC_TMP/vm1.qcow2" "$VC_SHARED/vm1.qcow2"
vc_show "vm1: ocf:heartbeat:VirtualDomain, allow-migrate=false, prefers n1"
vc_show "vm1-ckpt: ocf:virtckpt:checkpoints, colocated with vm1, started after it"
vc_vm_create vm1 vm1.qcow2 --no-migrate --node n1 2>&1 | vc_indent
src=$(vc_vm_node vm1)
dst=n2
[[ "$src" != "$dst" ]] || vc_fail "vm1 started on $dst, not on n1"
where
B=$VC_SHARED/backups/vm1

vc_step "A full backup on $src makes the first checkpoint; the guest writes"
vc_show "virtckpt backup vm1 -o $B   # on $src"
vc_vm_backup "$src" vm1 1 full
vc_indent <<<"$VC_ERR"
echo "    (the lab's nodes share one machine's disk, so every node sees $B; on a real"
echo "    cluster, a local directory would not follow vm1: hence the warning)"
guest_writes "$src" "0x5a 1M 2M" "0xa5 40M 64k"
checkpoints

vc_step "Pacemaker moves vm1 to $dst"
vc_show "crm_resource --move --resource vm1 --node $dst"
vc_vm_move vm1 "$dst" 2>&1 | vc_indent
where
echo "    operations Pacemaker ran (last of each kind, in order):"
ops "$src" "$dst"
echo "    what vm1-ckpt did:"
agent_log "$src" 'captured the checkpoints'
agent_log "$dst" 'redefined'
vc_assert_eq "$dst" "$(vc_vm_node vm1)" "vm1 runs on $dst" 2>&1 | vc_indent

vc_step "The chain was redefined on $dst (the domain there is new: libvirt knew nothing)"
checkpoints
for n in "${VC_NODES[@]}"; do
	printf '    virtckptd replica on %s: %s checkpoint(s)\n' "$n" \
		"$(vnck "$n" checkpoints show vm1 | sed -n 's/^Checkpoints: *//p')"
done

vc_step "The guest writes on $dst; the next backup there is incremental"
guest_writes "$dst" "0xc3 20M 1M" "0x3c 63M 512k"
vc_show "virtckpt backup vm1 -o $B   # on $dst"
vc_vm_backup "$dst" vm1 2 inc
vc_indent <<<"$VC_ERR"
vc_show "virtckpt list $B"
vnck "$dst" list "$B" | vc_indent

vc_step "Restores equal what the guest wrote, byte for byte"
expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r2"
vc_show "virtckpt restore $B -o r2; qemu-img compare guest-disk-now r2/vda.qcow2"
qemu-img compare "$VC_TMP/vm1.ref@2" "$VC_TMP/r2/vda.qcow2" 2>&1 | vc_indent
expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r1" --until 1
vc_show "virtckpt restore $B -o r1 --until 1; qemu-img compare guest-disk-at-backup-1 r1/vda.qcow2"
qemu-img compare "$VC_TMP/vm1.ref@1" "$VC_TMP/r1/vda.qcow2" 2>&1 | vc_indent
vc_wait_idle
vc_assert_eq "" "$(vc_pcmk_failures)" "no failed Pacemaker action" 2>&1 | vc_indent

vc_step "Done: the cluster is stopped (maintenance mode first) and its files removed"
