#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every backup records its outcome in the domain's store document, and
# status shows it (virtckpt(8), status --domains | DOMAIN...):
#  - a full then an incremental backup: result ok, their level, id, node,
#    directory and bytes as the manifest has them, last ok = them; the
#    record arrives with the backup's checkpoint; capture keeps it;
#  - a backup that fails (a directory that cannot be made, a target disk
#    that fills up mid-copy): result failed with its error, and the last
#    ok backup is still the incremental; --check exits 10;
#  - a backup cancelled mid-copy: interrupted (--check exits 0); the next
#    one resumes it, ok, and restores byte-exact;
#  - one refused while backups are held is not recorded;
#  - --attribute, the value of the agent's node attribute.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"
command -v python3 >/dev/null || _vc_skip "no python3"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
NODE=$(vc_on "$H" uname -n)

ref_domain "$H" vm a 128
# 64 MiB of data: more than the small target disk below holds.
for i in 0 1 2 3 4 5 6 7; do
	ref_write "$H" vm vda a "0x1$i" "$((i * 16))M" 8M
done

expect_error 4 "nothing stored for 'vm'" vck "$H" status vm

# bytes_written ID : the sum of the backup's image files, from the manifest.
bytes_written() {
	vck "$H" list --json "$B" | python3 -c '
import json, sys
print(next(b["bytes_written"] for b in json.load(sys.stdin)["backups"] if b["id"] == int(sys.argv[1])))' "$1"
}

# attribute_is WANT : status --attribute vm prints WANT, the time of the
# last ok backup as the JSON has it.
attribute_is() {
	local t want
	t=$(vck "$H" status --json vm | python3 -c 'import json, sys; print(json.load(sys.stdin)["domains"][0]["last_ok"]["time"])')
	want=${1/@OK/$(date -u -d "@$t" +%Y-%m-%dT%H:%MZ)}
	expect_exit 0 vck "$H" status --attribute vm
	vc_assert_eq "$want" "$VC_OUT" "status --attribute"
}

# --- ok: full, then inc ------------------------------------------------------
t0=$(date +%s)
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
t1=$(date +%s)
assert_health "$H" vm "a full backup is recorded ok" '
h["state"] == "ok" and h["broken"] is False
lb["result"] == "ok" and lb["level"] == "full" and lb["id"] == 1 and lb["error"] is None
lb["node"] == sys.argv[3] and lb["directory"] == sys.argv[4]
int(sys.argv[5]) <= lb["time"] <= int(sys.argv[6]) and 0 < lb["seconds"] <= lb["time"] - int(sys.argv[5]) + 1
lb["bytes_written"] == int(sys.argv[7]) and lb["bytes_written"] > 64 << 20
ok == {"time": lb["time"], "level": "full", "id": 1}
' "$NODE" "$(realpath "$B")" "$t0" "$t1" "$(bytes_written 1)"
# Its checkpoint is in the same document.
latest=$(vck "$H" list --json "$B" | python3 -c 'import json, sys; print(json.load(sys.stdin)["backups"][-1]["checkpoint"])')
[[ "$(vck "$H" checkpoints show --names vm | tail -n 1)" == "$latest" ]] ||
	vc_fail "the store lacks checkpoint $latest of backup 1"
expect_exit 0 vck "$H" status --check vm
attribute_is "ok @OK full"

ref_write "$H" vm vda a 0x21 3M 1M
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
assert_health "$H" vm "an incremental backup is recorded ok" '
lb["result"] == "ok" and lb["level"] == "inc" and lb["id"] == 2
lb["bytes_written"] == int(sys.argv[3]) and lb["bytes_written"] < 8 << 20
ok == {"time": lb["time"], "level": "inc", "id": 2}
' "$(bytes_written 2)"
attribute_is "ok @OK inc"

# A capture rewrites the chain and keeps the record.
vc_virsh "$H" checkpoint-create-as vm extra >/dev/null
expect_exit 0 vck "$H" checkpoints capture vm
grep -qx extra <<<"$(vck "$H" checkpoints show --names vm)" || vc_fail "capture did not store 'extra'"
vc_virsh "$H" checkpoint-delete vm extra >/dev/null
expect_exit 0 vck "$H" checkpoints capture vm
assert_health "$H" vm "capture keeps the record" 'lb["id"] == 2 and lb["level"] == "inc" and ok["id"] == 2'
grep -q '<last-backup ' <<<"$(vck "$H" checkpoints show --xml vm)" || vc_fail "no <last-backup> in the document"

# --- failed -------------------------------------------------------------------------
expect_error 1 "cannot open backup directory /proc/virtckpt-none" \
	vck "$H" -q backup vm -o /proc/virtckpt-none "${RUN[@]}"
assert_health "$H" vm "a directory that cannot be made: failed" '
h["state"] == "failed" and lb["result"] == "failed"
lb["level"] is None and lb["id"] is None and lb["directory"] == "/proc/virtckpt-none"
lb["error"].startswith("cannot open backup directory /proc/virtckpt-none")
ok == {"time": ok["time"], "level": "inc", "id": 2}
'
expect_error 10 "the backups of vm are not healthy: failed" vck "$H" status --check vm
expect_exit 10 vck "$H" status --domains --check
grep -qE "^vm +failed .* +failed +" <<<"$VC_OUT" || vc_fail "the table: $VC_OUT"
attribute_is "failed @OK inc"

small=$VC_TMP/small
mkdir "$small"
vc_on "$H" mount -t tmpfs -o size=40M tmpfs "$small"
expect_error 1 "No space left on device" vck "$H" -q backup vm -o "$small/b" "${RUN[@]}"
vc_on "$H" umount "$small"
assert_health "$H" vm "a target disk full mid-copy: failed" '
h["state"] == "failed" and lb["result"] == "failed" and lb["level"] == "full" and lb["id"] == 1
lb["directory"] == sys.argv[3] + "/b" and "No space left on device" in lb["error"]
ok["id"] == 2 and ok["level"] == "inc"
' "$small"

# --- interrupted, then resumed --------------------------------------------------------
for i in 0 1 2 3 4 5 6 7; do
	ref_write "$H" vm vda a "0x3$i" "$((i * 16 + 8))M" 8M
done
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --max-rate $((8 << 20))
suspend_backup
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --wait 60
resume_backup
wait_backup_interrupted "a cancelled backup"
assert_health "$H" vm "a cancelled backup: interrupted" '
h["state"] == "interrupted" and lb["result"] == "interrupted" and lb["level"] == "inc" and lb["id"] == 3
lb["error"] is not None and ok["id"] == 2
'
expect_exit 0 vck "$H" status --check vm
attribute_is "interrupted @OK inc"

# Held (the cluster moves the domain): refused, not recorded.
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --hold 60
expect_error 1 "backups of vm are held on this host" vck "$H" -q backup vm -o "$B" "${RUN[@]}"
assert_health "$H" vm "a held backup is not recorded" 'lb["result"] == "interrupted" and lb["id"] == 3'
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --release

expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "resumes the backup interrupted" <<<"$VC_ERR" || vc_fail "did not resume: $VC_ERR"
assert_health "$H" vm "the resumed backup: ok" '
h["state"] == "ok" and lb["result"] == "ok" and lb["level"] == "inc" and lb["id"] == 3
ok == {"time": lb["time"], "level": "inc", "id": 3} and lb["bytes_written"] == int(sys.argv[3])
' "$(bytes_written 3)"
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r" "${RUN[@]}"
assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "the recorded backup 3 restores exactly"
vc_log PASS
