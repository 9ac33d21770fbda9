#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# --json (virtckpt(8), JSON OUTPUT), without libvirt or QEMU: stored
# chains imported from documents, read back as JSON with python3's json
# module.  Names with quotes, backslashes, line breaks and non-ASCII come
# back byte for byte; counts, parents and broken chains are right; stdout
# holds exactly one document; --json also after the command; checkpoints
# list --check exits 3 on a broken chain.  (list, verify and backup --json
# on real backups: tests/integration/backup-chain.sh.)

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
	[[ "$got" == "$want" ]] || fail "'$*' exited $got, not $want (stderr: $err)"
}

# check PYTHON-EXPRESSIONS : each line an assertion on d, the document in
# $tmp/out (which must be exactly one JSON document), and names.
check() {
	python3 - "$tmp/out" "$tmp/names.json" "$1" <<'PY' || fail "assertion failed on: $(cat "$tmp/out")"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
d = json.loads(text)          # refuses anything after the document
assert text.endswith("}\n"), "not one document and a newline"
names = json.load(open(sys.argv[2], encoding="utf-8"))
for line in sys.argv[3].strip().splitlines():
    if not eval(line.strip()):
        sys.exit("failed: " + line.strip())
PY
}

# Store documents (the format of checkpoints show --xml) for domains with
# hostile names, written by python3 so that every name is escaped right;
# names.json holds the names as python3 will compare them.
python3 - "$tmp" <<'PY'
import json, sys, xml.etree.ElementTree as ET
tmp = sys.argv[1]
domains = {
    "plain": ("vm1", ["c1", "c2", "c3"], None),
    "quotes": ('vm "quoted" \\back\\slash\'', ['c "1" \\', "c\n2 <&>"], None),
    "lines": ("line\nbreak\ttab", ["\u00e7a \u20ac \U0001f4be"], "bitmap \"x\"\nmissing"),
    "unicode": ("caf\u00e9-\u20ac-\U0001f4be", ["one"], None),
}
for key, (dom, cps, broken) in domains.items():
    root = ET.Element("virtckpt-domain", format="1")
    ET.SubElement(root, "name").text = dom
    ET.SubElement(root, "version", generation="1", node="0")
    ET.SubElement(root, "updated").text = "1700000000"
    if broken:
        ET.SubElement(root, "broken", since="1700000500").text = broken
    cs = ET.SubElement(root, "checkpoints")
    parent = None
    for i, c in enumerate(cps):
        attrs = {"name": c, "created": str(1700000001 + i)}
        inner = ET.Element("domaincheckpoint")
        ET.SubElement(inner, "name").text = c
        if parent:
            attrs["parent"] = parent
            p = ET.SubElement(inner, "parent")
            ET.SubElement(p, "name").text = parent
        ET.SubElement(inner, "creationTime").text = attrs["created"]
        disks = ET.SubElement(inner, "disks")
        ET.SubElement(disks, "disk", name="vda", checkpoint="bitmap", bitmap=c)
        ET.SubElement(disks, "disk", name="vdb", checkpoint="no")
        cp = ET.SubElement(cs, "checkpoint", attrs)
        ET.SubElement(cp, "xml").text = ET.tostring(inner, encoding="unicode")
        parent = c
    ET.ElementTree(root).write(f"{tmp}/{key}.xml", encoding="utf-8", xml_declaration=True)
json.dump({k: {"domain": v[0], "checkpoints": v[1], "broken": v[2]} for k, v in domains.items()},
          open(f"{tmp}/names.json", "w", encoding="utf-8"))
PY

S=(--store "$tmp/store")

# An empty store: a word for people, an empty array for scripts.
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list
[[ "$(<"$tmp/out")" == "no domains stored" ]] || fail "empty list: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list --json
check 'd == {"version": 1, "domains": []}'
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list --check
echo "ok: empty store"

mkdir -m 0700 "$tmp/store"
for f in plain quotes unicode; do
	expect 0 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/$f.xml"
done
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list --check
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list --json --check
check '
d["version"] == 1
sorted(x["domain"] for x in d["domains"]) == sorted(names[k]["domain"] for k in ("plain", "quotes", "unicode"))
all(x["broken"] is False and x["broken_reason"] is None and x["broken_since"] is None for x in d["domains"])
all(x["checkpoint_count"] == len(n["checkpoints"]) for x in d["domains"] for n in names.values() if n["domain"] == x["domain"])
all(x["latest_checkpoint"] == n["checkpoints"][-1] for x in d["domains"] for n in names.values() if n["domain"] == x["domain"])
all(x["generation"] == 1 and x["updated"] > 1700000000 and x["uuid"] is None for x in d["domains"])
'
echo "ok: checkpoints list --json of 3 domains"

# --json before or after the command: the same document.
cp "$tmp/out" "$tmp/after"
expect 0 "$VIRTCKPT" --json "${S[@]}" checkpoints list
cmp -s "$tmp/out" "$tmp/after" || fail "--json before the command differs"

# show: every checkpoint, parent first, names byte for byte.
for k in plain quotes unicode; do
	dom=$(python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))[sys.argv[2]]["domain"])' \
		"$tmp/names.json" "$k")
	expect 0 "$VIRTCKPT" "${S[@]}" checkpoints show --json -- "$dom"
	check "
d['version'] == 1 and d['domain'] == names['$k']['domain'] and d['broken'] is False
[c['name'] for c in d['checkpoints']] == names['$k']['checkpoints']
[c['parent'] for c in d['checkpoints']] == [None] + names['$k']['checkpoints'][:-1]
all(c['disks'] == [{'name': 'vda', 'mode': 'bitmap', 'bitmap': c['name']}, {'name': 'vdb', 'mode': 'no', 'bitmap': None}] for c in d['checkpoints'])
[c['created'] for c in d['checkpoints']] == list(range(1700000001, 1700000001 + len(d['checkpoints'])))
"
done
echo "ok: checkpoints show --json, names with quotes, backslashes, line breaks, non-ASCII"

# A broken chain: --check exits 3, still lists everything.
expect 0 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/lines.xml"
expect 3 "$VIRTCKPT" "${S[@]}" checkpoints list --check
[[ "$(grep -c ' ok$' "$tmp/out")" == 3 && "$(grep -c ' broken$' "$tmp/out")" == 1 ]] ||
	fail "list --check of a broken chain: $(<"$tmp/out")"
grep -q "is broken" <<<"$err" || fail "list --check did not say which chain is broken: $err"
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints list
expect 3 "$VIRTCKPT" "${S[@]}" --check --json checkpoints list
check '
len(d["domains"]) == 4
[x["domain"] for x in d["domains"] if x["broken"]] == [names["lines"]["domain"]]
[x["broken_reason"] for x in d["domains"] if x["broken"]] == [names["lines"]["broken"]]
[x["broken_since"] for x in d["domains"] if x["broken"]] == [1700000500]
'
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints show --json -- "$(printf 'line\nbreak\ttab')"
check '
d["broken"] is True and d["broken_reason"] == names["lines"]["broken"]
[c["name"] for c in d["checkpoints"]] == names["lines"]["checkpoints"]
'
echo "ok: a broken chain: list --check exits 3, --json says which"

# Options that exclude each other, and commands that do not take --json.
expect 2 "$VIRTCKPT" "${S[@]}" checkpoints show --json --names vm1
expect 2 "$VIRTCKPT" "${S[@]}" checkpoints show --json --xml vm1
expect 4 "$VIRTCKPT" "${S[@]}" checkpoints show --json nothing-here
[[ ! -s "$tmp/out" ]] || fail "show --json of nothing printed: $(<"$tmp/out")"
for words in "checkpoints capture vm1" "checkpoints forget vm1" "checkpoints import x" \
	"restore /tmp -o /tmp/x" "cancel vm1" "thaw vm1" "checkpoints show --check vm1"; do
	# shellcheck disable=SC2086 # the words are the command line
	expect 2 "$VIRTCKPT" "${S[@]}" --json $words
	grep -q "does not take --" <<<"$err" || fail "'--json $words': $err"
done

# A backup directory without backups; one that does not exist.
mkdir "$tmp/backups"
expect 0 "$VIRTCKPT" list "$tmp/backups"
[[ "$(<"$tmp/out")" == "no backups in $tmp/backups" ]] || fail "empty list: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" list --json "$tmp/backups"
check 'd == {"version": 1, "domain": None, "directory": sys.argv[1].rsplit("/", 1)[0] + "/backups", "backups": []}'
cp "$tmp/out" "$tmp/after"
expect 0 "$VIRTCKPT" list "$tmp/backups" --json
cmp -s "$tmp/out" "$tmp/after" || fail "list DIR --json differs from list --json DIR"
expect 0 "$VIRTCKPT" --json list "$tmp/backups"
cmp -s "$tmp/out" "$tmp/after" || fail "--json list DIR differs from list --json DIR"
expect 1 "$VIRTCKPT" list --json "$tmp/none"
[[ ! -s "$tmp/out" ]] || fail "list --json of a missing directory printed: $(<"$tmp/out")"
expect 1 "$VIRTCKPT" verify --json "$tmp/backups"
[[ ! -s "$tmp/out" ]] || fail "verify --json of nothing printed: $(<"$tmp/out")"
echo "ok: empty and missing backup directories"
echo PASS
