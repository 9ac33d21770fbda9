#!/bin/bash
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

expect 0 "$VIRTCKPT" --version
[[ "$out" =~ ^virtckpt\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version: $out"

for sub in capture redefine show list forget; do
	expect 0 "$VIRTCKPT" checkpoints "$sub" --help
	grep -q "^Usage: virtckpt \[OPTION\]... checkpoints $sub" <<<"$out" ||
		fail "checkpoints $sub --help: $out"
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
expect 0 "$VIRTCKPT" -c test:///default --rundir "$tmp/run" cancel test --release
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
[[ -z "$out" ]] || fail "list of a missing store printed: $out"
[[ ! -e "$tmp/none" ]] || fail "list created the store"
expect 1 "$VIRTCKPT" --store "$tmp/none" checkpoints show vm
grep -q "no checkpoints stored for 'vm'" <<<"$err" || fail "show: $err"

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
expect 1 "$VIRTCKPT" -q --store "$tmp/none" checkpoints show vm
[[ -n "$err" ]] || fail "-q silenced an error"
echo "PASS"
