#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario e: one VM relocated 10 times, a backup after each move; the chain
# stays whole and every point restores.
#
# A 3-node cluster (corosync, Pacemaker, libvirtd --listen, virtckptd per
# node) runs vm4 (ocf:heartbeat:VirtualDomain, transient domain) on n1, with
# vm4-ckpt (ocf:virtckpt:checkpoints, allow-migrate=false) ordered after it
# and colocated with it.  A full backup on n1, then 10 rounds: the guest
# writes (other patterns and offsets every round, zeroes every third round),
# crm_resource --move sends vm4 to the next node of the cycle n2, n3, n1,
# n2, ...; odd rounds live-migrate the VM (allow-migrate=true: migrate_to,
# migrate_from, the domain "running (migrated)" with its UUID), even rounds
# stop it and start it again (allow-migrate=false: a new transient domain,
# "running (booted)", another UUID).  Either way vm4-ckpt is stopped on the
# source (captures) and started on the target (redefines): libvirt there
# lists the same chain as before the move, and the automatic backup that
# follows is incremental and reads exactly the bytes written in the round.
# At the end the backup directory verifies, each of the 11 backups restores
# to the guest disk as it was at that backup, byte for byte, and libvirt on
# the last node and every node's store hold the 11 checkpoints.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm4 64 n1
B=$VC_BACKUPS
ROUNDS=10

# last_arrival RSC NODE : the later (in call order) of RSC's start and
# migrate_from on NODE, as the CIB keeps them.
last_arrival() {
	vc_vm_ops "$1" "$2" | grep -xE 'start|migrate_from' | tail -n 1
}

# --- full backup on n1 -------------------------------------------------------
vc_vm_backup n1 vm4 1 full
vc_log "ok: full backup on n1"

# --- 10 rounds: writes, move, incremental ------------------------------------
node=n1
migrate=true
moves=""
n_live=0
n_restart=0
for ((r = 1; r <= ROUNDS; r++)); do
	from=$node
	to=${VC_NODES[r % ${#VC_NODES[@]}]}
	if ((r % 2)); then kind=live want=true; else kind=restart want=false; fi
	if [[ "$migrate" != "$want" ]]; then
		vc_rsc_meta vm4 allow-migrate "$want"
		vc_wait_idle
		migrate=$want
	fi
	# Two writes that do not overlap (64 KiB aligned: the bitmaps'
	# granularity), and every third round zeroes, which a backup does not
	# read.
	len_a=$(((r % 4 + 1) * 131072))
	len_b=$((r * 65536))
	ref_write "$from" vm4 vda vm4 "$(printf '0x%02x' $((0x40 + r)))" "$(((r * 7) % 48))M" "$len_a"
	ref_write "$from" vm4 vda vm4 "$(printf '0x%02x' $((0xa0 + r)))" "$((48 + r))M" "$len_b"
	if ((r % 3 == 0)); then
		ref_zero "$from" vm4 vda vm4 "$((59 + r / 3))M" 512k
	fi
	chain=$(checkpoint_names "$from" vm4)
	vc_assert_eq "$r" "$(wc -l <<<"$chain")" "round $r: $r checkpoints in libvirt on $from"
	uuid=$(vc_virsh "$from" domuuid vm4)

	vc_vm_move vm4 "$to"
	moves+=" $VC_MOVE_SECS"
	vc_assert_eq "$to $to" "$(vc_vm_node vm4) $(vc_rsc_node vm4-ckpt)" "round $r: vm4 and vm4-ckpt run on $to"
	ops=$(vc_vm_ops vm4 "$to" | xargs)
	ck_ops=$(vc_vm_ops vm4-ckpt "$to" | xargs)
	vc_log "round $r: operations on $to: vm4: $ops; vm4-ckpt: $ck_ops"
	[[ -z "$(vc_virsh "$from" list --all --name | grep -x vm4 || true)" ]] ||
		vc_fail "round $r: vm4 still exists on $from"
	case $kind in
	live)
		vc_assert_eq migrate_from "$(last_arrival vm4 "$to")" "round $r: vm4 migrated into $to"
		vc_assert_eq "running (migrated)" "$(vc_virsh "$to" domstate --reason vm4)" \
			"round $r: vm4 on $to runs since its live migration"
		vc_assert_eq "$uuid" "$(vc_virsh "$to" domuuid vm4)" "round $r: same domain (UUID kept)"
		n_live=$((n_live + 1))
		;;
	restart)
		vc_assert_eq start "$(last_arrival vm4 "$to")" "round $r: vm4 started on $to"
		vc_assert_eq "running (booted)" "$(vc_virsh "$to" domstate --reason vm4)" \
			"round $r: vm4 on $to was booted there"
		[[ "$uuid" != "$(vc_virsh "$to" domuuid vm4)" ]] ||
			vc_fail "round $r: vm4 kept its UUID: not a new transient domain"
		n_restart=$((n_restart + 1))
		;;
	esac
	vc_assert_eq start "$(last_arrival vm4-ckpt "$to")" "round $r: vm4-ckpt started on $to"
	vc_assert_eq "$chain" "$(checkpoint_names "$to" vm4)" \
		"round $r: libvirt on $to lists the whole chain (redefined by vm4-ckpt)"
	grep -h "checkpoints(vm4-ckpt).*redefined $r checkpoint" \
		"$VC_TMP/hosts/$to/root/var/log/pacemaker/pacemaker.log" | tail -n 1 |
		sed "s/^.*INFO: /    $to: /" >&2 || true

	id=$((r + 1))
	vc_vm_backup "$to" vm4 "$id" inc
	vc_assert_eq $((len_a + len_b)) "$(backup_read "$B" "$id")" \
		"round $r: backup $id on $to read exactly the $((len_a + len_b)) bytes written this round"
	node=$to
done
vc_assert_eq "5 5" "$n_live $n_restart" "5 live migrations and 5 stop/start moves"

# --- every point restores ----------------------------------------------------
vnck "$node" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full$(printf ' inc%.0s' $(seq "$ROUNDS"))" \
	"$(awk 'NR > 2 { print $2 }' "$VC_TMP/list.txt" | xargs)" "levels in the backup directory"
expect_exit 0 vnck "$node" verify "$B"
vc_log "ok: ${VC_ERR#virtckpt: notice: }"
for ((id = 1; id <= ROUNDS + 1; id++)); do
	expect_exit 0 vnck "$node" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm4.ref@$id" "restore of backup $id"
	rm -rf "$VC_TMP/r$id"
done

vc_assert_eq $((ROUNDS + 1)) "$(checkpoint_names "$node" vm4 | wc -l)" \
	"$((ROUNDS + 1)) checkpoints in libvirt on $node"
for n in "${VC_NODES[@]}"; do
	vnck "$n" checkpoints show vm4 >"$VC_TMP/show-$n.txt"
	vc_assert_eq "$((ROUNDS + 1)) ok" \
		"$(sed -n 's/^Checkpoints: *//p' "$VC_TMP/show-$n.txt") $(sed -n 's/^State: *//p' "$VC_TMP/show-$n.txt")" \
		"$((ROUNDS + 1)) checkpoints stored on $n, chain not broken"
done
vc_wait_idle
avg=$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }' <<<"$moves")
vc_pcmk_timing "$ROUNDS moves: average ${avg}s (${moves# })"
