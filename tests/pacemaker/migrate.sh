#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Checkpoints follow the VM wherever Pacemaker puts it: live migration.
#
# A 3-node cluster (corosync, Pacemaker, libvirtd --listen, virtckptd per
# node) runs vm2 (ocf:heartbeat:VirtualDomain, transient domain,
# allow-migrate=true, migration_transport=tcp, migrate_options=--unsafe) on
# n2, with vm2-ckpt (ocf:virtckpt:checkpoints) ordered after it and
# colocated with it.  A full backup on n2 and guest writes, then
# crm_resource --move to n3: Pacemaker live-migrates the VM (migrate_to on
# n2, migrate_from on n3; QEMU on n3 started with -incoming, the domain on
# n3 "running (migrated)"), and vm2-ckpt, configured as agent/README.md
# says (allow-migrate=true), runs migrate_to/migrate_from, which redefines
# the chain on n3.  libvirt on n3 lists it; after more writes the next
# automatic backup on n3 is incremental and reads exactly what the guest
# wrote.  Then vm2-ckpt gets allow-migrate=false (the configuration without
# a monitor race, see tests/lib/pacemaker.sh) and the VM live-migrates
# n3 -> n1: vm2-ckpt is stopped on n3 (captures) and started on n1
# (redefines); a third, incremental backup on n1.  Every backup restores to
# the guest disk byte for byte.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

# --ckpt-monitor 600: vm2-ckpt's recurring monitor on n2 runs once at start
# and not again before the first migration, so it cannot hit the window in
# which the domain has left n2 before vm2-ckpt's migrate_to (see
# tests/lib/pacemaker.sh).
vc_vm_setup vm2 64 n2 --ckpt-migrate --ckpt-monitor 600
B=$VC_BACKUPS

# live_migrate FROM TO migrate|restart : crm_resource --move, then checks
# it was a live migration of the running guest, that vm2-ckpt was migrated
# or stopped/started as expected, and that the chain is in libvirt on TO.
live_migrate() {
	local from=$1 to=$2 ckmode=$3 chain ops_from ops_to ck_from ck_to log off
	chain=$(checkpoint_names "$from" vm2)
	log=$VC_TMP/hosts/$to/root/var/log/libvirt/qemu/vm2.log
	off=$(stat -c %s "$log" 2>/dev/null || echo 0)
	vc_vm_move vm2 "$to"
	ops_from=$(vc_vm_ops vm2 "$from" | xargs)
	ops_to=$(vc_vm_ops vm2 "$to" | xargs)
	ck_from=$(vc_vm_ops vm2-ckpt "$from" | xargs)
	ck_to=$(vc_vm_ops vm2-ckpt "$to" | xargs)
	vc_log "operations on $from: vm2: $ops_from; vm2-ckpt: $ck_from"
	vc_log "operations on $to: vm2: $ops_to; vm2-ckpt: $ck_to"
	[[ " $ops_from " == *" migrate_to "* ]] || vc_fail "no migrate_to of vm2 on $from ($ops_from)"
	[[ " $ops_to " == *" migrate_from "* && " $ops_to " != *" start "* ]] ||
		vc_fail "vm2 was not migrated into $to ($ops_to)"
	tail -c +$((off + 1)) "$log" | grep -q -- '-incoming' ||
		vc_fail "QEMU of vm2 on $to was not started for an incoming migration"
	vc_assert_eq "running (migrated)" "$(vc_virsh "$to" domstate --reason vm2)" \
		"vm2 on $to runs since its live migration"
	[[ -z "$(vc_virsh "$from" list --all --name | grep -x vm2 || true)" ]] ||
		vc_fail "vm2 still exists on $from"
	case $ckmode in
	migrate)
		[[ " $ck_from " == *" migrate_to "* && " $ck_to " == *" migrate_from "* &&
			" $ck_to " != *" start "* ]] ||
			vc_fail "vm2-ckpt was not migrated $from -> $to"
		;;
	restart)
		[[ " $ck_from " == *" stop "* && " $ck_from " != *" migrate_to "* &&
			" $ck_to " == *" start "* && " $ck_to " != *" migrate_from "* ]] ||
			vc_fail "vm2-ckpt was not stopped on $from and started on $to"
		;;
	esac
	vc_log "ok: live migration $from -> $to (vm2-ckpt: $ckmode)"
	vc_assert_eq "$chain" "$(checkpoint_names "$to" vm2)" \
		"libvirt on $to lists the whole chain (redefined by vm2-ckpt)"
	# What vm2-ckpt logged on both nodes during the move.
	grep -h 'checkpoints(vm2-ckpt)' "$VC_TMP/hosts/$from/root/var/log/pacemaker/pacemaker.log" |
		tail -n 2 | sed "s/^/    $from: /" >&2 || true
	grep -h 'checkpoints(vm2-ckpt)' "$VC_TMP/hosts/$to/root/var/log/pacemaker/pacemaker.log" |
		grep -E 'redefin' | tail -n 2 | sed "s/^/    $to: /" >&2 || true
}

# --- full backup and writes on n2 ----------------------------------------
vc_vm_backup n2 vm2 1 full
vc_log "ok: full backup on n2"
ref_write n2 vm2 vda vm2 0x11 0 1M
ref_write n2 vm2 vda vm2 0x22 33M 128k
ref_zero n2 vm2 vda vm2 50M 2M

# --- live migration n2 -> n3, incremental on n3 ---------------------------
live_migrate n2 n3 migrate
t_mig1=$VC_MOVE_SECS
ref_write n3 vm2 vda vm2 0x33 5M 3M
vc_vm_backup n3 vm2 2 inc
vc_assert_eq $((1048576 + 131072 + 3145728)) "$(backup_read "$B" 2)" \
	"the incremental on n3 read exactly what the guest wrote on n2 and n3"

# --- live migration n3 -> n1, incremental on n1 ---------------------------
vc_rsc_meta vm2-ckpt allow-migrate false
vc_wait_idle
live_migrate n3 n1 restart
t_mig2=$VC_MOVE_SECS
ref_write n1 vm2 vda vm2 0x44 60M 64k
vc_vm_backup n1 vm2 3 inc
vc_assert_eq 65536 "$(backup_read "$B" 3)" "the incremental on n1 read exactly the 64 KiB written since backup 2"
vnck n1 list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full inc inc" "$(awk 'NR > 2 { print $2 }' "$VC_TMP/list.txt" | xargs)" \
	"levels in the backup directory"

# --- restores, byte for byte ------------------------------------------------
expect_exit 0 vnck n1 verify "$B"
for id in 1 2 3; do
	expect_exit 0 vnck n1 restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm2.ref@$id" "restore of backup $id"
done

vc_assert_eq 3 "$(checkpoint_names n1 vm2 | wc -l)" "three checkpoints in libvirt on n1"
for n in "${VC_NODES[@]}"; do
	vc_assert_eq 3 "$(vnck "$n" checkpoints show vm2 | sed -n 's/^Checkpoints: *//p')" \
		"three checkpoints stored on $n"
done
vc_wait_idle
vc_pcmk_timing "migrations ${t_mig1}s and ${t_mig2}s"
