#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A prune killed (SIGKILL) at each step of its transaction loses nothing:
# a chain of 5 backups over 4 days, pruned with --keep-daily 3 (backup 2
# becomes a synthetic full, 3 is folded into 4, 1 and 3 are removed), is
# copied and pruned once per step with the test hook
# VIRTCKPT_TEST_PRUNE_KILL_AT=STEP (tests only, backup/prune.h): writing
# (one image staged), staged, journal, committed, moved (one image moved),
# removed (one directory removed).  Right after the kill, every backup the manifest lists restores byte-exact or
# is refused (never wrong bytes), and all of them do before the commit
# and after the images moved.  The next prune completes the transaction
# or rolls it back: every point then restores byte-exact, verify passes,
# and nothing of the killed run is left.  A backup run after a kill
# completes it too.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 16 b 8

backup() {
	local level=$1 tag=$2 dir=${3:-$B}
	expect_exit 0 vck "$H" backup vm -o "$dir" "${RUN[@]}"
	grep -q "backup $tag ($level) of vm done" <<<"$VC_ERR" ||
		vc_fail "backup $tag was not a $level backup: $VC_ERR"
	ref_snapshot a "$tag"
	ref_snapshot b "$tag"
}

# restores DIR STRICT : every backup the manifest of DIR lists restores
# byte-exact; unless STRICT, a restore may also fail (the killed prune
# committed but did not move its images yet), but never give other bytes.
restores() {
	local dir=$1 strict=$2 id refused=0
	for id in $(vck "$H" list "$dir" | awk 'NR > 2 {print $1}'); do
		rm -rf "$VC_TMP/r"
		if ! vck "$H" restore "$dir" -o "$VC_TMP/r" --until "$id" 2>"$VC_TMP/err"; then
			[[ $strict == no ]] || vc_fail "$dir: backup $id does not restore: $(cat "$VC_TMP/err")"
			refused=$((refused + 1))
			continue
		fi
		assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref@$id" "$dir: backup $id, vda"
		assert_same_disk "$VC_TMP/r/vdb.qcow2" "$VC_TMP/b.ref@$id" "$dir: backup $id, vdb"
	done
	rm -rf "$VC_TMP/r"
	vc_log "$dir: $refused backups refused, the others restore exact"
}

backup full 1
ref_write "$H" vm vda a 0x11 1M 1M
backup inc 2
ref_zero "$H" vm vda a 1M 64k
ref_write "$H" vm vdb b 0x22 0 128k
backup inc 3
ref_write "$H" vm vda a 0x33 1M 128k
ref_discard "$H" vm vdb b 0 64k
backup inc 4
ref_write "$H" vm vda a 0x44 15M 1M
backup inc 5
# Days: 1 on day 1, 2 on day 2, 3 and 4 on day 3, 5 on day 4.
python3 - "$B/manifest.xml" <<'PY'
import sys, time, xml.etree.ElementTree as ET
path = sys.argv[1]
t = ET.parse(path)
day = {1: 1, 2: 2, 3: 3, 4: 3, 5: 4}
base = (int(time.time()) // 86400 - 10) * 86400
for b in t.getroot().findall("backup"):
    i = int(b.get("id"))
    b.set("started", str(base + day[i] * 86400 + i * 60))
t.write(path, xml_declaration=True, encoding="UTF-8")
PY
expect_exit 0 vck "$H" prune "$B" --keep-daily 3 --dry-run --json
python3 -c '
import json, sys
acts = {b["id"]: (b["action"], b.get("folded")) for b in json.load(sys.stdin)["backups"]}
assert acts == {1: ("remove", None), 2: ("synthetic-full", [1]), 3: ("remove", None),
                4: ("fold", [3]), 5: ("keep", None)}, acts
' <<<"$VC_OUT" || vc_fail "the plan is not the one this test needs: $VC_OUT"

# after_recovery DIR : the pruned state, whole.
after_recovery() {
	vc_assert_eq "2-full 4-inc 5-inc" \
		"$(vck "$H" list "$1" | awk 'NR > 2 {print $1 "-" $2}' | xargs)" "$1: kept 2, 4, 5"
	restores "$1" yes
	expect_exit 0 vck "$H" verify "$1"
	vc_assert_eq "" "$(cd "$1" && find . -name '.prune-*' -o -name '0001-*' -o -name '0003-*')" \
		"$1: nothing of the killed prune, nor of the removed backups, is left"
}

for step in writing staged journal committed moved removed; do
	dir=$VC_TMP/crash-$step
	cp -a "$B" "$dir"
	rc=0
	vc_on "$H" env VIRTCKPT_TEST_PRUNE_KILL_AT="$step" "$VIRTCKPT" --store "$VC_STORE" \
		prune "$dir" --keep-daily 3 >/dev/null 2>&1 || rc=$?
	vc_assert_eq 137 "$rc" "prune killed at $step"
	case $step in
	writing | staged | journal)
		vc_assert_eq 5 "$(vck "$H" list "$dir" | awk 'NR > 2' | wc -l)" "killed at $step: not committed"
		restores "$dir" yes
		expect_exit 0 vck "$H" verify "$dir" ;;
	removed)
		restores "$dir" yes
		expect_exit 0 vck "$H" verify "$dir" ;;
	*)
		restores "$dir" no ;;
	esac
	expect_exit 0 vck "$H" prune "$dir" --keep-daily 3
	after_recovery "$dir"
done

# A backup completes a killed prune's commit too.
dir=$VC_TMP/crash-backup
cp -a "$B" "$dir"
rc=0
vc_on "$H" env VIRTCKPT_TEST_PRUNE_KILL_AT=committed "$VIRTCKPT" --store "$VC_STORE" \
	prune "$dir" --keep-daily 3 >/dev/null 2>&1 || rc=$?
vc_assert_eq 137 "$rc" "prune killed after its commit"
ref_write "$H" vm vda a 0x66 3M 64k
backup inc 6 "$dir"
grep -q "interrupted prune" <<<"$VC_ERR" || vc_fail "the backup did not complete the prune: $VC_ERR"
vc_assert_eq "2-full 4-inc 5-inc 6-inc" \
	"$(vck "$H" list "$dir" | awk 'NR > 2 {print $1 "-" $2}' | xargs)" "the backup after the kill"
restores "$dir" yes
expect_exit 0 vck "$H" verify "$dir"

vc_log "ok: a prune killed at any step is completed or rolled back, and loses nothing"
