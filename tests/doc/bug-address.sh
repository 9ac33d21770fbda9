#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One bug address: AC_INIT's (configure.ac) is PACKAGE_BUGREPORT, and
# every place that shows one shows that one: the last line of
# virtckpt --help and virtckptd --help, the BUGS section of each man page,
# README.md.  No other file names an address of its own.

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${VIRTCKPT:=$abs_top_builddir/helper/virtckpt}"
: "${VIRTCKPTD:=$(dirname "$VIRTCKPT")/virtckptd}"
failed=0
problem() { echo "FAIL: $*" >&2; failed=1; }

ac=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$abs_top_srcdir/configure.ac")
[[ -n "$ac" ]] || { echo "FAIL: no bug address in configure.ac's AC_INIT" >&2; exit 1; }
echo "AC_INIT's bug address: $ac"
h=$(sed -n 's/^#define PACKAGE_BUGREPORT "\(.*\)"$/\1/p' "$abs_top_builddir/config.h")
[[ "$h" == "$ac" ]] || problem "config.h's PACKAGE_BUGREPORT is '$h', not '$ac' (run configure again)"

want="Report bugs to: $ac"
for prog in "$VIRTCKPT" "$VIRTCKPTD"; do
	last=$("$prog" --help | tail -n 1)
	[[ "$last" == "$want" ]] || problem "${prog##*/} --help ends with '$last', not '$want'"
done

# A built page: in the build tree, else (a tarball) in the source tree.
page() {
	local f
	for f in "$abs_top_builddir/doc/$1" "$abs_top_srcdir/doc/$1"; do
		[[ -r "$f" ]] && { echo "$f"; return 0; }
	done
	return 1
}
for p in virtckpt.8 virtckptd.8 ocf_virtckpt_checkpoints.7 ocf_virtckpt_virtckptd.7; do
	f=$(page "$p") || { problem "doc/$p not built"; continue; }
	bugs=$(awk '/^\.SH/ { on = ($0 ~ /^\.SH +"?BUGS"?$/); next } on' "$f" |
		sed -e 's/\\f[BIRP]//g' -e 's/\\s[-+]\{0,1\}[0-9]//g' -e 's/\\-/-/g' -e 's/\\&//g')
	grep -qxF "$want" <<<"$bugs" || problem "$p's BUGS section is not '$want': $bugs"
done

grep -qxF "$want" "$abs_top_srcdir/README.md" || problem "README.md lacks the line '$want'"

# Any other "Report bugs to" in the sources must be the placeholder that
# is filled in from configure.
while IFS= read -r line; do
	[[ "$line" == *'@PACKAGE_BUGREPORT@'* || "$line" == *PACKAGE_BUGREPORT\)* ||
		"$line" == *"$want" || "$line" == tests/doc/* ]] ||
		problem "an address of its own: $line"
done < <(cd "$abs_top_srcdir" && git grep -n 'Report bugs to' 2>/dev/null ||
	grep -rn 'Report bugs to' README.md doc helper agent heartbeat 2>/dev/null || true)
echo "checked: --help of virtckpt and virtckptd, 4 man pages, README.md"
exit $failed
