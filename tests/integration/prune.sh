#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Retention: a two-disk domain gets a full backup and 6 incrementals with
# writes, zero writes and discards between each (references mirror each
# guest write).  --dry-run changes no byte of the directory.  prune
# --keep-last 3 removes the full: the oldest kept incremental becomes a
# synthetic full; every kept point restores byte-exact, verify passes, the
# removed ones are gone from list and disk, and a new incremental on the
# tip restores exact.  With dates spread over days, --keep-daily folds a
# removed incremental into its kept successor (which then builds on the
# nearest kept backup).  A prune while a backup runs exits 9 and changes
# nothing.  The data of an interrupted backup and what it builds on are
# kept, and the next backup resumes it.  A symlinked backup directory is
# refused; a hostile journal removes nothing that is not prune's.  A diff
# chain whose full is removed keeps its diff as a synthetic full.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 32 b 16

# backup LEVEL TAG [ARGS] : backs up into $B (or $DIR), checks the level,
# keeps the references as they are now under TAG (the backup's id).
backup() {
	local level=$1 tag=$2
	shift 2
	expect_exit 0 vck "$H" backup vm -o "${DIR:-$B}" "${RUN[@]}" "$@"
	grep -q "backup $tag ($level) of vm done" <<<"$VC_ERR" ||
		vc_fail "backup $tag was not a $level backup: $VC_ERR"
	ref_snapshot a "$tag"
	ref_snapshot b "$tag"
}

# restores DIR ID... : each backup restores byte-exact, and verify passes.
restores() {
	local dir=$1 id
	shift
	for id in "$@"; do
		rm -rf "$VC_TMP/r"
		expect_exit 0 vck "$H" restore "$dir" -o "$VC_TMP/r" --until "$id"
		assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of backup $id, vda"
		assert_same_disk "$VC_TMP/r/vdb.qcow2" "$VC_TMP/b.ref@$id" "restore of backup $id, vdb"
	done
	rm -rf "$VC_TMP/r"
	expect_exit 0 vck "$H" verify "$dir"
}

# listed DIR : "ID-LEVEL-PARENT ..." of list.
listed() {
	vck "$H" list "$1" | awk 'NR > 2 {print $1 "-" $2 "-" ($5 == "-" ? 0 : $5)}' | xargs
}

# dir_digest DIR : every name and every file's bytes under DIR (the lock
# file aside, which a backup creates and leaves).
dir_digest() {
	(cd "$1" && find . ! -name .lock -printf '%y %p %s\n' | sort &&
		find . -type f ! -name .lock -print0 | sort -z | xargs -0 sha256sum) | sha256sum
}

backup full 1
ref_write "$H" vm vda a 0x11 1M 1M
ref_write "$H" vm vdb b 0x12 0 1M
backup inc 2
ref_zero "$H" vm vda a 1M 512k                 # zeroes over 2's data
ref_discard "$H" vm vda a 8M 1M                # the full's data gone
ref_write "$H" vm vda a 0x33 5M 64k
backup inc 3
ref_write "$H" vm vda a 0x44 1M 64k
ref_write "$H" vm vda a 0x44 31M 1M
ref_write "$H" vm vdb b 0x4b 8M 64k
backup inc 4
backup inc 5                                   # nothing written: an empty link
ref_zero "$H" vm vda a 20M 1M
ref_write "$H" vm vda a 0x66 5M 128k
backup inc 6
ref_write "$H" vm vda a 0x77 0 64k
ref_discard "$H" vm vdb b 8M 64k
backup inc 7
restores "$B" 1 2 3 4 5 6 7

# --- --dry-run: what would happen, and no byte changed -------------------
before=$(dir_digest "$B")
expect_exit 0 vck "$H" prune "$B" --keep-last 3 --dry-run
grep -q "^remove *1 full" <<<"$VC_OUT" || vc_fail "dry run: backup 1 not to be removed: $VC_OUT"
grep -q "^keep *5 inc .*(last): rewritten as a synthetic full, 1, 2, 3 and 4 folded into it" \
	<<<"$VC_OUT" || vc_fail "dry run: backup 5 not to become a synthetic full: $VC_OUT"
grep -q "^keep *7 inc .*(last,tip)$" <<<"$VC_OUT" || vc_fail "dry run: the tip: $VC_OUT"
expect_exit 0 vck "$H" prune "$B" --keep-last 3 --dry-run --json
python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["version"] == 1 and j["dry_run"] and not j["committed"], j
acts = [(b["id"], b["action"]) for b in j["backups"]]
assert acts == [(1, "remove"), (2, "remove"), (3, "remove"), (4, "remove"),
                (5, "synthetic-full"), (6, "keep"), (7, "keep")], acts
assert j["backups"][4]["folded"] == [1, 2, 3, 4] and j["backups"][6]["reasons"] == ["last", "tip"]
assert j["bytes_freed"] == sum(b["bytes"] for b in j["backups"] if b["action"] == "remove") > 0
' <<<"$VC_OUT" || vc_fail "prune --dry-run --json: $VC_OUT"
vc_assert_eq "$before" "$(dir_digest "$B")" "--dry-run changed nothing in the directory"
expect_error 2 "give at least one of --keep-last" vck "$H" prune "$B"
expect_exit 2 vck "$H" list "$B" --keep-last 1
grep -q "list does not take --keep-last" <<<"$VC_ERR" || vc_fail "list took --keep-last: $VC_ERR"

# --- the directory is untrusted -------------------------------------------
# A backup's directory replaced by a symlink: refused, nothing changed.
X=$VC_TMP/hostile
cp -a "$B" "$X"
d2=$(cd "$X" && echo 0002-inc-*)
mv "$X/$d2" "$VC_TMP/elsewhere"
ln -s "$VC_TMP/elsewhere" "$X/$d2"
before=$(dir_digest "$X")
expect_error 1 "$d2 is not a directory .a symlink is refused.: not pruning" \
	vck "$H" prune "$X" --keep-last 3
vc_assert_eq "$before" "$(dir_digest "$X")" "a symlinked backup directory: nothing changed"
[[ -d "$VC_TMP/elsewhere" ]] || vc_fail "prune followed the symlink"
# A journal naming what is not prune's: nothing outside its own names goes.
rm "$X/$d2"
mv "$VC_TMP/elsewhere" "$X/$d2"
mkdir "$VC_TMP/victim" "$X/0099-full-20260101T000000Z"
printf '%s\n' "remove ../victim" "remove $d2" "rewrite .prune-2/../../victim" \
	"remove 0099-full-20260101T000000Z/../../victim" >"$X/.prune-journal"
expect_exit 0 vck "$H" prune "$X" --keep-last 7
[[ -d "$VC_TMP/victim" && -d "$X/0099-full-20260101T000000Z" && -d "$X/$d2" ]] ||
	vc_fail "a hostile journal made prune remove what is not its own"
[[ ! -e "$X/.prune-journal" ]] || vc_fail "the journal was not cleared"
restores "$X" 2 7
rm -rf "$X" "$VC_TMP/victim"

# --- keep-last 3: the full goes, 5 becomes a synthetic full ---------------
expect_exit 0 vck "$H" prune "$B" --keep-last 3
vc_assert_eq "5-full-0 6-inc-5 7-inc-6" "$(listed "$B")" "kept: 5 (a full now), 6, 7"
grep -q '<backup id="5" level="full" .*synthetic="yes"' "$B/manifest.xml" ||
	vc_fail "backup 5 is not marked synthetic: $(cat "$B/manifest.xml")"
vc_assert_eq "0005-inc 0006-inc 0007-inc" \
	"$(cd "$B" && for d in 0*; do printf '%s ' "${d%-*}"; done | sed 's/ $//')" \
	"the removed backups' directories are gone, nothing else is left"
[[ -z "$(find "$B" -name '.prune-*')" ]] || vc_fail "prune left staging files"
qemu-img info "$B"/0005-inc-*/vda.qcow2 | grep -q "backing file" &&
	vc_fail "the synthetic full has a backing file"
restores "$B" 5 6 7

# A new incremental builds on the tip, and restores exact.
ref_write "$H" vm vda a 0x88 2M 64k
ref_zero "$H" vm vda a 0 64k                   # over 7's data: folded below
backup inc 8
restores "$B" 5 8

# --- a prune while a backup runs: exit 9, nothing changed ----------------
ref_write "$H" vm vda a 0x99 10M 16M
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --max-rate 4M
suspend_backup
before=$(sha256sum <"$B/manifest.xml")
expect_error 9 "is writing to .*: nothing pruned" \
	vck "$H" prune "$B" --keep-last 1
vc_assert_eq "$before" "$(sha256sum <"$B/manifest.xml")" "the refused prune changed no manifest"
resume_backup
wait "$BG" || vc_fail "the backup failed: $(cat "$VC_TMP/bg.out")"
ref_snapshot a 9
ref_snapshot b 9
grep -q "backup 9 (inc) of vm done" "$VC_TMP/bg.out" || vc_fail "backup 9: $(cat "$VC_TMP/bg.out")"
restores "$B" 9

# --- --keep-daily: a removed incremental folded into its successor -------
ref_write "$H" vm vdb b 0xaa 4M 64k
backup inc 10
# Spread the backups over days (the manifest's start times only): 5 on
# day 1, 6 and 7 on day 2, 8 and 9 on day 3, 10 on day 4.
python3 - "$B/manifest.xml" <<'PY'
import sys, time, xml.etree.ElementTree as ET
path = sys.argv[1]
t = ET.parse(path)
day = {5: 1, 6: 2, 7: 2, 8: 3, 9: 3, 10: 4}
base = (int(time.time()) // 86400 - 10) * 86400
for b in t.getroot().findall("backup"):
    i = int(b.get("id"))
    b.set("started", str(base + day[i] * 86400 + i * 60))
t.write(path, xml_declaration=True, encoding="UTF-8")
PY
expect_exit 0 vck "$H" prune "$B" --keep-daily 3 --json
python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["committed"] and not j["dry_run"], j
acts = {b["id"]: (b["action"], b.get("parent"), b.get("folded")) for b in j["backups"]}
assert acts == {5: ("remove", None, None), 6: ("remove", None, None),
                7: ("synthetic-full", None, [5, 6]), 8: ("remove", None, None),
                9: ("fold", 7, [8]), 10: ("keep", None, None)}, acts
' <<<"$VC_OUT" || vc_fail "prune --keep-daily 3 --json: $VC_OUT"
vc_assert_eq "7-full-0 9-inc-7 10-inc-9" "$(listed "$B")" "kept: 7 (synthetic), 9 (on 7), 10"
grep -q "backing=\"../0007-inc-[0-9TZ]*/vda.qcow2\"" "$B/manifest.xml" ||
	vc_fail "backup 9 does not build on 7: $(cat "$B/manifest.xml")"
since7=$(sed -n 's/.*<backup id="7".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
grep -q "<backup id=\"9\" level=\"inc\" .*since=\"$since7\"" "$B/manifest.xml" ||
	vc_fail "backup 9's since is not 7's checkpoint"
restores "$B" 7 9 10
ref_write "$H" vm vda a 0xbb 12M 64k
backup inc 11
restores "$B" 11

# --- an interrupted backup's data is kept, and the next backup resumes it --
ref_write "$H" vm vda a 0xcc 8M 16M
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --max-rate 4M
expect_exit 0 vck "$H" cancel vm "${RUN[@]}" --wait 60
wait "$BG" || true
partial=$(cd "$B" && echo .partial-*)
[[ -f "$B/$partial/progress.xml" ]] || vc_fail "the cancelled backup kept nothing: $(cat "$VC_TMP/bg.out")"
before=$(dir_digest "$B/$partial")
expect_exit 0 vck "$H" prune "$B" --keep-last 1
grep -q "^keep *11 inc .*(last,tip,resume): rewritten as a synthetic full" <<<"$VC_OUT" ||
	vc_fail "11, which the interrupted backup builds on: $VC_OUT"
vc_assert_eq "$before" "$(dir_digest "$B/$partial")" "the interrupted backup's data is untouched"
backup inc 12
grep -q "resumes the backup interrupted" <<<"$VC_ERR" || vc_fail "backup 12 did not resume: $VC_ERR"
vc_assert_eq "11-full-0 12-inc-11" "$(listed "$B")" "kept 11 (synthetic), then the resumed 12"
restores "$B" 11 12

# --- a diff chain: its full removed, the kept diff becomes a synthetic full
DIR=$VC_TMP/diffs
backup full 1 -l full
ref_write "$H" vm vda a 0xc1 3M 1M
backup diff 2 -l diff
ref_zero "$H" vm vda a 3M 64k
ref_write "$H" vm vdb b 0xc2 1M 64k
backup diff 3 -l diff
ref_write "$H" vm vda a 0xc3 6M 64k
backup inc 4
expect_exit 0 vck "$H" prune "$DIR" --keep-last 2
vc_assert_eq "3-full-0 4-inc-3" "$(listed "$DIR")" "diff chain: 3 (synthetic full), 4"
restores "$DIR" 3 4

vc_log "ok: prune keeps what it must, merges what kept backups need, changes nothing on a dry run"
