#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Self-test of tests/lib/functions.sh: a private libvirt host, a transient
# TCG domain, a checkpoint, guest writes, dirty extents, and - without any
# virtckpt tool - the product's problem: after destroy + re-create of a
# transient domain, libvirt has lost the checkpoint while the qcow2 keeps
# its bitmap, so re-creating checkpoint c1 fails ("Bitmap already exists").
#
# VC_SELFTEST_FAIL=1 makes the test fail right after the domain starts, to
# show that cleanup still happens.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/functions.sh
. "$(dirname "$0")/../lib/functions.sh"

t_start=$(date +%s.%N)
mounts_before=$(findmnt -rn -o TARGET,SOURCE | sort)
vc_init

H=h1
vc_host_start "$H"
[[ "$(vc_on "$H" hostname)" == "$H" ]] || vc_fail "hostname inside is not $H"
[[ "$(hostname)" != "$H" ]] || vc_fail "real host's hostname was changed"
pidns=$(<"$VC_TMP/hosts/$H/pidns")

img=$VC_TMP/vm1-a.qcow2
img2=$VC_TMP/vm1-b.qcow2
vc_make_image "$img" 64M
vc_make_image "$img2" 64M
xml=$VC_TMP/vm1.xml
vc_domain_xml vm1 "$img" "$img2" >"$xml"
if grep -q '<uuid>' "$xml"; then vc_fail "domain XML has a uuid without --uuid"; fi
vc_virsh "$H" create "$xml" >/dev/null
vc_log "domain vm1 running"

if [[ "${VC_SELFTEST_FAIL:-0}" == 1 ]]; then
	vc_fail "deliberate failure (VC_SELFTEST_FAIL=1)"
fi

vc_virsh "$H" checkpoint-create-as vm1 c1 >/dev/null
vc_guest_write "$H" vm1 vda 0xab 2M 1M
vc_assert_eq "2097152 1048576" "$(vc_dirty_extents "$H" vm1 vda c1)" \
	"vda dirty since c1 = the 1 MiB written at 2 MiB"
vc_assert_eq "c1" "$(vc_virsh "$H" checkpoint-list vm1 --name | sed '/^$/d')" \
	"vc_dirty_extents created no checkpoint"

# Second disk (alias virtio-disk1), zero writes, discards, merging.
vc_guest_write "$H" vm1 vdb 0xcd 0 64k
vc_guest_write "$H" vm1 vdb 0xcd 64k 64k
vc_guest_zero "$H" vm1 vdb 8M 128k
vc_guest_discard "$H" vm1 vdb 16M 1M
vc_assert_eq "0 131072
8388608 131072
16777216 1048576" "$(vc_dirty_extents "$H" vm1 vdb c1)" \
	"vdb dirty since c1 = write+write merged, zero, discard"
vc_assert_eq "2097152 1048576" "$(vc_dirty_extents "$H" vm1 vda c1)" \
	"vda unaffected by vdb writes"
# qemu-io errors are reported: writing past the end of the disk
if (vc_guest_write "$H" vm1 vda 0x01 64M 64k) 2>/dev/null; then
	vc_fail "vc_guest_write past the end of the disk did not fail"
fi
vc_log "ok: vc_guest_write fails on a qemu-io error"

# The product's problem, reproduced with plain virsh.
vc_virsh "$H" destroy vm1 >/dev/null
vc_virsh "$H" create "$xml" >/dev/null
vc_assert_eq "" "$(vc_virsh "$H" checkpoint-list vm1 --name | sed '/^$/d')" \
	"re-created transient domain has no checkpoints"
if out=$(vc_virsh "$H" checkpoint-create-as vm1 c1 2>&1); then
	vc_fail "checkpoint-create-as c1 succeeded on the re-created domain"
fi
case $out in
*"Bitmap already exists: c1"*) vc_log "ok: checkpoint-create-as c1 fails: $out" ;;
*) vc_fail "unexpected error from checkpoint-create-as: $out" ;;
esac
info=$(qemu-img info -U --output=json "$img")
bitmaps=$(jq -r '."format-specific".data.bitmaps[]?.name' <<<"$info" 2>/dev/null ||
	qemu-img info -U "$img" | sed -n 's/^ *name: //p')
vc_assert_eq "c1" "$bitmaps" "the image still has bitmap c1"

# Stop the host; nothing may be left.
vc_host_stop "$H"
left=$(for p in /proc/[0-9]*; do
	[[ "$(readlink "$p/ns/pid" 2>/dev/null)" == "$pidns" ]] && echo "${p#/proc/}"
done || true)
vc_assert_eq "" "$left" "no process left in the host's PID namespace"
vc_assert_eq "" "$(findmnt -rn -o TARGET,SOURCE | grep -F -- "$VC_TMP" || true)" \
	"no mount mentioning \$VC_TMP on the real host"
vc_assert_eq "$mounts_before" "$(findmnt -rn -o TARGET,SOURCE | sort)" \
	"real host's mount table unchanged"
if vc_host_pid "$H" >/dev/null; then vc_fail "host $H still running"; fi

t_end=$(date +%s.%N)
vc_log "host start ${VC_HOST_START_SECS}s, selftest $(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')s"
vc_log "PASS"
