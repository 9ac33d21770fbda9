#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A disk larger than many block status requests: the map of a 40 GiB
# sparse disk takes ten requests of 4 GiB less 64 KiB, more than are in
# flight at once (helper/backup/nbd-source.c), so windows are answered out
# of order and slots are reused.  Writes straddle every window's edge, a
# zero write cuts one of them, the last MiB of the disk is written: the
# full backup and the incremental restore to exactly the guest disk, and
# the incremental holds the dirty clusters and nothing else.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
SIZE=$((40 << 30))
WINDOW=$((0xffff0000))
MIB=1048576

truncate -s "$SIZE" "$VC_TMP/a.ref"
qemu-img create -q -f qcow2 "$VC_TMP/a.qcow2" "$SIZE"
vc_domain_xml vm "$VC_TMP/a.qcow2" >"$VC_TMP/vm.xml"
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null

# Across the edge of window K: 1 MiB, half on each side.
edge() { printf '%s' "$(($1 * WINDOW - MIB / 2))"; }

ref_write "$H" vm vda a 0x10 0 1M
for k in 1 2 3 4 5 6 7 8 9; do
	ref_write "$H" vm vda a "0x1$k" "$(edge "$k")" 1M
done
ref_write "$H" vm vda a 0x1f "$((SIZE - MIB))" 1M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l full
ref_snapshot a 1

# Dirty since: 6 MiB in windows 2, 8 and 10 (the last), and at windows 9's
# edge a zero write over the first backup's data.
ref_write "$H" vm vda a 0x21 "$(edge 2)" 2M
ref_write "$H" vm vda a 0x22 "$((8 * WINDOW + 64 * MIB))" 1M
ref_zero "$H" vm vda a "$(edge 9)" 1M
ref_write "$H" vm vda a 0x23 "$((SIZE - 2 * MIB))" 2M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
ref_snapshot a 2

inc=$(find "$B" -path '*/0002-inc-*/vda.qcow2')
[[ -n "$inc" ]] || vc_fail "no image of the incremental in $B: $(ls "$B")"
# Its own clusters (depth 0; deeper is the full backup, its backing file):
# the 5 MiB written as data, the zeroed MiB as zero clusters.
qemu-img map --output=json "$inc" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["depth"] == 0 and (e["data"] or e["zero"]):
        print(e["start"], e["length"], "data" if e["data"] and not e["zero"] else "zero")
' >"$VC_TMP/inc.map"
vc_assert_eq "$(edge 2) $((2 * MIB)) data
$((8 * WINDOW + 64 * MIB)) $MIB data
$(edge 9) $MIB zero
$((SIZE - 2 * MIB)) $((2 * MIB)) data" "$(cat "$VC_TMP/inc.map")" \
	"the incremental holds the dirty clusters and nothing else"

for id in 1 2; do
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of backup $id (40 GiB, sparse)"
	rm -rf "$VC_TMP/r$id"
done
