#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One store path: a build configured with --with-storedir=/srv/x (and
# --with-rundir=/srv/run-x) says /srv/x everywhere: virtckpt --help,
# virtckptd --help, both agents' meta-data defaults, the four man pages, the
# unit (ReadWritePaths=, as /srv is not /var/lib) and the tmpfiles.d entry
# (which then creates the store).  None of them may still say
# /var/lib/virtckpt or /run/virtckpt.  Built out of tree (VPATH) from a
# clean copy of the sources.

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
	echo "SKIP: $*" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
}
if ! command -v git >/dev/null || [[ ! -e "$abs_top_srcdir/.git" ]]; then
	skip "needs the git tree (a clean copy of the sources)"
fi
command -v xmllint >/dev/null || skip "xmllint not installed"

store=/srv/x rundir=/srv/run-x
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src" "$tmp/b"
git -C "$abs_top_srcdir" ls-files -z | (cd "$abs_top_srcdir" && xargs -0 cp --parents -t "$tmp/src")
(cd "$tmp/src" && autoreconf -fi) >"$tmp/autoreconf.log" 2>&1 ||
	fail "autoreconf: $(tail -n 5 "$tmp/autoreconf.log")"
cd "$tmp/b"
../src/configure -q --disable-werror --prefix=/opt/vc --with-ocfdir=/opt/vc/lib/ocf \
	--with-storedir=$store --with-rundir=$rundir >"$tmp/configure.log" 2>&1 ||
	fail "configure: $(tail -n 5 "$tmp/configure.log")"
made=(helper/virtckpt helper/virtckptd agent/virtckpt-shellfuncs
	systemd/virtckptd.service systemd/virtckpt.conf
	doc/virtckpt.8 doc/virtckptd.8
	doc/ocf_virtckpt_checkpoints.7 doc/ocf_virtckpt_virtckptd.7)
# The shipped man pages are older than the pods in a fresh copy only by
# chance: make them again.
rm -f doc/*.8 doc/*.7 "$tmp"/src/doc/*.8 "$tmp"/src/doc/*.7
make -s -j"$(nproc)" "${made[@]}" >"$tmp/make.log" 2>&1 ||
	fail "make: $(tail -n 20 "$tmp/make.log")"

# says WHAT TEXT NEEDLE: TEXT contains NEEDLE and no packaged default.
says() {
	grep -qF -- "$3" <<<"$2" || fail "$1 does not say $3: $2"
	! grep -n '/var/lib/virtckpt\|/run/virtckpt' <<<"$2" >&2 ||
		fail "$1 still names a packaged default"
	echo "$1: $3"
}
says "virtckpt --help" "$(./helper/virtckpt --help)" "(default: $store,"
says "virtckptd --help" "$(./helper/virtckptd --help)" "(default $store)"
says "virtckpt backup --help" "$(./helper/virtckpt backup --help)" "($rundir)"

mkdir -p "$tmp/ocf/lib/virtckpt"
cp agent/virtckpt-shellfuncs "$tmp/ocf/lib/virtckpt/"
meta=$(OCF_ROOT=$tmp/ocf bash ../src/heartbeat/virtckptd meta-data)
says "ocf:virtckpt:virtckptd store" \
	"$(xmllint --xpath "string(//parameter[@name='store']/content/@default)" - <<<"$meta")" "$store"
says "ocf:virtckpt:virtckptd binary" \
	"$(xmllint --xpath "string(//parameter[@name='binary']/content/@default)" - <<<"$meta")" "/opt/vc/sbin/virtckptd"
says "ocf:virtckpt:virtckptd meta-data" "$meta" "$store"
meta=$(OCF_ROOT=$tmp/ocf bash ../src/agent/checkpoints meta-data)
says "ocf:virtckpt:checkpoints virtckpt" \
	"$(xmllint --xpath "string(//parameter[@name='virtckpt']/content/@default)" - <<<"$meta")" "/opt/vc/sbin/virtckpt"
says "ocf:virtckpt:checkpoints meta-data" "$meta" "$store"

for page in doc/virtckpt.8 doc/virtckptd.8 doc/ocf_virtckpt_checkpoints.7 doc/ocf_virtckpt_virtckptd.7; do
	says "$page" "$(cat "$page")" "$store"
done
says "virtckpt(8)" "$(cat doc/virtckpt.8)" "$rundir"

says "virtckptd.service" "$(cat systemd/virtckptd.service)" "ReadWritePaths=$store"
! grep -n '^StateDirectory=' systemd/virtckptd.service ||
	fail "StateDirectory= for a store outside /var/lib"
says "tmpfiles.d" "$(cat systemd/virtckpt.conf)" "d $store 0700 root root -"
says "tmpfiles.d" "$(cat systemd/virtckpt.conf)" "d $rundir 0755 root root -"
echo PASS
