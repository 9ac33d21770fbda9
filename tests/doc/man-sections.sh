#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The man pages have what an admin looks for: NAME, ENVIRONMENT, FILES,
# BUGS and SEE ALSO in each; every environment variable the C code reads
# (getenv in helper/) is described in the ENVIRONMENT section of
# virtckpt(8) or virtckptd(8), test-only hooks included (as such); and
# "apropos backup" finds virtckpt, from the NAME line as man-db indexes it
# (lexgrog, and a private mandb index).

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
failed=0
problem() { echo "FAIL: $*" >&2; failed=1; }

# A built page: in the build tree, else (a tarball) in the source tree.
page() {
	local f
	for f in "$abs_top_builddir/doc/$1" "$abs_top_srcdir/doc/$1"; do
		[[ -r "$f" ]] && { echo "$f"; return 0; }
	done
	echo "FAIL: doc/$1 not built" >&2
	exit 1
}
# The text of section $2 of page $1 (roff: from its .SH to the next).
section() {
	awk -v want="$2" '
	/^\.SH/ { t = $0; sub(/^\.SH +/, "", t); gsub(/"/, "", t); on = (t == want); next }
	on { print }' "$1"
}

pages=(virtckpt.8 virtckptd.8 ocf_virtckpt_checkpoints.7 ocf_virtckpt_virtckptd.7)
for p in "${pages[@]}"; do
	f=$(page "$p")
	for s in NAME ENVIRONMENT FILES BUGS "SEE ALSO"; do
		[[ -n "$(section "$f" "$s")" ]] || problem "$p has no (or an empty) $s section"
	done
done

# Every getenv("NAME") in helper/.
mapfile -t vars < <(grep -rhoE 'getenv \("[A-Za-z_][A-Za-z0-9_]*"\)' \
	"$abs_top_srcdir"/helper --include='*.c' | sed 's/.*"\(.*\)".*/\1/' | sort -u)
((${#vars[@]} >= 5)) || problem "only ${#vars[@]} getenv() names found in helper/: the pattern is stale"
env_text=$(section "$(page virtckpt.8)" ENVIRONMENT; section "$(page virtckptd.8)" ENVIRONMENT)
for v in "${vars[@]}"; do
	# pod2man writes an item as .IP "\fB\s-1NAME\s0\fR" (small caps for
	# all-capitals words): compare with the roff escapes removed.
	grep -q "\b$v\b" <<<"$(sed -e 's/\\s[-+]\{0,1\}[0-9]//g' -e 's/\\f[BIRP]//g' -e 's/\\_/_/g' <<<"$env_text")" ||
		problem "$v (read by $(grep -rlE "getenv \(\"$v\"\)" "$abs_top_srcdir"/helper --include='*.c' | sed "s|$abs_top_srcdir/||" | tr '\n' ' ')) is not in the ENVIRONMENT section of virtckpt(8) or virtckptd(8)"
done
echo "checked ${#vars[@]} environment variables: ${vars[*]}"

# apropos backup: the NAME line as man-db reads it.
command -v lexgrog >/dev/null || { problem "lexgrog not found (Debian package man-db)"; exit 1; }
name=$(lexgrog "$(page virtckpt.8)") || problem "lexgrog cannot parse virtckpt.8: $name"
echo "$name"
[[ "$name" == *'"virtckpt - '*backup* ]] || problem "virtckpt(8)'s NAME description lacks the word backup: $name"
if command -v mandb >/dev/null && command -v apropos >/dev/null; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/man-sections.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/man/man7" "$tmp/man/man8"
	for p in "${pages[@]}"; do cp "$(page "$p")" "$tmp/man/man${p##*.}/"; done
	mandb -q -c "$tmp/man" >/dev/null 2>&1 || problem "mandb failed on the pages"
	found=$(MANPATH=$tmp/man apropos backup 2>/dev/null || true)
	echo "apropos backup: $found"
	grep -q '^virtckpt (8)' <<<"$found" || problem "apropos backup does not find virtckpt(8)"
fi
exit $failed
