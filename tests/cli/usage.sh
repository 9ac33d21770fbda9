#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The command line: help, version, usage errors (exit 2) and messages that
# need no libvirt.

set -eu -o pipefail
: "${VIRTCKPT:=$(cd "$(dirname "$0")/../.." && pwd)/helper/virtckpt}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE CMD... : CMD exits CODE; stdout in $out, stderr in $err.
expect() {
	local want=$1 got=0
	shift
	out=$("$@" 2>"$tmp/err") || got=$?
	err=$(<"$tmp/err")
	[[ "$got" == "$want" ]] || fail "'$*' exited $got, not $want (stderr: $err)"
}

expect 0 "$VIRTCKPT" --help
grep -q "^Usage: virtckpt" <<<"$out" || fail "--help: $out"
grep -q "checkpoints redefine DOMAIN" <<<"$out" || fail "--help lacks redefine"
grep -q "3 the checkpoint chain is" <<<"$out" || fail "--help lacks exit codes"
for code in "4 nothing stored" "5 libvirt holds none" "6 virtckptd is not synced" "7 no virtckptd" \
	"8 no trustworthy daemon" "9 the backup directory" "10 a domain.s backups are not"; do
	grep -q "$code" <<<"$out" || fail "--help lacks exit status $code"
done
# Every command the help lists has its own help, and each one is listed.
for cmd in backup restore verify list status cancel; do
	grep -q "^  $cmd " <<<"$out" || fail "--help does not list $cmd"
done
main_help=$out
for cmd in backup restore verify list status cancel; do
	expect 0 "$VIRTCKPT" "$cmd" --help
	grep -q "^Usage: virtckpt \[OPTION\]... $cmd " <<<"$out" || fail "$cmd --help: $out"
	[[ "$(wc -l <<<"$out")" -gt 2 ]] || fail "$cmd --help has no description: $out"
done
expect 0 "$VIRTCKPT" help
[[ "$out" == "$main_help" ]] || fail "'virtckpt help' differs from --help"
expect 2 "$VIRTCKPT" frobnicate --help

expect 0 "$VIRTCKPT" --version
[[ "$out" =~ ^virtckpt\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version: $out"

for sub in capture redefine show list forget import; do
	expect 0 "$VIRTCKPT" checkpoints "$sub" --help
	grep -q "^Usage: virtckpt \[OPTION\]... checkpoints $sub" <<<"$out" ||
		fail "checkpoints $sub --help: $out"
	grep -q "^  checkpoints $sub" <<<"$main_help" || fail "--help does not list checkpoints $sub"
done
expect 0 "$VIRTCKPT" checkpoints --help
grep -q "redefine" <<<"$out" || fail "checkpoints --help: $out"

expect 0 "$VIRTCKPT" cancel --help
grep -q "^Usage: virtckpt \[OPTION\]... cancel DOMAIN" <<<"$out" || fail "cancel --help: $out"
expect 2 "$VIRTCKPT" cancel
expect 2 "$VIRTCKPT" cancel vm --hold 5 --release
expect 2 "$VIRTCKPT" cancel vm --grace soon
grep -q "bad value 'soon' for --grace" <<<"$err" || fail "cancel --grace soon: $err"
# A hold, seen by a backup, then released; no libvirt needed for that.
# (libvirt's test driver runs a domain named "test")
expect 0 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" cancel test --hold 60
grep -q "backups of test are held on this host for 60 s" <<<"$err" || fail "hold: $err"
expect 1 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" --store "$tmp/held-store" backup test -o "$tmp/held-backups"
grep -q "backups of test are held on this host for [0-9]* more s" <<<"$err" || fail "held backup: $err"
# --request-size takes suffixes: accepted (the backup then meets the
# hold), or refused as a usage error before anything is done.
for size in 65536 64K 64KiB 1M 2MiB 32M; do
	expect 1 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" --store "$tmp/held-store" \
		backup test -o "$tmp/held-backups" --request-size="$size"
	grep -q "backups of test are held" <<<"$err" || fail "--request-size=$size: $err"
done
for size in 0 1.5M 1M- -1M 1T 1MB 100000 64M 99999999999999999999K " 1M" ""; do
	expect 2 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" --store "$tmp/held-store" \
		backup test -o "$tmp/held-backups" --request-size="$size"
	grep -q "bad value '$size' for --request-size" <<<"$err" || fail "--request-size=$size: $err"
done
for rate in 65536 64K 8M 100MiB 1G; do
	expect 1 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" --store "$tmp/held-store" \
		backup test -o "$tmp/held-backups" --max-rate="$rate"
	grep -q "backups of test are held" <<<"$err" || fail "--max-rate=$rate: $err"
done
for rate in 0 65535 32K 8MB 1.5M -8M ""; do
	expect 2 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" --store "$tmp/held-store" \
		backup test -o "$tmp/held-backups" --max-rate="$rate"
	grep -q "bad value '$rate' for --max-rate" <<<"$err" || fail "--max-rate=$rate: $err"
done
expect 0 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" cancel test --release
# cancel needs libvirt only to look for a job a killed backup left:
# without it the cancel is done, a warning says what was not, exit 0; never
# an "error:" with exit status 0.
expect 0 "$VIRTCKPT" -c "qemu:///system?socket=$tmp/no-libvirtd" --rundir "$tmp/run" cancel vm
grep -q "^virtckpt: warning: cannot connect to libvirt.*was not looked for" <<<"$err" ||
	fail "cancel without libvirt: $err"
! grep -q "error" <<<"$err" || fail "cancel without libvirt said error and exited 0: $err"
[[ ! -e "$tmp/run/test.xml.hold" ]] || fail "--release left the hold"

expect 2 "$VIRTCKPT"
expect 2 "$VIRTCKPT" frobnicate
grep -q "unknown command 'frobnicate'" <<<"$err" || fail "$err"
expect 2 "$VIRTCKPT" --no-such-option checkpoints list
expect 2 "$VIRTCKPT" checkpoints
expect 2 "$VIRTCKPT" checkpoints frob
expect 2 "$VIRTCKPT" checkpoints capture
expect 2 "$VIRTCKPT" checkpoints capture a b
expect 2 "$VIRTCKPT" checkpoints capture ""
expect 2 "$VIRTCKPT" checkpoints list extra

# Reading a store that does not exist: an empty list, a clear error.
expect 0 "$VIRTCKPT" --store "$tmp/none" checkpoints list
[[ "$out" == "no domains stored" ]] || fail "list of a missing store printed: $out"
[[ ! -e "$tmp/none" ]] || fail "list created the store"
expect 4 "$VIRTCKPT" --store "$tmp/none" checkpoints show vm
grep -q "no checkpoints stored for 'vm'" <<<"$err" || fail "show: $err"
# A domain named like an option is a name after "--" (the OCF agent
# passes every domain so), for every command that takes one.
for dom in -x --help --force; do
	expect 4 "$VIRTCKPT" --store "$tmp/none" checkpoints show --names -- "$dom"
	grep -qF "no checkpoints stored for '$dom'" <<<"$err" || fail "show -- $dom: $err"
	expect 4 "$VIRTCKPT" --store "$tmp/none" checkpoints forget -- "$dom"
	expect 0 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" cancel --hold 5 -- "$dom"
	grep -qF "backups of $dom are held" <<<"$err" || fail "cancel -- $dom: $err"
	expect 0 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" cancel --release -- "$dom"
done
expect 4 "$VIRTCKPT" --store "$tmp/none" checkpoints show --names vm
[[ -z "$out" ]] || fail "show --names of nothing printed: $out"
expect 4 "$VIRTCKPT" --store "$tmp/none" checkpoints forget vm
expect 2 "$VIRTCKPT" --store "$tmp/none" checkpoints show --xml --names vm

# show --names: the stored names, one a line, parents first; exit status 3
# (and the reason as the error) when the chain is marked broken.
doc() { # DOMAIN [BROKEN-REASON]
	printf '<?xml version="1.0"?>\n<virtckpt-domain format="1">\n'
	printf '  <name>%s</name>\n  <version generation="1" node="0"/>\n  <updated>1700000000</updated>\n' "$1"
	[[ -z "${2:-}" ]] || printf '  <broken since="1700000000">%s</broken>\n' "$2"
	printf '  <checkpoints>\n'
	printf '    <checkpoint name="%s"%s created="1700000001">\n      <disk name="vda" checkpoint="bitmap" bitmap="b"/>\n      <xml>&lt;domaincheckpoint&gt;&lt;name&gt;%s&lt;/name&gt;%s&lt;/domaincheckpoint&gt;</xml>\n    </checkpoint>\n' \
		"c 1" "" "c 1" "" \
		"c&amp;2" ' parent="c 1"' "c&amp;amp;2" "&lt;parent&gt;&lt;name&gt;c 1&lt;/name&gt;&lt;/parent&gt;"
	printf '  </checkpoints>\n</virtckpt-domain>\n'
}
mkdir -m 0700 "$tmp/names"
doc vm1 >"$tmp/vm1.xml"
doc vm2 "bitmap c&amp;2 missing" >"$tmp/vm2.xml"
expect 0 "$VIRTCKPT" -q --store "$tmp/names" checkpoints import "$tmp/vm1.xml"
expect 0 "$VIRTCKPT" -q --store "$tmp/names" checkpoints import "$tmp/vm2.xml"
expect 0 "$VIRTCKPT" --store "$tmp/names" checkpoints show --names vm1
[[ "$out" == $'c 1\nc&2' ]] || fail "show --names: $out"
expect 3 "$VIRTCKPT" --store "$tmp/names" checkpoints show --names vm2
[[ "$out" == $'c 1\nc&2' ]] || fail "show --names of a broken chain: $out"
grep -q "error: the checkpoint chain of vm2 is broken (bitmap c&2 missing)" <<<"$err" ||
	fail "show --names of a broken chain: $err"
# list --check: exit 3 when a chain is broken, the list printed all the same.
expect 3 "$VIRTCKPT" --store "$tmp/names" checkpoints list --check
[[ "$(awk 'NR > 1 {print $1 "=" $4}' <<<"$out" | xargs)" == "vm1=ok vm2=broken" ]] ||
	fail "list --check: $out"
expect 0 "$VIRTCKPT" --store "$tmp/names" checkpoints list
expect 0 "$VIRTCKPT" --store "$tmp/names" checkpoints show vm2
expect 0 "$VIRTCKPT" -q --store "$tmp/names" checkpoints forget vm2
expect 4 "$VIRTCKPT" --store "$tmp/names" checkpoints show --names vm2

# A store path that is a file.
: >"$tmp/file"
expect 1 "$VIRTCKPT" --store "$tmp/file" checkpoints list
grep -q "cannot open checkpoint store $tmp/file: Not a directory" <<<"$err" || fail "$err"

# VIRTCKPT_STORE is honoured; --store wins over it.
mkdir -m 0700 "$tmp/s"
VIRTCKPT_STORE=$tmp/s expect 0 "$VIRTCKPT" -v checkpoints list
expect 0 env VIRTCKPT_STORE="$tmp/none" "$VIRTCKPT" --store "$tmp/s" -vv checkpoints list
grep -q "using the local store $tmp/s" <<<"$err" || fail "-vv did not name the store: $err"

# -q silences notices but not errors.
expect 4 "$VIRTCKPT" -q --store "$tmp/none" checkpoints show vm
[[ -n "$err" ]] || fail "-q silenced an error"
echo "PASS"

# An option a command does not take is a usage error, never ignored.
for words in "list --xml /tmp" "checkpoints list --level full" \
	"verify --no-progress /tmp" "backup -f vm -o /tmp/x" "status --force" \
	"restore --json /tmp -o /tmp/x" "cancel --json vm" "checkpoints capture --json vm" \
	"--json thaw vm" "checkpoints show --check vm" "list --check /tmp"; do
	# shellcheck disable=SC2086 # the words are the command line
	expect 2 "$VIRTCKPT" $words
	grep -q "does not take --" <<<"$err" || fail "'$words': $err"
done
