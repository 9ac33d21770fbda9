#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# VMs on Pacemaker Remote nodes.
#
# A lab of 3 full nodes (corosync, Pacemaker, virtckptd) and 2 Pacemaker
# Remote nodes r1 r2 (pacemaker-remoted, libvirtd; no corosync, no
# virtckptd), see tests/lib/pacemaker-remote.sh; virtckptd runs as the
# clone virtckptd-clone, on the full nodes only, without a failed start
# on a remote node.  Then what the remote
# nodes look like from inside: one authkey everywhere, no corosync.conf,
# crm_node -l lists the full nodes, crm_node -n names the node, every name
# resolves, crm_mon answers.  Then vm7 (ocf:heartbeat:VirtualDomain,
# allow-migrate=true) starts on r1 and Pacemaker live-migrates it
# r1 -> r2 -> n1 -> r1 (migrate_to on the source, migrate_from on the
# target, the domain "running (migrated)"), the guest writing after each
# move; the disk, once the VM is stopped, holds exactly what it wrote.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

# virtckptd as Pacemaker runs it: a clone, kept off the remote nodes.
VC_PCMK_DAEMON=agent
vc_pcmk_lab 3 2
clone=$(_vc_crm_xml | awk '/<clone id="virtckptd-clone"/ { c = 1 } c && /<\/clone>/ { c = 0 }
	c && /<resource id="virtckptd"/ && /role="Started"/ { getline; sub(/.*<node name="/, ""); sub(/".*/, ""); print }' |
	sort | xargs)
vc_assert_eq "n1 n2 n3" "$clone" "virtckptd-clone runs on the full nodes only"
vc_assert_eq "" "$(vc_pcmk_failures)" "no failed action (none of virtckptd on a remote node)"
FULL=(n1 n2 n3)

# --- the remote nodes ---------------------------------------------------------
key=$(sha256sum "$VC_TMP/hosts/n1/root/etc/pacemaker/authkey" | cut -d' ' -f1)
for node in "${VC_NODES[@]}"; do
	vc_assert_eq "root haclient 640 4096 $key" \
		"$(vc_on "$node" stat -c '%U %G %a %s' /etc/pacemaker/authkey) $(vc_on "$node" sha256sum /etc/pacemaker/authkey | cut -d' ' -f1)" \
		"$node has the lab's authkey, root:haclient 0640"
done
for node in r1 r2; do
	vc_on "$node" test ! -e /etc/corosync/corosync.conf || vc_fail "$node has a corosync.conf"
	vc_on "$node" pgrep -x corosync >/dev/null && vc_fail "corosync runs on $node"
	vc_assert_eq "1 n1 member|2 n2 member|3 n3 member" \
		"$(vc_on "$node" crm_node -l | sort | paste -sd '|')" \
		"crm_node -l on $node lists the full nodes (id, name, state)"
	vc_assert_eq "$node" "$(vc_on "$node" crm_node -n)" "crm_node -n on $node"
	for n in n1 n2 n3 r1 r2; do
		vc_assert_eq "$(vc_node_addr "$n")" "$(vc_on "$node" getent hosts "$n" | awk '{ print $1 }')" \
			"$n resolves on $node"
	done
	vc_on "$node" crm_mon -1 --output-as=xml |
		grep -q "<node name=\"$node\" .*online=\"true\".*type=\"remote\"" ||
		vc_fail "crm_mon on $node does not show it online as a remote node"
done

# --- a VM on remote nodes -----------------------------------------------------
ref_disk vm7 64
mv "$VC_TMP/vm7.qcow2" "$VC_SHARED/vm7.qcow2"
vc_vm_create vm7 vm7.qcow2 --node r1 --no-ckpt
[[ "$VC_VM_NODE" == r1 ]] || vc_fail "vm7 started on $VC_VM_NODE, not on r1"
ref_write r1 vm7 vda vm7 0x71 1M 2M

# live_move FROM TO : Pacemaker live-migrates vm7, the guest then writes.
moves=""
live_move() {
	local from=$1 to=$2 ops_from ops_to
	vc_vm_move vm7 "$to"
	moves+=" $from->$to ${VC_MOVE_SECS}s"
	ops_from=$(vc_vm_ops vm7 "$from" | xargs)
	ops_to=$(vc_vm_ops vm7 "$to" | xargs)
	[[ " $ops_from " == *" migrate_to "* ]] || vc_fail "no migrate_to of vm7 on $from ($ops_from)"
	[[ " $ops_to " == *" migrate_from "* && " $ops_to " != *" start "* ]] ||
		vc_fail "vm7 was not migrated into $to ($ops_to)"
	vc_assert_eq "running (migrated)" "$(vc_virsh "$to" domstate --reason vm7)" \
		"vm7 live-migrated $from -> $to"
	[[ -z "$(vc_virsh "$from" list --all --name | grep -x vm7 || true)" ]] ||
		vc_fail "vm7 still exists on $from"
}

live_move r1 r2
ref_write r2 vm7 vda vm7 0x72 9M 1M
live_move r2 n1
ref_write n1 vm7 vda vm7 0x73 20M 512k
live_move n1 r1
ref_write r1 vm7 vda vm7 0x74 40M 3M

# --- the disk holds what the guest wrote -----------------------------------
vc_rsc_meta vm7 target-role Stopped
vc_wait_idle
[[ -z "$(vc_vm_node vm7)" ]] || vc_fail "vm7 still runs"
assert_same_disk "$VC_SHARED/vm7.qcow2" "$VC_TMP/vm7.ref" "vm7's disk after its moves"
for node in "${FULL[@]}"; do
	[[ -z "$(vc_virsh "$node" list --all --name)" ]] || vc_fail "a domain is left on $node"
done
vc_pcmk_timing "moves${moves}"
