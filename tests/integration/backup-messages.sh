#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What an operator sees: one warning line when the backup cannot be made
# application-consistent (no guest agent, or an agent channel nobody
# answers), a progress line on a terminal and none otherwise, one summary
# line, and a backup that is still complete and exact.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 32

# Not a terminal: no progress line, one warning, one summary.
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/b1" "${RUN[@]}"
vc_assert_eq 1 "$(grep -c 'warning' <<<"$VC_ERR")" "one warning line"
grep -q "warning: vm has no guest agent: the backup is crash-consistent" <<<"$VC_ERR" ||
	vc_fail "no-agent warning: $VC_ERR"
grep -qE "backup 1 \(full\) of vm done: read 32.0 MiB, wrote [0-9.]+ MiB, skipped 0.0 MiB, [0-9.]+ s, [0-9.]+ MiB/s" <<<"$VC_ERR" ||
	vc_fail "summary line: $VC_ERR"
if grep -q "ETA" <<<"$VC_ERR"; then vc_fail "progress shown without a terminal"; fi
vc_log "ok: no progress line without a terminal"

# On a terminal (script(1) gives it one): a progress line.
vc_on "$H" script -qec "$VIRTCKPT --store $VC_STORE backup vm -o $VC_TMP/b2 --rundir $VC_TMP/run -l copy" \
	/dev/null >"$VC_TMP/tty.out" 2>&1 || vc_fail "backup on a terminal failed: $(cat "$VC_TMP/tty.out")"
grep -qE "32.0 / 32.0 MiB +100% +[0-9.]+ MiB/s +ETA 0:00" "$VC_TMP/tty.out" ||
	vc_fail "no progress line on a terminal: $(cat -v "$VC_TMP/tty.out")"
vc_log "ok: progress line on a terminal"
expect_exit 0 vck "$H" -q backup vm -o "$VC_TMP/b3" "${RUN[@]}" -l copy
vc_assert_eq "" "$VC_ERR" "-q: silent"

# The manifest's checksums are those of the stock tools.
sum_of() { perl -0ne 'print $1 if /<disk name="vda"[^>]* '"$2"'="([0-9a-f]+)"/' "$1/manifest.xml"; }
vc_assert_eq "$(xxhsum -H2 "$VC_TMP"/b1/0001-*/vda.qcow2 2>/dev/null | awk '{print $1}')" \
	"$(sum_of "$VC_TMP/b1" xxh128)" "xxh128 in the manifest = xxhsum -H2 of the image"
expect_exit 0 vck "$H" -q backup vm -o "$VC_TMP/b4" "${RUN[@]}" -l copy --checksum sha256
vc_assert_eq "$(sha256sum "$VC_TMP"/b4/0001-*/vda.qcow2 | awk '{print $1}')" \
	"$(sum_of "$VC_TMP/b4" sha256)" "sha256 in the manifest = sha256sum of the image"
expect_exit 0 vck "$H" verify "$VC_TMP/b4"
expect_exit 2 vck "$H" backup vm -o "$VC_TMP/b5" "${RUN[@]}" --checksum md5

# An agent channel that nobody answers: a warning, the backup goes on.
vc_virsh "$H" destroy vm >/dev/null
sed "s|</devices>|<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices>|" \
	"$VC_TMP/vm.xml" >"$VC_TMP/vm-agent.xml"
vc_virsh "$H" create "$VC_TMP/vm-agent.xml" >/dev/null
ref_write "$H" vm vda a 0x42 1M 1M
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/b1" "${RUN[@]}"
grep -q "warning: cannot freeze the filesystems of vm (.*not connected.*): the backup is crash-consistent" <<<"$VC_ERR" ||
	vc_fail "agent warning: $VC_ERR"
expect_exit 0 vck "$H" restore "$VC_TMP/b1" -o "$VC_TMP/r"
assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "backup without a frozen guest is complete"
vc_log PASS
