#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A VM Pacemaker stopped is backed up offline on another node, and its
# chain goes on where it starts next.
#
# A 3-node cluster runs vm6 (transient, VirtualDomain) and vm6-ckpt on n1:
# a full backup there, guest writes, then target-role=Stopped: the domain
# runs nowhere and no libvirt knows it.  On n2, 'virtckpt backup' says it
# backs up the images offline and makes an incremental from the replicated
# chain; a write made to the image while stopped is captured by a second
# offline incremental.  vm6 is then started on n3: vm6-ckpt redefines the
# chain with the offline checkpoints, and the backup after more guest
# writes is incremental on n3, reading only those writes.  Every point
# restores to the guest disk as it was, byte for byte.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm6 64 n1
B=$VC_BACKUPS
vc_vm_backup n1 vm6 1 full
ref_write n1 vm6 vda vm6 0x31 2M 256k

# --- stopped by Pacemaker ----------------------------------------------------
vc_rsc_meta vm6 target-role Stopped
vc_wait_idle
for n in "${VC_NODES[@]}"; do
	[[ -z "$(vc_virsh "$n" list --all --name | grep -x vm6 || true)" ]] ||
		vc_fail "vm6 is still known to libvirt on $n"
done
vc_assert_eq "" "$(vc_vm_node vm6)" "vm6 runs nowhere"

vc_vm_backup n2 vm6 2 inc
grep -q "vm6 runs on no node of the cluster: backing up its images offline" <<<"$VC_ERR" ||
	vc_fail "the backup on n2 was not offline: $VC_ERR"
vc_assert_eq 262144 "$(backup_read "$B" 2)" "offline backup 2 read the guest's 256 KiB"
ref_write_offline vm6 0x32 40M 64k "$VC_SHARED/vm6.qcow2"
vc_vm_backup n2 vm6 3 inc
vc_assert_eq 65536 "$(backup_read "$B" 3)" "offline backup 3 read the 64 KiB written while stopped"
cp3=$(sed -n 's/.*<backup id="3".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
for n in "${VC_NODES[@]}"; do
	vc_assert_eq "$cp3" "$(vnck "$n" checkpoints show vm6 --names | tail -1)" \
		"the offline checkpoint is the tip of the stored chain on $n"
done

# --- started again, elsewhere --------------------------------------------------
vc_on n1 crm_resource --move --resource vm6 --node n3 >/dev/null 2>&1 ||
	vc_fail "cannot place vm6 on n3"
vc_rsc_meta vm6 target-role Started
_vc_wait_running n3 "$VC_PCMK_TIMEOUT" vm6 vm6-ckpt
vc_wait_idle
checkpoint_names n3 vm6 >"$VC_TMP/live"
grep -qxF "$cp3" "$VC_TMP/live" ||
	vc_fail "libvirt on n3 lacks the offline checkpoint $cp3: $(cat "$VC_TMP/live")"
vc_log "ok: vm6-ckpt redefined $(wc -l <"$VC_TMP/live") checkpoints on n3, the offline ones too"
ref_write n3 vm6 vda vm6 0x33 50M 128k
vc_vm_backup n3 vm6 4 inc
vc_assert_eq 131072 "$(backup_read "$B" 4)" "backup 4 on n3 read only the guest's 128 KiB"

for id in 1 2 3 4; do
	expect_exit 0 vnck n3 restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm6.ref@$id" "restore of backup $id"
	rm -rf "$VC_TMP/r$id"
done
vc_log PASS
