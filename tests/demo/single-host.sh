#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The single-host story, told step by step: a transient VM loses its
# checkpoints when it is re-created (as Pacemaker does), the next
# incremental backup is impossible, and virtckpt brings the chain back.
# Runs a private libvirtd in namespaces; leaves nothing behind.

set -eu -o pipefail
export VC_TEST_NAME=demo
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_init
H=demo-host
VC_STORE=$VC_TMP/store
DOM=web1

vc_step "Starting a private libvirtd (its own mount, PID and UTS namespaces)"
# Not in a pipeline: the harness must remember the host to stop it.
vc_host_start "$H" 2>"$VC_TMP/start.log"
vc_indent <"$VC_TMP/start.log"

vc_step "Running $DOM: a transient TCG guest with one 64 MiB qcow2 disk"
vc_make_image "$VC_TMP/web1.qcow2" 64M
vc_domain_xml "$DOM" "$VC_TMP/web1.qcow2" >"$VC_TMP/web1.xml"
vc_show "virsh create web1.xml"
vc_virsh "$H" create "$VC_TMP/web1.xml" | vc_indent

vc_step "Backups make checkpoints; the guest writes in between"
for i in 1 2 3; do
	vc_show "virsh checkpoint-create-as $DOM c$i; guest writes 1 MiB at ${i}0 MiB"
	vc_virsh "$H" checkpoint-create-as "$DOM" "c$i" >/dev/null
	vc_guest_write "$H" "$DOM" vda "0x$i$i" "${i}0M" 1M
done
vc_show "virsh checkpoint-list $DOM"
vc_virsh "$H" checkpoint-list "$DOM" | vc_indent

vc_step "virtckpt records the chain"
vc_show "virtckpt checkpoints capture $DOM"
vck "$H" checkpoints capture "$DOM" 2>&1 | vc_indent
vc_show "virtckpt checkpoints show $DOM"
vck "$H" checkpoints show "$DOM" | vc_indent

vc_step "Pacemaker restarts the VM: destroy, create again"
vc_virsh "$H" destroy "$DOM" >/dev/null
vc_virsh "$H" create "$VC_TMP/web1.xml" >/dev/null
vc_show "virsh checkpoint-list $DOM   # empty: libvirt forgot the chain"
vc_virsh "$H" checkpoint-list "$DOM" | vc_indent
echo "    ... but the image still holds the bitmaps:"
qemu-img info -U "$VC_TMP/web1.qcow2" | sed -n 's/^ *name: /      bitmap /p'

vc_step "Without virtckpt, the next backup fails"
vc_show "virsh checkpoint-create-as $DOM c1"
vc_virsh "$H" checkpoint-create-as "$DOM" c1 2>&1 | vc_indent || true
vc_show "incremental backup since c3"
{ (vc_dirty_extents "$H" "$DOM" vda c3) 2>&1 || true; } | tail -1 | sed 's/.*FAIL: //' | vc_indent

vc_step "virtckpt redefines the whole chain"
vc_show "virtckpt -v checkpoints redefine $DOM"
vck "$H" -v checkpoints redefine "$DOM" 2>&1 | vc_indent
vc_virsh "$H" checkpoint-list "$DOM" | vc_indent

vc_step "The incremental since c3 sees exactly what the guest wrote since c3"
extents=$(vc_dirty_extents "$H" "$DOM" vda c3)
echo "    dirty since c3: $extents   (offset, length in bytes)"
vc_assert_eq "31457280 1048576" "$extents" "1 MiB at 30 MiB, nothing else" 2>&1 | vc_indent
extents=$(vc_dirty_extents "$H" "$DOM" vda c1 | xargs)
echo "    dirty since c1: $extents"

vc_step "Done: the private libvirtd is stopped and its files removed"
