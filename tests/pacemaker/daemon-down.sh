#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario d: virtckptd is down on the node Pacemaker moves the VM to.
#
# A 3-node cluster runs vm1 (allow-migrate=false) on n1 with vm1-ckpt
# (ocf:virtckpt:checkpoints) after it; a full backup on n1 makes the chain.
# virtckptd is stopped on n2, then crm_resource --move sends vm1 to n2:
# vm1-ckpt captures on n1 and its start on n2 fails cleanly, the agent's
# exit reason naming virtckptd, which crm_mon shows for the failed start.
# A start failure bans vm1-ckpt from n2 (start-failure-is-fatal), and
# through the INFINITY colocation vm1 too: Pacemaker stops both on n2 and
# starts them on n1 again, where the chain is redefined.  The chain is not
# lost: once virtckptd runs again on n2 (and syncs) every replica holds it;
# after crm_resource --cleanup the move's preference wins again, vm1 and
# vm1-ckpt start on n2, libvirt there lists the chain, and the next backup
# on n2 is incremental.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm1 64 n1 --no-migrate
src=$VC_VM_NODE
dst=n2
# The failing start waits sync_timeout for virtckptd: 15 s, not 60.
vc_rsc_param vm1-ckpt sync_timeout 15
vc_wait_idle
B=$VC_BACKUPS

# --- a chain on n1 --------------------------------------------------------
vc_vm_backup "$src" vm1 1 full
cp1=$(checkpoint_names "$src" vm1)
[[ -n "$cp1" && $(wc -l <<<"$cp1") == 1 ]] || vc_fail "one checkpoint expected on $src: $cp1"
vc_log "ok: full backup on $src, checkpoint $cp1"
ref_write "$src" vm1 vda vm1 0x5a 1M 1M

# --- virtckptd down on n2, move ------------------------------------------
vc_daemon_stop "$dst"
vc_wait_synced "$src" 2
vc_log "virtckptd stopped on $dst; $src synced with 2 members"
t0=$EPOCHREALTIME
out=$(vc_crm "$src" crm_resource --move --resource vm1 --node "$dst" 2>&1) ||
	vc_fail "crm_resource --move vm1 to $dst: $out"

# The start of vm1-ckpt on n2 fails.
deadline=$((SECONDS + VC_PCMK_TIMEOUT))
fail=""
until [[ -n "$fail" ]]; do
	fail=$(vc_pcmk_failures | grep "op_key=vm1-ckpt_start_0 node=$dst" || true)
	((SECONDS < deadline)) || vc_fail "no failed start of vm1-ckpt on $dst; failures: $(vc_pcmk_failures)"
	[[ -n "$fail" ]] || sleep 1
done
vc_log "failed action after $(vc_elapsed "$t0")s: $fail"
grep -q 'exitreason=virtckptd is not synced on this node' <<<"$fail" ||
	vc_fail "the exit reason does not name virtckptd: $fail"
vc_assert_eq 1 "$(vc_pcmk_failures | wc -l)" "one failed action (the start of vm1-ckpt on $dst)"
# The same reason in crm_mon's text output, from inside a node.
mon=$(vc_crm "$dst" crm_mon -1 2>&1 || true)
grep -q "vm1-ckpt.* start on $dst returned .*virtckptd is not synced on this node" <<<"$mon" ||
	vc_fail "crm_mon on $dst does not show the reason: $mon"
grep "vm1-ckpt.* start on $dst returned" <<<"$mon" | sed "s/^ */    crm_mon: /" >&2
vc_log "ok: crm_mon shows why vm1-ckpt did not start on $dst"

# --- what Pacemaker does then --------------------------------------------
# vm1-ckpt may no longer run on n2 and must run with vm1: the colocation
# passes that ban on to vm1, which outweighs the move's preference for n2.
# Pacemaker stops vm1-ckpt (its stop captures nothing: the domain there has
# no checkpoints) and vm1 on n2 and starts both on n1 (vm1's home), where
# vm1-ckpt redefines the chain.
out=$(vc_crm "$src" crm_resource --wait --timeout="${VC_PCMK_TIMEOUT}s" 2>&1) ||
	vc_fail "cluster not idle after the failure: $out"
vc_log "operations on $dst: vm1: $(vc_vm_ops vm1 "$dst" | xargs); vm1-ckpt: $(vc_vm_ops vm1-ckpt "$dst" | xargs)"
vc_assert_eq "$src" "$(vc_vm_node vm1)" "Pacemaker recovered vm1 on $src"
vc_assert_eq "$src" "$(vc_rsc_node vm1-ckpt)" "vm1-ckpt runs with vm1 on $src"
[[ -z "$(vc_virsh "$dst" list --all --name | grep -x vm1 || true)" ]] ||
	vc_fail "vm1 still exists on $dst"
vc_assert_eq "$cp1" "$(checkpoint_names "$src" vm1)" "libvirt on $src lists the chain again (redefined by the recovery)"
for n in n1 n3; do
	vc_assert_eq 1 "$(vnck "$n" checkpoints show vm1 | sed -n 's/^Checkpoints: *//p')" \
		"the chain is kept in $n's replica"
done

# --- virtckptd back on n2, cleanup: vm1 goes where the move wants it ------
vc_daemon_start "$dst"
for n in "${VC_NODES[@]}"; do
	vc_wait_synced "$n" 3
done
for n in "${VC_NODES[@]}"; do
	vc_assert_eq 1 "$(vnck "$n" checkpoints show vm1 | sed -n 's/^Checkpoints: *//p')" \
		"one checkpoint in $n's replica once virtckptd runs again on $dst"
done
t0=$EPOCHREALTIME
out=$(vc_crm "$src" crm_resource --cleanup --resource vm1-ckpt 2>&1) ||
	vc_fail "crm_resource --cleanup vm1-ckpt: $out"
_vc_wait_running "$dst" "$VC_PCMK_TIMEOUT" vm1 vm1-ckpt
vc_wait_idle
t_back=$(vc_elapsed "$t0")
vc_log "vm1 and vm1-ckpt run on $dst ${t_back}s after the cleanup"
vc_assert_eq "$cp1" "$(checkpoint_names "$dst" vm1)" "libvirt on $dst lists the chain (redefined by the agent)"
grep -q "checkpoints(vm1-ckpt).*redefined 1 checkpoint of vm1" \
	"$VC_TMP/hosts/$dst/root/var/log/pacemaker/pacemaker.log" ||
	vc_fail "no redefine by vm1-ckpt in $dst's pacemaker.log"

# --- the chain is usable: incremental on n2, exact restore ---------------
ref_write "$dst" vm1 vda vm1 0xc3 20M 1M
vc_vm_backup "$dst" vm1 2 inc
expect_exit 0 vnck "$dst" restore "$B" -o "$VC_TMP/r2"
assert_same_disk "$VC_TMP/r2/vda.qcow2" "$VC_TMP/vm1.ref@2" "restore of the incremental made on $dst"
vc_pcmk_timing "back on $dst ${t_back}s after the cleanup"
