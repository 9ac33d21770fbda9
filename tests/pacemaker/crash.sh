#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario c: the node running the VM crashes.
#
# A 3-node cluster (corosync, Pacemaker, libvirtd, virtckptd per node) runs
# vm3 (ocf:heartbeat:VirtualDomain, transient domain, allow-migrate=true) on
# n3, with vm3-ckpt (ocf:virtckpt:checkpoints) after it.  A full and an
# incremental backup on n3 make a chain of two checkpoints; then the guest
# writes more and flushes (qemu-io "flush"), so that the image holds what
# the reference disk says even if QEMU cached qcow2 metadata.  (In the lab
# the flush changes nothing: SeaBIOS leaves the virtio disk's write cache
# off, QEMU runs it writethrough and every write is flushed already; the
# test logs QEMU's cache mode.)  n3 crashes: one SIGKILL to its Pacemaker
# daemons, corosync and vm3's QEMU (libvirtd and virtckptd stay up).  No
# fencing in the lab (stonith-enabled=false): once corosync drops n3, the
# survivors start vm3 and vm3-ckpt on n1 or n2.  QEMU stores the dirty
# bitmaps of checkpoints made in its run only when it closes the image, so
# both bitmaps are gone: vm3-ckpt's start finds the chain broken, logs it,
# redefines nothing and succeeds (the VM must run).  The next automatic
# backup is full and says why; after more writes the following one is
# incremental and reads exactly what the guest wrote.  Every backup, made
# before or after the crash, restores to the guest disk byte for byte.
# Then n3 comes back (corosync, Pacemaker): vm3 stays where it runs and is
# not started on n3 a second time, and virtckptd on n3, up all along,
# resyncs and holds the same chain as the other nodes.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm3 64 n3
B=$VC_BACKUPS

# guest_flush NODE DOM TARGET : qemu-io "flush" on the virtio backend of
# DOM's disk TARGET (as ref_write writes): QEMU writes the qcow2 metadata
# it caches to the image.  qemu-io prints nothing when a flush succeeds,
# its errors go to the domain log.
guest_flush() {
	local node=$1 dom=$2 target=$3 alias log off out
	alias=$(_vc_disk_alias "$node" "$dom" "$target")
	log=$VC_TMP/hosts/$node/root/var/log/libvirt/qemu/$dom.log
	off=$(stat -c %s "$log")
	out=$(vc_virsh "$node" qemu-monitor-command "$dom" --hmp \
		"qemu-io -d /machine/peripheral/$alias/virtio-backend \"flush\"" 2>&1) ||
		vc_fail "qemu-io flush on $dom/$target: $out"
	[[ -z "${out//[[:space:]]/}" ]] || vc_fail "qemu-io flush on $dom/$target: $out"
	sleep 0.2
	out=$(tail -c +$((off + 1)) "$log")
	! grep -qiE 'fail|error' <<<"$out" || vc_fail "qemu-io flush on $dom/$target: $out"
}

# probe_rc RSC NODE : exit code of the probe of RSC on NODE (CIB status).
probe_rc() {
	vc_crm n1 cibadmin -Q -o status | awk -v r="$1" -v node="$2" '
		/<node_state / { inn = ($0 ~ (" uname=\"" node "\"")) }
		inn && /<lrm_rsc_op / && $0 ~ (" operation_key=\"" r "_monitor_0\"") {
			s = $0; sub(/.* rc-code="/, "", s); sub(/".*/, "", s); print s
		}'
}

pcmk_log() { printf '%s/hosts/%s/root/var/log/pacemaker/pacemaker.log' "$VC_TMP" "$1"; }

# --- a chain of two checkpoints on n3 -------------------------------------
vc_vm_backup n3 vm3 1 full
ref_write n3 vm3 vda vm3 0x31 2M 1M
ref_write n3 vm3 vda vm3 0x32 30M 256k
vc_vm_backup n3 vm3 2 inc
vc_assert_eq $((1048576 + 262144)) "$(backup_read "$B" 2)" "backup 2 on n3 read exactly what the guest wrote"
chain=$(checkpoint_names n3 vm3)
vc_assert_eq 2 "$(wc -l <<<"$chain")" "two checkpoints in libvirt on n3"
for n in "${VC_NODES[@]}"; do
	vc_assert_eq "$(xargs <<<"$chain")" \
		"$(vnck "$n" checkpoints show vm3 | awk '/^  / { print $1 }' | xargs)" \
		"the chain is stored on $n"
done

# --- writes after the last backup, made durable ----------------------------
ref_write n3 vm3 vda vm3 0x33 8M 2M
ref_zero n3 vm3 vda vm3 16M 1M
ref_write n3 vm3 vda vm3 0x34 60M 64k
guest_flush n3 vm3 vda
ref_snapshot vm3 crash
vc_log "ok: guest writes flushed to the image ($(vc_virsh n3 qemu-monitor-command vm3 --hmp 'info block' |
	sed -n 's/^ *Cache mode: *//p' | head -n 1 | tr -d '\r'))"

# --- n3 crashes -------------------------------------------------------------
dc=$(vc_crm n1 crm_mon -1 --output-as=xml | sed -n 's/.*<current_dc .* name="\([^"]*\)".*/\1/p')
vc_log "DC before the crash: $dc"
# Where the survivors' pacemaker.log ends before the crash.
declare -A log_off
for n in n1 n2; do
	log_off[$n]=$(stat -c %s "$(pcmk_log "$n")")
done
log_since_crash() { tail -c +$((log_off[$1] + 1)) "$(pcmk_log "$1")"; }
vc_node_crash n3 vm3
t_crash=$VC_CRASH_T0
vc_wait_members n1 2
t_members=$(vc_elapsed "$t_crash")
vc_wait_running_off n3 vm3 vm3-ckpt
t_recover=$(vc_elapsed "$t_crash")
dst=$VC_VM_NODE
vc_log "TIMING vm3 and vm3-ckpt run on $dst ${t_recover}s after the crash (corosync dropped n3 after ${t_members}s)"
fails=$(vc_pcmk_failures)
vc_assert_eq "" "$fails" "the crash left no failed actions"
vc_wait_idle
dc=$(vc_crm n1 crm_mon -1 --output-as=xml | sed -n 's/.*<current_dc .* name="\([^"]*\)".*/\1/p')
[[ "$dc" == n[12] ]] || vc_fail "no DC among n1 and n2 after the crash: '$dc'"
vc_log "DC after the crash: $dc; what it logged, and the agents on $dst:"
log_since_crash "$dc" | grep -E 'Node n3 state is now lost|Taking over DC|Blind faith|Actions:' |
	sed "s/^/    $dc: /" >&2 || true
log_since_crash "$dst" | grep -E '(VirtualDomain|checkpoints)\(vm3' | sed "s/^/    $dst: /" >&2 || true
ops=$(vc_vm_ops vm3 "$dst" | xargs)
ck_ops=$(vc_vm_ops vm3-ckpt "$dst" | xargs)
vc_log "operations on $dst: vm3: $ops; vm3-ckpt: $ck_ops"
[[ " $ops " == *" start "* && " $ck_ops " == *" start "* ]] ||
	vc_fail "vm3 and vm3-ckpt were not started on $dst"
vc_assert_eq "OFFLINE" "$(vc_crm n1 crm_mon -1 --output-as=xml |
	sed -n 's/.*<node name="n3" .*online="\([a-z]*\)".*/\1/p' | sed 's/false/OFFLINE/')" "n3 is offline"
vc_assert_eq "running (booted)" "$(vc_virsh "$dst" domstate --reason vm3)" "vm3 on $dst is a fresh boot"

# --- the agent found the chain broken ---------------------------------------
log_since_crash "$dst" |
	grep "checkpoints(vm3-ckpt).*the checkpoint chain of vm3 is broken (.*missing or broken bitmap" >/dev/null ||
	vc_fail "vm3-ckpt's start on $dst did not log a broken chain: $(log_since_crash "$dst" | grep 'checkpoints(vm3-ckpt)')"
vc_log "ok: vm3-ckpt's start on $dst logged the broken chain, and succeeded"
vc_assert_eq "" "$(checkpoint_names "$dst" vm3)" "libvirt on $dst holds no partial chain"
vnck "$dst" checkpoints show vm3 >"$VC_TMP/show.txt"
grep -q '^State: *broken' "$VC_TMP/show.txt" ||
	vc_fail "the stored chain is not marked broken: $(cat "$VC_TMP/show.txt")"
vc_log "ok: store on $dst: $(grep '^State:' "$VC_TMP/show.txt")"

# --- the next automatic backup is full --------------------------------------
vc_vm_backup "$dst" vm3 3 full
grep -qE 'full backup: .*(broken|bitmap)' <<<"$VC_ERR" ||
	vc_fail "backup 3 does not say why it is full: $VC_ERR"
vc_log "ok: backup 3 on $dst: $(grep -m1 'full backup:' <<<"$VC_ERR" | sed 's/^virtckpt: notice: //')"
vnck "$dst" checkpoints show vm3 >"$VC_TMP/show.txt"
grep -q '^State: *ok' "$VC_TMP/show.txt" ||
	vc_fail "the full backup did not start a sound chain: $(cat "$VC_TMP/show.txt")"

# --- and the one after it incremental ---------------------------------------
ref_write "$dst" vm3 vda vm3 0x35 40M 512k
ref_write "$dst" vm3 vda vm3 0x36 3M 64k
ref_zero "$dst" vm3 vda vm3 50M 1M
vc_vm_backup "$dst" vm3 4 inc
vc_assert_eq $((524288 + 65536)) "$(backup_read "$B" 4)" "backup 4 read exactly what the guest wrote since backup 3"
vnck "$dst" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full inc full inc" "$(awk 'NR > 2 { print $2 }' "$VC_TMP/list.txt" | xargs)" \
	"levels in the backup directory"

# --- restores, byte for byte ------------------------------------------------
expect_exit 0 vnck "$dst" verify "$B"
for id in 1 2 3 4; do
	expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm3.ref@$id" "restore of backup $id"
done
assert_same_disk "$VC_TMP/r3/vda.qcow2" "$VC_TMP/vm3.ref@crash" \
	"the full backup after the crash holds every write flushed before it"

# --- n3 comes back ------------------------------------------------------------
state=$(vc_on n3 cat /run/resource-agents/virtckpt-checkpoints-vm3-ckpt.state 2>/dev/null || echo none)
vc_log "vm3-ckpt's state file on n3, left by the crash: $state"
t0=$EPOCHREALTIME
vc_corosync_start n3
vc_pacemaker_start n3
vc_wait_online n1 3 "$VC_PCMK_TIMEOUT"
vc_wait_synced n3 3
vc_wait_idle
t_rejoin=$(vc_elapsed "$t0")
vc_assert_eq "$dst $dst" "$(vc_vm_node vm3) $(vc_rsc_node vm3-ckpt)" "vm3 and vm3-ckpt stay on $dst"
vc_assert_eq "" "$(vc_virsh n3 list --all --name | grep -x vm3 || true)" "libvirt on n3 has no vm3"
vc_log "operations on n3 after its return: vm3: $(vc_vm_ops vm3 n3 | xargs); vm3-ckpt: $(vc_vm_ops vm3-ckpt n3 | xargs)"
# 7: OCF_NOT_RUNNING.  vm3-ckpt's state file on n3 may still say
# "started" (a crash without reboot keeps /run): the probe must look at the
# domain.
vc_assert_eq "7 7" "$(probe_rc vm3 n3) $(probe_rc vm3-ckpt n3)" \
	"the probes on n3 found vm3 and vm3-ckpt not running"
chain=$(checkpoint_names "$dst" vm3)
vc_assert_eq 2 "$(wc -l <<<"$chain")" "two checkpoints in libvirt on $dst (the new chain)"
for n in "${VC_NODES[@]}"; do
	vnck "$n" checkpoints show vm3 >"$VC_TMP/show-$n.txt"
	vc_assert_eq "$(xargs <<<"$chain") ok" \
		"$(awk '/^  / { print $1 }' "$VC_TMP/show-$n.txt" | xargs) $(sed -n 's/^State: *//p' "$VC_TMP/show-$n.txt")" \
		"the new chain is stored on $n, not broken"
done
vc_assert_eq "$(store_digest_of n1)" "$(store_digest_of n3)" "n3's replica equals n1's"
vc_pcmk_timing "recovery ${t_recover}s (membership ${t_members}s), n3 back ${t_rejoin}s"
