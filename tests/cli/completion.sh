#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bash completion (bash-completion/virtckpt): the commands, subcommands and
# options offered are the ones virtckpt takes, values and domains where it
# knows them.  Drives _virtckpt as bash does, through COMP_WORDS and
# COMP_CWORD.  VIRTCKPT_COMPLETION names the script (default: the source
# tree's), VIRTCKPT the binary it completes.

set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${VIRTCKPT:=$here/../../helper/virtckpt}"
: "${VIRTCKPT_COMPLETION:=${abs_top_srcdir:-$here/../..}/bash-completion/virtckpt}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=../../bash-completion/virtckpt
. "$VIRTCKPT_COMPLETION"
[[ "$(complete -p virtckpt)" == "complete -F _virtckpt virtckpt" ]] ||
	fail "virtckpt is not completed by _virtckpt"

# offered WORD... : the candidates when the last WORD is being completed,
# sorted, space-separated, in $got.  With line=TEXT in the environment,
# TEXT is the command line bash split into the WORDs (COMP_LINE), else
# there is no COMP_LINE.
offered() {
	COMP_WORDS=("$VIRTCKPT" "$@")
	COMP_CWORD=$#
	unset COMP_LINE COMP_POINT
	if [[ -n ${line+set} ]]; then
		COMP_LINE="$VIRTCKPT $line"
		COMP_POINT=${#COMP_LINE}
	fi
	COMPREPLY=()
	_virtckpt || fail "_virtckpt failed on: $*"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | xargs)
}
# expect "CANDIDATES" WORD... : exactly these candidates.
expect() {
	local want=$1
	shift
	offered "$@"
	[[ "$got" == "$want" ]] || fail "'virtckpt $*<TAB>' offers [$got], not [$want]"
}
# has "CANDIDATES" WORD... : at least these; lacks: none of these.
has() {
	local w
	offered "${@:2}"
	for w in $1; do
		[[ " $got " == *" $w "* ]] || fail "'virtckpt ${*:2}<TAB>' lacks $w: [$got]"
	done
}
lacks() {
	local w
	offered "${@:2}"
	for w in $1; do
		[[ " $got " != *" $w "* ]] || fail "'virtckpt ${*:2}<TAB>' offers $w: [$got]"
	done
}

# Commands: every one virtckpt documents, and each one it offers is real.
has "backup cancel checkpoints list restore status verify" ""
for cmd in $got; do
	"$VIRTCKPT" "$cmd" --help >/dev/null || fail "offered command $cmd has no help"
done
expect "checkpoints" ch
has "capture forget import list redefine show" checkpoints ""
for sub in $got; do
	"$VIRTCKPT" checkpoints "$sub" --help >/dev/null ||
		fail "offered subcommand checkpoints $sub has no help"
done
expect "show" checkpoints sh

# Options: the global ones everywhere, each command's own only with it.
globals="--connect --help --quiet --store --verbose"
has "$globals --version" -
lacks "--xml --level --output --until" -
has "$globals --output --level --disk --exclude --checksum --connections --in-flight --request-size --max-rate --rundir --no-progress --offline --config" backup --
lacks "--xml --names --until --hold" backup --
has "$globals --xml --names" checkpoints show --
lacks "--level --output" checkpoints show --
has "--force" checkpoints capture --
has "--output --until --format --disk --no-verify" restore /x --
has "--grace --wait --hold --release" cancel vm --
has "--keep-last --keep-daily --keep-weekly --keep-monthly --dry-run --json" prune /x --
lacks "--keep-last --dry-run" list --
# --json and --check where the command takes them, and only there.
for words in "list" "verify" "status" "backup vm" "checkpoints list" "checkpoints show"; do
	# shellcheck disable=SC2086 # the words are the command line
	has "--json" $words --
done
for words in "thaw" "cancel vm" "restore /x" "checkpoints capture" "checkpoints forget"; do
	# shellcheck disable=SC2086 # the words are the command line
	lacks "--json --check" $words --
done
has "--check" checkpoints list --
lacks "--check" list --
expect "--wait-synced" status --wa
# The options were read from the help: each offered one is in the man page's
# sense an option of that command, i.e. named in its --help.
offered backup --
for o in $got; do
	[[ " $globals " == *" $o "* ]] && continue
	"$VIRTCKPT" backup --help | grep -q -- "$o" || fail "backup offers $o, not in its help"
done

# Values of options, with and without "=" split off by COMP_WORDBREAKS.
expect "auto copy diff full inc" backup vm --level ""
for level in auto copy diff full inc; do
	"$VIRTCKPT" backup --help | grep -q "$level" || fail "backup --help lacks level $level"
done
expect "inc" backup vm -l i
expect "--level=inc" backup vm --level=i
expect "inc" backup vm --level = i
expect "auto copy diff full inc" backup vm --level =
expect "qcow2 raw" restore /x --format ""
expect "sha256 xxh128" backup vm --checksum ""
# As bash splits at COMP_WORDBREAKS (= and :), with the line it split.
line="backup vm --level=i" expect "inc" backup vm --level = i
line="backup vm --level=" expect "auto copy diff full inc" backup vm --level =
line="backup vm --level i" expect "inc" backup vm --level i
line="-c qemu:" expect "///session ///system" -c qemu :
line="-c qemu:///sy" expect "///system" -c qemu : ///sy
line="--connect=qemu:///se" expect "///session" --connect = qemu : ///se
line="-c test:///default checkpoints " expect "capture forget import list redefine show" \
	-c test : ///default checkpoints ""
# An option's value is not taken for the command.
expect "" --connections 4
mkdir -p "$tmp/dirs/backups" "$tmp/dirs/beta"
touch "$tmp/dirs/bfile"
expect "$tmp/dirs/backups $tmp/dirs/beta" restore "$tmp/dirs/b"
expect "$tmp/dirs/backups $tmp/dirs/beta" prune "$tmp/dirs/b"
expect "$tmp/dirs/backups $tmp/dirs/beta" backup vm -o "$tmp/dirs/b"
expect "$tmp/dirs/backups $tmp/dirs/beta" --store = "$tmp/dirs/b"
expect "$tmp/dirs/backups $tmp/dirs/beta $tmp/dirs/bfile" checkpoints import "$tmp/dirs/b"
# After its one argument, a command takes options only.
expect "" verify "$tmp/dirs/backups" ""

# Stored domains for show and forget, from the store named on the line.
expect "" --store "$tmp/store" checkpoints show ""
"$VIRTCKPT" -q -c test:///default --store "$tmp/store" checkpoints capture test
expect "test" --store "$tmp/store" checkpoints show ""
expect "test" -s "$tmp/store" checkpoints forget t
# status DOMAIN...: every argument, and its options
expect "test" --store "$tmp/store" status ""
expect "test" --store "$tmp/store" status test ""
has "--domains --check --attribute --json" status --
expect "" --store "$tmp/store" checkpoints forget x
# backup also offers them: a stopped domain is backed up offline.
expect "test" -s "$tmp/store" backup t
expect "$tmp/dirs/bfile" backup vm --config "$tmp/dirs/bf"

# schedule: its subcommands, their options, values and domains.
has "list remove run set show" schedule ""
for sub in $got; do
	"$VIRTCKPT" schedule "$sub" --help >/dev/null ||
		fail "offered subcommand schedule $sub has no help"
done
has "--output --every --full-every --keep-last --keep-daily --keep-weekly --keep-monthly" \
	schedule set vm --
lacks "--json --level" schedule set vm --
has "--json" schedule show --
has "--json" schedule list --
lacks "--every --json" schedule remove --
expect "15m 1d 1h 1w 4h" schedule set vm --every ""
expect "4h" schedule set vm --full-every 4
expect "--every=15m" schedule set vm --every=15
expect "" schedule set vm --keep-last ""
expect "" --store "$tmp/sched" schedule show ""
"$VIRTCKPT" -q --store "$tmp/sched" schedule set web1 -o /b/web1 --every 15m
"$VIRTCKPT" -q --store "$tmp/sched" schedule set db -o /b/db --every 1d
expect "db web1" --store "$tmp/sched" schedule show ""
expect "web1" --store "$tmp/sched" schedule remove w
expect "db web1" --store "$tmp/sched" schedule run web1 ""
expect "" --store "$tmp/sched" schedule show web1 ""

# Domains libvirt runs, through the URI on the line (libvirt's test driver
# runs one domain, "test"), and its disks for --disk.
if command -v virsh >/dev/null; then
	for cmd in backup cancel "checkpoints capture" "checkpoints redefine"; do
		# shellcheck disable=SC2086  # the subcommand is a word of its own
		expect "test" -c test:///default $cmd ""
	done
	expect "test" --connect=test:///default backup t
	line="-c test:///default backup " expect "test" -c test : ///default backup ""
	expect "vda" -c test:///default backup test --disk ""
else
	echo "virsh not installed: domain names not checked" >&2
fi
echo PASS
