#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Every source file states its licence (COPYING: GPL-2.0-or-later) in an
# SPDX line, so that a file copied out of the tree still says it.

set -eu -o pipefail
cd "${abs_top_srcdir:-$(dirname "$0")/..}"

[[ -f COPYING ]] || { echo "FAIL: no COPYING" >&2; exit 1; }
mapfile -t files < <(
	{ printf '%s\n' configure.ac Makefile.am quickstart .ci/run \
		bash-completion/virtckpt debian/rules
	  find helper tests agent heartbeat tools systemd doc -type f \
		\( -name '*.[ch]' -o -name '*.sh' -o -name '*.in' -o -name '*.pod' \
		   -o -perm -u+x -o -name '*shellfuncs' \) ! -type l 2>/dev/null; } |
	while read -r f; do
		# Built files (objects, programs, generated pages) are not sources.
		case "$f" in *.o|*.a|*.[0-9]|*.log|*.trs) continue ;; esac
		[[ -f "$f" ]] && grep -Iq . "$f" && echo "$f"
	done | sort -u)
missing=()
for f in "${files[@]}"; do
	head -n 5 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' ||
		missing+=("$f")
done
# The Debian package says so too (debian/copyright, DEP-5).
if [[ -f debian/copyright ]] &&
	! grep -qx 'License: GPL-2.0-or-later' debian/copyright; then
	missing+=("debian/copyright (no License: GPL-2.0-or-later)")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	printf 'FAIL: no SPDX line in %s\n' "${missing[@]}" >&2
	exit 1
fi
echo "${#files[@]} source files carry the SPDX line"
