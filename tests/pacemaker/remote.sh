#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# VMs on Pacemaker Remote nodes keep their chains.
#
# A lab of 3 full nodes (corosync, Pacemaker, virtckptd) and 2 Pacemaker
# Remote nodes r1 r2 (pacemaker-remoted, libvirtd; no corosync, no
# virtckptd), see tests/lib/pacemaker-remote.sh; virtckptd runs as the
# clone virtckptd-clone, on the full nodes only, without a failed start
# on a remote node.  Then what the remote nodes look like from inside:
# one authkey everywhere, no corosync.conf, crm_node -l lists the full
# nodes, crm_node -n names the node, every name resolves, crm_mon
# answers, and virtckpt there is served by a full node.
#
# vm7 (ocf:heartbeat:VirtualDomain, allow-migrate=true) and vm7-ckpt
# (ocf:virtckpt:checkpoints, no store of its own on remote nodes) start on
# r1; a full backup there.  Pacemaker live-migrates the VM r1 -> r2 -> n1
# -> r1 (migrate_to on the source, migrate_from on the target, the domain
# "running (migrated)", the whole chain in libvirt on the target), the
# guest writing before each move and an incremental after it that reads
# exactly what was written.  Then the full node serving r1 crashes
# (vc_node_crash): vm7 stays on r1, not restarted, and the next
# incremental there is served by another full node.  Last, r2 is cut off from every full
# node's relay (TCP 3122 rejected in r2's namespace): virtckpt there
# exits 11 saying so; vm7 is sent to r2 (live migration), vm7-ckpt's
# start there fails with that reason, and Pacemaker places vm7 on another
# node, where its chain is redefined and an incremental works.  Every
# backup restores byte for byte to what the guest had.

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

for node in r1 r2; do
	out=$(vnck "$node" status) || vc_fail "virtckpt status on $node: $out"
	grep -qE '^served-by: n[123](:3122)?$' <<<"$out" ||
		vc_fail "virtckpt status on $node is not served by a full node: $out"
	grep -q '^state: synced$' <<<"$out" || vc_fail "status on $node: not synced: $out"
	vc_log "ok: virtckpt on $node: $(grep '^served-by:' <<<"$out")"
done

# Debian's corosync package installs a sample corosync.conf; on a remote
# node that has it (virtckpt recommends corosync), the running
# pacemaker-remoted still tells virtckpt where it is.
cp /usr/share/doc/corosync/examples/corosync.conf.example "$VC_TMP/hosts/r1/root/etc/corosync/corosync.conf" 2>/dev/null ||
	printf 'totem {\n\tversion: 2\n\tcluster_name: debian\n}\n' >"$VC_TMP/hosts/r1/root/etc/corosync/corosync.conf"
out=$(vnck r1 status) || vc_fail "virtckpt status on r1 with a sample corosync.conf: $out"
grep -qE '^served-by: n[123](:3122)?$' <<<"$out" ||
	vc_fail "with a sample corosync.conf, r1 no longer uses a full node: $out"
rm "$VC_TMP/hosts/r1/root/etc/corosync/corosync.conf"
vc_log "ok: a sample corosync.conf on a remote node changes nothing"

# served_by NODE : the full node virtckpt on remote node NODE uses now.
served_by() {
	local out
	out=$(vnck "$1" status) || vc_fail "virtckpt status on $1: $out"
	sed -n 's/^served-by: \([^:]*\).*/\1/p' <<<"$out"
}

# --- a VM on a remote node, a full backup -----------------------------------
vc_vm_setup vm7 64 r1
B=$VC_BACKUPS
vc_vm_backup r1 vm7 1 full
# From a full node, vm7 runs on no member of the cluster: the offline
# backup finds its images locked by the QEMU on r1, says where to back it
# up, and leaves the backup directory as it was.
before=$(find "$B" | sort | md5sum)
expect_exit 1 vnck n2 backup vm7 -o "$B"
grep -q 'vm7 runs on no node of the cluster: backing up its images offline' <<<"$VC_ERR" ||
	vc_fail "a full node's backup of vm7 on r1 does not say it runs on no member: $VC_ERR"
grep -q "vm7 runs on no node of the cluster, yet .*vm7.qcow2 is in use by another process: it runs on a host outside the cluster (a Pacemaker Remote node?); back it up there" <<<"$VC_ERR" ||
	vc_fail "a full node's backup of vm7 on r1 does not say where to run it: $VC_ERR"
vc_assert_eq "$before" "$(find "$B" | sort | md5sum)" "a refused backup from a full node leaves the backup directory as it was"

# live_move FROM TO : Pacemaker live-migrates vm7, vm7-ckpt is stopped on
# FROM (captures) and started on TO (redefines the whole chain).
moves=""
live_move() {
	local from=$1 to=$2 chain ops_from ops_to
	chain=$(checkpoint_names "$from" vm7)
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
	vc_assert_eq "$chain" "$(checkpoint_names "$to" vm7)" "libvirt on $to holds the chain"
}

# step FROM TO ID PATTERN OFFSET LENGTH : the guest writes on FROM, vm7
# moves to TO, backup ID there is an incremental of exactly those bytes.
step() {
	local from=$1 to=$2 id=$3
	ref_write "$from" vm7 vda vm7 "$4" "$5" "$6"
	live_move "$from" "$to"
	vc_vm_backup "$to" vm7 "$id" inc
	vc_assert_eq "$(numfmt --from=iec "${6^^}")" "$(backup_read "$B" "$id")" \
		"backup $id on $to read exactly what the guest wrote"
}

step r1 r2 2 0x72 1M 2M
step r2 n1 3 0x73 9M 1M
step n1 r1 4 0x74 20M 512k

# --- the full node serving r1 crashes ---------------------------------------
victim=$(served_by r1)
[[ "$victim" == n[123] ]] || vc_fail "r1 is served by '$victim'"
vc_log "r1 is served by $victim, its Pacemaker connection is held by $(vc_remote_conn_node r1)"
vc_node_crash "$victim"
# vm7 stays on r1; a remote node's connection held by the crashed node
# is taken over by another full node.
t0=$SECONDS
conns() {
	local r c
	for r in r1 r2; do
		c=$(vc_remote_conn_node "$r")
		[[ -n "$c" && "$c" != "$victim" ]] || return 1
	done
}
until conns && [[ "$(vc_vm_node vm7)" == r1 && "$(vc_rsc_node vm7-ckpt)" == r1 ]]; do
	((SECONDS - t0 < VC_PCMK_TIMEOUT)) ||
		vc_fail "r1, r2 and vm7 not back after the crash of $victim: $(vc_pcmk_failures)"
	sleep 1
done
vc_log "after the crash of $victim: r1 via $(vc_remote_conn_node r1), r2 via $(vc_remote_conn_node r2), vm7 on r1 ($((SECONDS - t0)) s)"
vc_assert_eq "running (migrated)" "$(vc_virsh r1 domstate --reason vm7)" \
	"vm7 on r1 was not restarted"
ref_write r1 vm7 vda vm7 0x75 30M 1M
vc_vm_backup r1 vm7 5 inc
vc_assert_eq 1048576 "$(backup_read "$B" 5)" "backup 5 on r1, after $victim crashed, read the 1 MiB written"
now=$(served_by r1)
[[ "$now" == n[123] && "$now" != "$victim" ]] || vc_fail "r1 is served by '$now' after $victim crashed"
vc_log "ok: r1 is now served by $now"

# --- a remote node cut off from every full node -------------------------------
vc_remote_block r2 3122
expect_exit 11 vnck r2 status
grep -q 'no full node answered' <<<"$VC_ERR" || vc_fail "virtckpt on the cut-off r2 does not say why: $VC_ERR"
vc_log "ok: virtckpt on the cut-off r2 exits 11: $VC_ERR"
# The agent's start waits sync_timeout (the lab's 60 s) for a full node
# before it fails: 10 s here (reloadable, vm7-ckpt goes on running).
vc_rsc_param vm7-ckpt sync_timeout 10
vc_wait_idle
# crm_resource --move's constraint (vm7 on r1) goes.
vc_crm "$(_vc_pcmk_node)" crm_resource --clear --resource vm7 >/dev/null
ref_write r1 vm7 vda vm7 0x76 40M 3M
# Above stickiness (100) and its home (r1, 50): Pacemaker sends vm7 to r2.
_vc_cib_add constraints '<rsc_location id="vm7-to-r2" rsc="vm7" node="r2" score="500"/>'
t0=$SECONDS
until grep -q 'vm7-ckpt_start_0 node=r2' <<<"$(vc_pcmk_failures)"; do
	((SECONDS - t0 < VC_PCMK_TIMEOUT)) || vc_fail "vm7-ckpt did not fail to start on r2"
	sleep 0.5
done
t_fail=$SECONDS
fail=$(vc_pcmk_failures | grep 'vm7-ckpt_start_0 node=r2')
vc_log "vm7-ckpt's start on r2: $fail"
grep -q 'reaches no full node' <<<"$fail" || vc_fail "vm7-ckpt's start on r2 failed without saying why: $fail"
vc_wait_running_off r2 vm7 vm7-ckpt
last=$VC_VM_NODE
vc_log "ok: Pacemaker placed vm7 on $last, $((SECONDS - t_fail)) s after the failure"
[[ "$last" != "$victim" ]] || vc_fail "vm7 runs on the crashed node"
vc_assert_eq "$(vnck "$last" checkpoints show --names vm7 | xargs)" \
	"$(checkpoint_names "$last" vm7 | xargs)" "libvirt on $last holds the stored chain"
vc_vm_backup "$last" vm7 6 inc
vc_assert_eq 3145728 "$(backup_read "$B" 6)" "backup 6 on $last read the 3 MiB written on r1"

# --- every restore, byte for byte ----------------------------------------------
vnck "$last" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full inc inc inc inc inc" "$(awk 'NR > 2 { print $2 }' "$VC_TMP/list.txt" | xargs)" \
	"levels in the backup directory"
expect_exit 0 vnck "$last" verify "$B"
for id in 1 2 3 4 5 6; do
	expect_exit 0 vnck "$last" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm7.ref@$id" "restore of backup $id"
	rm -rf "$VC_TMP/r$id"
done
vc_pcmk_timing "moves${moves}"
