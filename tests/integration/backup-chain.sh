#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Backups are byte-exact at every link: a two-disk domain gets a full
# backup, incrementals with writes, zero writes and discards in between, a
# differential and a copy; every point restores to exactly what the guest
# disks held then (compared with reference files that mirror each guest
# write).  verify catches one changed byte in any file.  A one-disk domain
# does the same with --disk/--exclude.  The --json documents of backup,
# list and verify agree with the manifest and with list's table.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 64 b 48

# backup LEVEL TAG [ARGS] : backs up, checks the level chosen, keeps the
# references as they are now under TAG (the backup's id), and the --json
# summary in $VC_TMP/backup-TAG.json.
backup() {
	local level=$1 tag=$2
	shift 2
	expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" "$@" --json
	grep -q "backup $tag ($level) of vm done" <<<"$VC_ERR" ||
		vc_fail "backup $tag was not a $level backup: $VC_ERR"
	printf '%s\n' "$VC_OUT" >"$VC_TMP/backup-$tag.json"
	ref_snapshot a "$tag"
	ref_snapshot b "$tag"
}

backup full 1
ref_write "$H" vm vda a 0x11 1M 1M
ref_write "$H" vm vdb b 0x22 40M 64k
backup inc 2 -l inc
ref_zero "$H" vm vda a 4M 1M
ref_discard "$H" vm vdb b 8M 2M
ref_write "$H" vm vda a 0x33 63M 1M
backup inc 3
backup inc 4                       # nothing written since: an empty link
ref_write "$H" vm vda a 0x44 1M 64k
ref_discard "$H" vm vda a 30M 4M
backup diff 5 -l diff
ref_write "$H" vm vdb b 0x55 0 128k
backup inc 6
ref_write "$H" vm vda a 0x66 2M 64k
backup copy 7 -l copy
ref_write "$H" vm vda a 0x77 3M 64k
backup inc 8

vck "$H" list "$B" >"$VC_TMP/list.txt"
vc_assert_eq "full-0 inc-1 inc-2 inc-3 diff-1 inc-5 copy-0 inc-6" \
	"$(awk 'NR > 2 {print $2 "-" ($5 == "-" ? 0 : $5)}' "$VC_TMP/list.txt" | xargs)" \
	"levels and parents of the eight backups"

# --json: the summaries of the eight backups, list --json and list's table
# say what the manifest says (python3 reads each document as JSON).
vck "$H" list --json "$B" >"$VC_TMP/list.json"
python3 - "$B/manifest.xml" "$VC_TMP" <<'PY' || vc_fail "the --json documents disagree with the manifest"
import json, sys, xml.etree.ElementTree as ET
manifest, tmp = sys.argv[1], sys.argv[2]
m = ET.parse(manifest).getroot()
backups = m.findall("backup")
listed = json.load(open(f"{tmp}/list.json"))
assert listed["version"] == 1 and listed["domain"] == m.findtext("domain") == "vm", listed["domain"]
assert len(listed["backups"]) == len(backups) == 8
table = [line.split() for line in open(f"{tmp}/list.txt").read().splitlines()[2:]]
for b, j, row in zip(backups, listed["backups"], table):
    want = {"id": int(b.get("id")), "level": b.get("level"), "checkpoint": b.get("checkpoint"),
            "since": b.get("since"), "chain": b.get("chain"), "dir": b.get("dir"),
            "parent": int(b.get("parent")) if b.get("parent") else None,
            "started": int(b.get("started")), "finished": int(b.get("finished"))}
    got = {k: j[k] for k in want}
    assert got == want, f"list --json {got} != manifest {want}"
    assert abs(j["seconds"] - float(b.get("seconds"))) < 0.001
    assert [row[0], row[1], row[-1]] == [str(j["id"]), j["level"], j["checkpoint"] or "-"], row
    disks = b.findall("disk")
    assert [d["name"] for d in j["disks"]] == [d.get("name") for d in disks] == ["vda", "vdb"]
    for d, x in zip(disks, j["disks"]):
        assert (x["bytes_read"], x["bytes_written"], x["virtual_size"], x["file"]) == \
            (int(d.get("read")), int(d.get("file-size")), int(d.get("virtual-size")), d.get("file")), x
        assert x["checksum_algorithm"] == "xxh128" and x["checksum"] == d.get("xxh128")
        assert x["backing"] == d.get("backing")
    assert j["bytes_read"] == sum(x["bytes_read"] for x in j["disks"])
    assert sorted(f["name"] for f in j["files"]) == sorted(f.get("name") for f in b.findall("file"))
    summary = json.load(open(f"{tmp}/backup-{j['id']}.json"))
    assert summary["version"] == 1 and summary["domain"] == "vm" and summary["directory"].endswith("/backups")
    assert {k: summary[k] for k in j} == j, f"backup --json of {j['id']} differs from list --json"
    assert summary["consistency"] in ("application", "crash")
print("ok: backup --json, list --json, list and the manifest agree on 8 backups")
PY
vc_assert_eq "1048576 0" "$(python3 -c 'import json,sys; b=json.load(sys.stdin)["backups"]; print(b[1]["disks"][0]["bytes_read"], b[3]["bytes_read"])' <"$VC_TMP/list.json")" \
	"list --json: backup 2 read 1 MiB of vda, backup 4 nothing"

# Incrementals copy what changed, not the disk.
vc_assert_eq 1048576 "$(backup_read "$B" 2 vda)" "backup 2 read only the 1 MiB written to vda"
vc_assert_eq 1048576 "$(backup_read "$B" 3 vda)" "backup 3 read only the 1 MiB written to vda (zeroes are not read)"
vc_assert_eq 0 "$(backup_read "$B" 4 vda)" "backup 4 read nothing"
vc_assert_eq 2097152 "$(backup_read "$B" 5 vda)" "diff 5 read the data written since the full (1 MiB at 1 MiB, 1 MiB at 63 MiB)"

# Every point restores byte for byte, as qcow2 and as raw.
for id in 1 2 3 4 5 6 7 8; do
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of backup $id, vda"
	assert_same_disk "$VC_TMP/r$id/vdb.qcow2" "$VC_TMP/b.ref@$id" "restore of backup $id, vdb"
	rm -rf "$VC_TMP/r$id"
done
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/raw" --format raw --disk vdb
[[ ! -e "$VC_TMP/raw/vda.raw" ]] || vc_fail "--disk vdb restored vda too"
cmp "$VC_TMP/raw/vdb.raw" "$VC_TMP/b.ref@8" || vc_fail "raw restore of vdb differs"
vc_log "ok: raw restore of vdb"
cp=$(sed -n 's/.*<backup id="3".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/bycp" --until "$cp"
assert_same_disk "$VC_TMP/bycp/vda.qcow2" "$VC_TMP/a.ref@3" "restore by checkpoint name"
expect_error 1 "exists: not overwriting it" vck "$H" restore "$B" -o "$VC_TMP/bycp" --until 3
expect_error 1 "no backup 'nope' in" vck "$H" restore "$B" -o "$VC_TMP/x" --until nope

# The images are plain qcow2 chains for stock tools.
chain=$(qemu-img info --backing-chain "$B"/0008-*/vda.qcow2 | sed -n 's/^image: .*\/\([0-9]*-[a-z]*\)-.*/\1/p' | xargs)
vc_assert_eq "0008-inc 0006-inc 0005-diff 0001-full" "$chain" "qemu-img follows 8 -> 6 -> 5 -> 1"
qemu-img check -q "$B"/0008-*/vda.qcow2 || vc_fail "qemu-img check of backup 8"

# Only the newest checkpoint of the chain matters to libvirt; all are there.
vc_assert_eq 7 "$(checkpoint_names "$H" vm | grep -c '^virtckpt\.')" "one checkpoint per chained backup (all but the copy)"

# verify: clean, then one changed byte anywhere is caught.
expect_exit 0 vck "$H" verify "$B"
expect_exit 0 vck "$H" verify --json "$B"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] is True and d["problems"] == 0 and len(d["backups"]) == 8, d
assert d["files"] == sum(b["files"] for b in d["backups"]) == 8 * 2 + 8 + 7, d["files"]
' "$VC_OUT" || vc_fail "verify --json of a clean directory: $VC_OUT"
f=$(echo "$B"/0003-*/vdb.qcow2)
flip_byte "$f" 100
expect_exit 1 vck "$H" verify --json "$B"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] is False and d["problems"] == 1, d
assert [(b["id"], b["problems"], b["ok"]) for b in d["backups"] if not b["ok"]] == [(3, 1, False)], d
' "$VC_OUT" || vc_fail "verify --json of a changed byte in backup 3: $VC_OUT"
flip_byte "$f" 100
vc_log "ok: verify --json counts the problem of backup 3"
for f in "$B"/0001-*/vda.qcow2 "$B"/0003-*/vdb.qcow2 "$B"/0008-*/vda.qcow2 "$B"/0005-*/checkpoint.xml; do
	size=$(stat -c %s "$f")
	for off in 100 $((size / 2)) $((size - 1)); do
		flip_byte "$f" "$off"
		expect_exit 1 vck "$H" verify "$B"
		grep -q "$(basename "$(dirname "$f")")/$(basename "$f"): FAILED" <<<"$VC_ERR" ||
			vc_fail "verify did not name $f: $VC_ERR"
		flip_byte "$f" "$off"
	done
	vc_log "ok: verify caught a changed byte at 3 places in ${f#"$B"/}"
done
expect_exit 0 vck "$H" verify "$B"
# A damaged link also stops a restore that needs it.
flip_byte "$(echo "$B"/0005-*/vda.qcow2)" 70000
expect_exit 1 vck "$H" restore "$B" -o "$VC_TMP/bad" --until 6
grep -q "damaged: not restoring" <<<"$VC_ERR" || vc_fail "restore of a damaged chain: $VC_ERR"
vc_log "ok: restore refuses a damaged chain"
flip_byte "$(echo "$B"/0005-*/vda.qcow2)" 70000

# Copies into another directory leave this chain alone.
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/copies" "${RUN[@]}" -l copy
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/copies" "${RUN[@]}" -l copy
ref_write "$H" vm vda a 0x99 5M 64k
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/after-copies"
assert_same_disk "$VC_TMP/after-copies/vda.qcow2" "$VC_TMP/a.ref" "the chain goes on after copies elsewhere"

# --- a one-disk selection of the same domain, in its own directory -------
B2=$VC_TMP/only-vdb
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}" --exclude vda -l full
ref_snapshot b x1
ref_write "$H" vm vdb b 0x88 16M 64k
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}" --disk vdb
grep -q "(inc)" <<<"$VC_ERR" || vc_fail "second --disk vdb backup was not incremental: $VC_ERR"
expect_exit 0 vck "$H" restore "$B2" -o "$VC_TMP/r-vdb"
[[ ! -e "$VC_TMP/r-vdb/vda.qcow2" ]] || vc_fail "vda was backed up despite --exclude"
assert_same_disk "$VC_TMP/r-vdb/vdb.qcow2" "$VC_TMP/b.ref" "one-disk chain restores vdb"

# A changed disk set cannot continue the chain: auto makes a full backup.
expect_exit 0 vck "$H" backup vm -o "$B2" "${RUN[@]}"
grep -q "full backup: the set of disks changed" <<<"$VC_ERR" || vc_fail "disk set change: $VC_ERR"
vc_log PASS
