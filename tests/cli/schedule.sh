#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckpt schedule set|show|list|remove, without libvirt or QEMU: what
# set stores is in the store document (<schedule>, read with python3's
# XML parser) and comes back from show and list, as text and as JSON;
# durations are read as documented; bad input (durations, relative or
# hostile directories, absurd counts and periods, odd domain names) is a
# usage error that writes nothing; a schedule and a chain live side by
# side in one document: forget keeps the schedule, remove keeps the
# chain, and the document goes when the last of them goes; a damaged
# <schedule> in a document is refused.  (Backups by schedule run, with
# libvirt: tests/integration/schedule-run.sh.)

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
import json, sys, time
text = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(text)
assert text.endswith("}\n"), "not one document and a newline"
now = time.time()
for line in sys.argv[2].strip().splitlines():
    if not eval(line.strip()):
        sys.exit("failed: " + line.strip())
PY
}

# doc_check DOMAIN PYTHON-EXPRESSIONS : assertions on s, the <schedule>
# element of DOMAIN's store document as checkpoints show --xml prints it
# (None when there is none), and root, the document.
doc_check() {
	"$VIRTCKPT" "${S[@]}" checkpoints show --xml -- "$1" >"$tmp/doc.xml" ||
		fail "no store document for $1"
	python3 - "$tmp/doc.xml" "$2" <<'PY' || fail "store document of $1: $(cat "$tmp/doc.xml")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
found = root.findall("schedule")
assert len(found) <= 1, "more than one <schedule>"
s = found[0] if found else None
for line in sys.argv[2].strip().splitlines():
    if not eval(line.strip()):
        sys.exit("failed: " + line.strip())
PY
}

S=(--store "$tmp/store")
file_count() { find "$tmp/store" -maxdepth 1 -name '*.xml' | wc -l; }

# Nothing yet.
expect 0 "$VIRTCKPT" "${S[@]}" schedule list
[[ "$(<"$tmp/out")" == "no schedules" ]] || fail "empty list: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" "${S[@]}" schedule list --json
check 'd == {"version": 1, "schedules": []}'
expect 4 "$VIRTCKPT" "${S[@]}" schedule show web1
grep -q "no schedule for 'web1'" <<<"$err" || fail "show of nothing: $err"
expect 4 "$VIRTCKPT" "${S[@]}" schedule remove web1
echo "ok: an empty store"

# set: every option, stored as the element the man page documents.
before=$(date +%s)
expect 0 "$VIRTCKPT" "${S[@]}" schedule set web1 -o "$tmp/backups/web1/" \
	--every 15m --full-every 1w --keep-last 7 --keep-daily 7 --keep-weekly 4 --keep-monthly 6
after=$(date +%s)
grep -q "web1 is backed up every 15m into $tmp/backups/web1\$" <<<"$err" || fail "set said: $err"
doc_check web1 "
s is not None and s.get('every') == '900' and s.get('full-every') == '604800'
(s.get('keep-last'), s.get('keep-daily'), s.get('keep-weekly'), s.get('keep-monthly')) == ('7', '7', '4', '6')
$before <= int(s.get('set')) <= $after
s.find('dir').text == '$tmp/backups/web1'
len(root.find('checkpoints')) == 0
"
# Text: the values as durations, and a full due (no backup directory yet).
expect 0 "$VIRTCKPT" "${S[@]}" schedule show web1
grep -qx "Directory:   $tmp/backups/web1" "$tmp/out" || fail "show: $(<"$tmp/out")"
grep -qx "Every:       15m" "$tmp/out" || fail "show: $(<"$tmp/out")"
grep -qx "Full every:  1w" "$tmp/out" || fail "show: $(<"$tmp/out")"
grep -qx "Keep:        last 7, daily 7, weekly 4, monthly 6" "$tmp/out" || fail "show: $(<"$tmp/out")"
grep -qx "Next due:    now (full): no backup chain yet" "$tmp/out" || fail "show: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" "${S[@]}" schedule show --json web1
check "
d['version'] == 1 and d['schedule']['domain'] == 'web1'
d['schedule']['directory'] == '$tmp/backups/web1'
d['schedule']['every'] == 900 and d['schedule']['full_every'] == 604800
[d['schedule'][k] for k in ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly')] == [7, 7, 4, 6]
$before <= d['schedule']['set'] <= $after
d['schedule']['due'] is True and d['schedule']['level'] == 'full'
d['schedule']['next_due'] % 900 == 0 and now - 900 < d['schedule']['next_due'] <= now
d['schedule']['reason'] == 'no backup chain yet'
"
echo "ok: set, and the element in the store document; show, show --json"

# Durations as documented, and absent options absent (JSON null).
for pair in "90s:90" "4h:14400" "1d:86400" "2w:1209600" "1h30m:5400" "3600:3600" "1s:1"; do
	expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set db -o /srv/db --every "${pair%%:*}"
	doc_check db "s.get('every') == '${pair#*:}' and s.get('full-every') is None and not [a for a in s.keys() if a.startswith('keep-')]"
done
expect 0 "$VIRTCKPT" "${S[@]}" schedule show --json db
check "
d['schedule']['every'] == 1 and d['schedule']['full_every'] is None
[d['schedule'][k] for k in ('keep_last', 'keep_daily', 'keep_weekly', 'keep_monthly')] == [None] * 4
"
# The largest period and count.
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set db -o /srv/db --every 3660d --full-every 3660d --keep-last 100000
doc_check db "s.get('every') == '316224000' and s.get('keep-last') == '100000'"
echo "ok: durations, optional options, the largest values"

# list: both, by name; --json the same objects as show.
expect 0 "$VIRTCKPT" "${S[@]}" schedule list
[[ "$(sed -n 1p "$tmp/out")" == DOMAIN*EVERY*FULL-EVERY*KEEP*NEXT-DUE*DIRECTORY ]] || fail "list header: $(<"$tmp/out")"
[[ "$(awk 'NR > 1 { print $1 }' "$tmp/out" | xargs)" == "db web1" ]] || fail "list: $(<"$tmp/out")"
grep -q "^web1  *15m  *1w  *L7,D7,W4,M6  *now (full)  *$tmp/backups/web1\$" "$tmp/out" || fail "list: $(<"$tmp/out")"
expect 0 "$VIRTCKPT" "${S[@]}" schedule list --json
check "
[x['domain'] for x in d['schedules']] == ['db', 'web1']
d['schedules'][0]['every'] == 316224000 and d['schedules'][0]['keep_last'] == 100000
d['schedules'][1]['keep_monthly'] == 6
"
expect 0 "$VIRTCKPT" "${S[@]}" schedule show --json web1
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))["schedules"][1]; sys.exit(a["schedule"] != b)' \
	"$tmp/out" <("$VIRTCKPT" "${S[@]}" schedule list --json) || fail "list --json and show --json disagree"
echo "ok: list, list --json"

# Bad input: a usage error (2), nothing written.
sum=$(cat "$tmp"/store/*.xml | md5sum)
bad() {
	expect 2 "$VIRTCKPT" "${S[@]}" schedule set "$@"
	grep -q "Try 'virtckpt" <<<"$err" || fail "'schedule set $*': $err"
	[[ "$(cat "$tmp"/store/*.xml | md5sum)" == "$sum" ]] || fail "'schedule set $*' changed the store"
}
for d in 0 0s -1 -15m +1m 1y 1M 1.5h "15 m" m "" " 15m" "15m " 1m30 30m1h 1h1h 1e3 0x10 \
	3661d 99999999999999999999 18446744073709551616s; do
	bad web1 -o /b --every "$d"
	grep -q "bad value '$d' for --every" <<<"$err" || fail "--every '$d': $err"
done
bad web1 -o /b --every 1h --full-every 30m
grep -q "shorter than --every" <<<"$err" || fail "--full-every < --every: $err"
bad web1 -o /b --every 1h --full-every 0
bad web1 -o /b --every 1h --full-every 3661d
for k in last daily weekly monthly; do
	for n in 0 -1 100001 4294967297 1x "" 1.0; do
		bad web1 -o /b --every 1h "--keep-$k=$n"
		grep -q "bad value '$n' for --keep-$k" <<<"$err" || fail "--keep-$k '$n': $err"
	done
done
bad web1 -o backups/web1 --every 1h
grep -q "must be an absolute path" <<<"$err" || fail "relative dir: $err"
bad web1 -o ./b --every 1h
bad web1 -o "" --every 1h
bad web1 -o "/b$(printf '\nc')" --every 1h
bad web1 -o "/b$(printf '\tc')" --every 1h
bad web1 -o "/$(head -c 4095 /dev/zero | tr '\0' a)" --every 1h
bad web1 --every 1h
grep -q "missing -o DIR" <<<"$err" || fail "no -o: $err"
bad web1 -o /b
grep -q "missing --every" <<<"$err" || fail "no --every: $err"
bad -o /b --every 1h
bad "" -o /b --every 1h
bad web1 db -o /b --every 1h
bad web1 -o /b --every 1h --level full
grep -q "does not take --level" <<<"$err" || fail "--level: $err"
expect 2 "$VIRTCKPT" "${S[@]}" schedule show --every 1h web1
expect 2 "$VIRTCKPT" "${S[@]}" schedule remove --json web1
expect 2 "$VIRTCKPT" "${S[@]}" schedule list web1
expect 2 "$VIRTCKPT" "${S[@]}" schedule frobnicate
# Just within the limits: accepted.
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set web2 -o "/$(head -c 4094 /dev/zero | tr '\0' a)" --every 1s
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule remove web2
echo "ok: bad durations, counts, directories and arguments are usage errors that write nothing"

# Odd domain names: stored and shown byte for byte, or refused.
odd=('web "1" <&>' $'line\nbreak' 'caf\u00e9' '../../etc/passwd' '-dash' "$(head -c 300 /dev/zero | tr '\0' x)")
odd[2]=$(printf 'caf\xc3\xa9')
for name in "${odd[@]}"; do
	expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set -o /b/odd --every 1d -- "$name"
	expect 0 "$VIRTCKPT" "${S[@]}" schedule show --json -- "$name"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["schedule"]["domain"].encode("utf-8", "surrogateescape") != sys.argv[2].encode("utf-8", "surrogateescape"))' \
		"$tmp/out" "$name" || fail "show --json of '$name': $(<"$tmp/out")"
done
[[ ! -e "$tmp/etc" && ! -e /etc/passwd.xml ]] || fail "a domain name escaped the store"
expect 0 "$VIRTCKPT" "${S[@]}" schedule list --json
check "len(d['schedules']) == 2 + ${#odd[@]}"
for name in "${odd[@]}"; do
	expect 0 "$VIRTCKPT" -q "${S[@]}" schedule remove -- "$name"
	expect 4 "$VIRTCKPT" "${S[@]}" schedule show -- "$name"
done
echo "ok: odd domain names"

# A schedule and a chain in one document.  The chain comes from a store
# document (as checkpoints import takes it).
python3 - "$tmp/chain.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.Element("virtckpt-domain", format="1")
ET.SubElement(root, "name").text = "web1"
ET.SubElement(root, "version", generation="1", node="0")
ET.SubElement(root, "updated").text = "1700000000"
cs = ET.SubElement(root, "checkpoints")
inner = ET.Element("domaincheckpoint")
ET.SubElement(inner, "name").text = "c1"
ET.SubElement(inner, "creationTime").text = "1700000001"
disks = ET.SubElement(inner, "disks")
ET.SubElement(disks, "disk", name="vda", checkpoint="bitmap", bitmap="c1")
cp = ET.SubElement(cs, "checkpoint", {"name": "c1", "created": "1700000001"})
ET.SubElement(cp, "disk", name="vda", checkpoint="bitmap", bitmap="c1")
ET.SubElement(cp, "xml").text = ET.tostring(inner, encoding="unicode")
ET.ElementTree(root).write(sys.argv[1], encoding="utf-8", xml_declaration=True)
PY
# import replaces the whole document: the schedule is set again after it.
expect 0 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/chain.xml"
doc_check web1 "s is None and len(root.find('checkpoints')) == 1"
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set web1 -o /b/web1 --every 1h
doc_check web1 "s is not None and s.get('every') == '3600' and len(root.find('checkpoints')) == 1"
gen() { sed -n 's/.*<version generation="\([0-9]*\)".*/\1/p' "$tmp/doc.xml"; }
g1=$(gen)
# remove keeps the chain, in a new version.
expect 0 "$VIRTCKPT" "${S[@]}" schedule remove web1
grep -q "removed the schedule of web1" <<<"$err" || fail "remove said: $err"
doc_check web1 "s is None and len(root.find('checkpoints')) == 1"
[[ "$(gen)" -gt "$g1" ]] || fail "remove wrote no new version"
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints show --names web1
[[ "$(<"$tmp/out")" == c1 ]] || fail "the chain after remove: $(<"$tmp/out")"
# forget keeps the schedule and drops the chain.
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule set web1 -o /b/web1 --every 1h
expect 0 "$VIRTCKPT" "${S[@]}" checkpoints forget web1
grep -q "forgot the checkpoints of web1 (its schedule is kept)" <<<"$err" || fail "forget said: $err"
doc_check web1 "s is not None and s.get('every') == '3600' and len(root.find('checkpoints')) == 0"
# Forgetting again: no chain (exit 4), the schedule untouched.
expect 4 "$VIRTCKPT" "${S[@]}" checkpoints forget web1
doc_check web1 "s is not None"
# The last thing goes: the document goes.
n=$(file_count)
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule remove web1
[[ "$(file_count)" -eq $((n - 1)) ]] || fail "the empty document stayed: $(ls "$tmp/store")"
expect 4 "$VIRTCKPT" "${S[@]}" checkpoints show web1
echo "ok: a schedule and a chain in one document: remove and forget each keep the other"

# A damaged <schedule> makes the document damaged (refused whole).
for s in '<schedule every="0" set="0"><dir>/b</dir></schedule>' \
	'<schedule every="900" set="0"><dir>relative</dir></schedule>' \
	'<schedule every="900" full-every="60" set="0"><dir>/b</dir></schedule>' \
	'<schedule every="900" keep-last="0" set="0"><dir>/b</dir></schedule>' \
	'<schedule every="900" set="0"><dir>/b&#10;c</dir></schedule>' \
	'<schedule every="900" set="0"><dir>/b</dir></schedule><schedule every="900" set="0"><dir>/c</dir></schedule>'; do
	python3 -c 'import sys; t=open(sys.argv[1]).read(); open(sys.argv[2], "w").write(t.replace("</checkpoints>", "</checkpoints>" + sys.argv[3]))' \
		"$tmp/chain.xml" "$tmp/bad.xml" "$s"
	grep -qF "$s" "$tmp/bad.xml" || fail "test document not made"
	expect 1 "$VIRTCKPT" "${S[@]}" checkpoints import "$tmp/bad.xml"
	grep -q "is not a store document: .*schedule" <<<"$err" || fail "import of a bad schedule: $err"
done
sed 's|</checkpoints>|</checkpoints><schedule every="900" set="5"><dir>/b</dir></schedule>|' \
	"$tmp/chain.xml" >"$tmp/good.xml"
expect 0 "$VIRTCKPT" -q "${S[@]}" checkpoints import "$tmp/good.xml"
expect 0 "$VIRTCKPT" "${S[@]}" schedule show --json web1
check "d['schedule']['set'] == 5 and d['schedule']['every'] == 900"
echo "ok: a damaged <schedule> is a damaged document"

# schedule run refuses a domain without a schedule (before libvirt).
expect 0 "$VIRTCKPT" -q "${S[@]}" schedule remove web1
expect 2 "$VIRTCKPT" "${S[@]}" schedule run ""
echo PASS
