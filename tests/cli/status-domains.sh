#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckpt status --domains | DOMAIN... (each domain's last backup and the
# health of its chain), without libvirt or QEMU: store documents written
# here, with a <last-backup> of every result and hostile values, imported
# into a local store.  The table, --json (read with python3), --attribute,
# --check (exit 10 for failed and broken, not for interrupted or never),
# exit 4 for a domain not stored; a record with a control character or an
# oversized text makes its document damaged (exit 1), the others are
# still shown; texts reach the terminal without control characters.

set -eu -o pipefail
: "${VIRTCKPT:=$(cd "$(dirname "$0")/../.." && pwd)/helper/virtckpt}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

# expect CODE CMD... : CMD exits CODE; stdout in $tmp/out, stderr in $err.
expect() {
	local want=$1 got=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	err=$(<"$tmp/err")
	[[ "$got" == "$want" ]] || fail "'$*' exited $got, not $want (stderr: $err; stdout: $(<"$tmp/out"))"
}

# check PYTHON-EXPRESSIONS : each line an assertion on d, the one JSON
# document in $tmp/out.
check() {
	python3 - "$tmp/out" "$1" <<'PY' || fail "assertion failed on: $(cat "$tmp/out")"
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(text)
assert text.endswith("}\n"), "not one document and a newline"
by = {x["domain"]: x for x in d["domains"]}
for line in sys.argv[2].strip().splitlines():
    if not eval(line.strip()):
        sys.exit("failed: " + line.strip())
PY
}

# Documents: DOMAIN -> (last-backup attributes, its <dir>, <error>, <last-ok>
# attributes, broken reason).
python3 - "$tmp" <<'PY'
import sys, xml.etree.ElementTree as ET
tmp = sys.argv[1]
T = 1764669600
docs = {
    "web-ok": (dict(time=str(T), level="full", result="ok", node="host-a", id="1",
                    seconds="12.345", bytes="1048576"), "/backups/web ok", None,
               dict(time=str(T), level="full", id="1"), None),
    "web-failed": (dict(time=str(T + 60), level="inc", result="failed", node="host-b", id="7",
                        seconds="0.5", bytes="0"), "/backups/web-failed",
                   'cannot write "vda.qcow2" <&> caf\u00e9 \\ No space left on device',
                   dict(time=str(T - 3600), level="inc", id="6"), None),
    "web-broken": (dict(time=str(T), level="inc", result="ok", id="3"), None, None,
                   dict(time=str(T), level="inc", id="3"), "bitmap c3 missing in vda"),
    "web-never": (None, None, None, None, None),
    "web-int": (dict(time=str(T), level="inc", result="interrupted", node="host-a", id="4"),
                "/b", "interrupted", None, None),
    "line\nbreak": (dict(time=str(T), level="copy", result="ok", node="host a"), "/b", None,
                    dict(time=str(T), level="copy"), None),
    # hostile: planted in the store, not importable
    "bad-c1": (dict(time=str(T), result="failed"), None, "red \u009b31m", None, None),
    "bad-long": (dict(time=str(T), result="failed"), None, "x" * 1025, None, None),
    "bad-level": (dict(time=str(T), result="ok", level="weekly"), None, None, None, None),
}
for i, (dom, (lb, d, e, ok, broken)) in enumerate(docs.items()):
    root = ET.Element("virtckpt-domain", format="1")
    ET.SubElement(root, "name").text = dom
    ET.SubElement(root, "version", generation="1", node="0")
    ET.SubElement(root, "updated").text = str(T)
    if broken:
        ET.SubElement(root, "broken", since=str(T - 100)).text = broken
    if lb:
        n = ET.SubElement(root, "last-backup", lb)
        if d:
            ET.SubElement(n, "dir").text = d
        if e:
            ET.SubElement(n, "error").text = e
        if ok:
            ET.SubElement(n, "last-ok", ok)
    ET.SubElement(root, "checkpoints")
    ET.ElementTree(root).write(f"{tmp}/doc{i}.xml", encoding="utf-8", xml_declaration=True)
    open(f"{tmp}/doc{i}.name", "w").write(dom)
PY

S=(--store "$tmp/store")
mkdir -m 0700 "$tmp/store"
expect 0 "$VIRTCKPT" "${S[@]}" status --domains
[[ "$(<"$tmp/out")" == "no domains stored" ]] || fail "empty store: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" "${S[@]}" status --domains --json --check
check 'd == {"version": 1, "domains": []}'

for i in 0 1 2 3 4 5; do
	expect 0 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/doc$i.xml"
done
# What the store refuses to import, it refuses to read.
for i in 6 7 8; do
	expect 1 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/doc$i.xml"
	grep -q "bad <last-backup>" <<<"$err" || fail "import of $(<"$tmp/doc$i.name"): $err"
done
echo "ok: hostile records are refused on import"

# --- the table ------------------------------------------------------------
expect 0 "$VIRTCKPT" "${S[@]}" status --domains
row() { grep -E "^$1 +$2( |$)" "$tmp/out" >/dev/null || fail "no row '$1 $2' in: $(<"$tmp/out")"; }
head -n 1 "$tmp/out" | grep -q "^DOMAIN  *STATE  *LAST BACKUP  *LEVEL  *RESULT  *LAST OK  *NODE$" ||
	fail "table header: $(head -n 1 "$tmp/out")"
row web-ok "ok +2025-12-02T10:00:00Z full +ok +2025-12-02T10:00:00Z host-a"
row web-failed "failed +2025-12-02T10:01:00Z inc +failed +2025-12-02T09:00:00Z host-b"
row web-broken "broken +2025-12-02T10:00:00Z inc +ok +2025-12-02T10:00:00Z -"
row web-never "never +- +- +- +- +-"
row web-int "interrupted +2025-12-02T10:00:00Z inc +interrupted +- +host-a"
# the line break of a name is no line break on the terminal
row 'line\?break' "ok .* copy +ok .* host a"
grep -qF '  error: cannot write "vda.qcow2" <&> café \ No space left on device' "$tmp/out" ||
	fail "the error of web-failed: $(<"$tmp/out")"
grep -qF '  broken since 2025-12-02T09:58:20Z: bitmap c3 missing in vda' "$tmp/out" ||
	fail "the reason of web-broken: $(<"$tmp/out")"
[[ $(wc -l <"$tmp/out") == 10 ]] || fail "the table has $(wc -l <"$tmp/out") lines: $(<"$tmp/out")"
echo "ok: status --domains, a row per domain, errors and reasons below"

# --- --json ---------------------------------------------------------------------
expect 0 "$VIRTCKPT" "${S[@]}" status --domains --json
check '
d["version"] == 1
sorted(by) == sorted(["web-ok", "web-failed", "web-broken", "web-never", "web-int", "line\nbreak"])
{k: v["state"] for k, v in by.items()} == {"web-ok": "ok", "web-failed": "failed", "web-broken": "broken", "web-never": "never", "web-int": "interrupted", "line\nbreak": "ok"}
by["web-ok"]["last_backup"] == {"time": 1764669600, "level": "full", "result": "ok", "node": "host-a", "id": 1, "seconds": 12.345, "bytes_written": 1048576, "directory": "/backups/web ok", "error": None}
by["web-ok"]["last_ok"] == {"time": 1764669600, "level": "full", "id": 1}
by["web-ok"]["broken"] is False and by["web-ok"]["broken_reason"] is None and by["web-ok"]["broken_since"] is None
by["web-failed"]["last_backup"]["error"] == "cannot write \"vda.qcow2\" <&> caf\u00e9 \\ No space left on device"
by["web-failed"]["last_backup"]["result"] == "failed" and by["web-failed"]["last_backup"]["id"] == 7
by["web-failed"]["last_ok"] == {"time": 1764666000, "level": "inc", "id": 6}
by["web-broken"]["broken"] is True and by["web-broken"]["broken_reason"] == "bitmap c3 missing in vda" and by["web-broken"]["broken_since"] == 1764669500
by["web-broken"]["last_backup"]["node"] is None and by["web-broken"]["last_backup"]["directory"] is None
by["web-never"]["last_backup"] is None and by["web-never"]["last_ok"] is None
by["web-int"]["last_ok"] is None and by["web-int"]["last_backup"]["error"] == "interrupted"
by["line\nbreak"]["last_backup"]["id"] is None and by["line\nbreak"]["last_ok"] == {"time": 1764669600, "level": "copy", "id": None}
'
echo "ok: status --domains --json"

# --- --check, DOMAIN..., --attribute ---------------------------------------------
expect 10 "$VIRTCKPT" "${S[@]}" status --domains --check
grep -q "the backups of web-failed are not healthy: failed" <<<"$err" || fail "--check: $err"
grep -q "the backups of web-broken are not healthy: broken" <<<"$err" || fail "--check: $err"
[[ $(grep -c . <<<"$err") == 2 ]] || fail "--check named more than failed and broken: $err"
expect 10 "$VIRTCKPT" "${S[@]}" status --check --json
check 'len(d["domains"]) == 6'
expect 0 "$VIRTCKPT" "${S[@]}" status --check web-ok web-never web-int
expect 10 "$VIRTCKPT" "${S[@]}" status --check web-ok web-broken
expect 0 "$VIRTCKPT" "${S[@]}" status web-broken web-ok --json
check '[x["domain"] for x in d["domains"]] == ["web-broken", "web-ok"]'
expect 0 "$VIRTCKPT" "${S[@]}" status --attribute web-ok web-failed web-never web-int -- 'line
break'
[[ "$(<"$tmp/out")" == "ok 2025-12-02T10:00Z full
failed 2025-12-02T09:00Z inc
never
interrupted
ok 2025-12-02T10:00Z copy" ]] || fail "--attribute: $(<"$tmp/out")"
expect 4 "$VIRTCKPT" "${S[@]}" status web-ok nothing-here --attribute
[[ "$(<"$tmp/out")" == "ok 2025-12-02T10:00Z full" ]] || fail "--attribute with a missing domain: $(<"$tmp/out")"
grep -q "nothing stored for 'nothing-here'" <<<"$err" || fail "missing domain: $err"
# a missing domain (4) outranks an unhealthy one (10)
expect 4 "$VIRTCKPT" "${S[@]}" status --check web-failed nothing-here
echo "ok: --check exits 10 for failed and broken, DOMAIN..., --attribute, exit 4"

# --- usage ------------------------------------------------------------------------
expect 2 "$VIRTCKPT" "${S[@]}" status --json --attribute web-ok
expect 2 "$VIRTCKPT" "${S[@]}" status --wait-synced 1 web-ok
expect 2 "$VIRTCKPT" "${S[@]}" status ''
expect 2 "$VIRTCKPT" "${S[@]}" checkpoints list --attribute

# --- a planted hostile document: damaged, the others still shown ------------------
for i in 6 7 8; do
	cp "$tmp/doc$i.xml" "$tmp/store/$(<"$tmp/doc$i.name").xml"
	expect 1 "$VIRTCKPT" "${S[@]}" status --domains
	grep -q "is damaged: bad <last-backup>" <<<"$err" || fail "planted $(<"$tmp/doc$i.name"): $err"
	[[ $(grep -c . "$tmp/out") == 10 ]] || fail "the others are not all shown: $(<"$tmp/out")"
	expect 1 "$VIRTCKPT" "${S[@]}" status --check "$(<"$tmp/doc$i.name")"
	rm "$tmp/store/$(<"$tmp/doc$i.name").xml"
done
echo "ok: a record with a control character, a text too long or an unknown level is a damaged document"
echo PASS
