#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# debian/control's Build-Depends and quickstart's packages agree: every
# build dependency is one quickstart installs (so CI can build the .debs),
# and every package of quickstart's "# build" group is a build dependency
# (build-essential is implied by Debian policy).

set -eu -o pipefail
cd "${abs_top_srcdir:-$(dirname "$0")/../..}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Names only: no versions, architectures or build profiles.
mapfile -t build_depends < <(
	sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | sed '$d' |
		sed 's/^Build-Depends://' | tr ',' '\n' |
		sed 's/[[(<].*//; s/[[:space:]]//g' | sed '/^$/d' | sort -u)
[[ ${#build_depends[@]} -gt 0 ]] || fail "no Build-Depends in debian/control"

# quickstart's PACKAGES=( ... ), and its "# build" group.
packages=$(sed -n '/^PACKAGES=(/,/^)/p' quickstart | sed '1d;$d')
mapfile -t all < <(grep -v '^[[:space:]]*#' <<<"$packages" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
mapfile -t group < <(awk '/^[[:space:]]*#/ { g = ($2 == "build") ; next } g' <<<"$packages" |
	tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
[[ ${#group[@]} -gt 0 ]] || fail "no '# build' group in quickstart's PACKAGES"

for p in "${build_depends[@]}"; do
	[[ "$p" == debhelper-compat ]] && p=debhelper
	[[ " ${all[*]} " == *" $p "* ]] || fail "Build-Depends has $p, which quickstart does not install"
done
for p in "${group[@]}"; do
	[[ "$p" == build-essential ]] && continue
	[[ " ${build_depends[*]} " == *" $p "* ]] || fail "quickstart builds with $p, not in Build-Depends"
done
echo "${#build_depends[@]} build dependencies, all in quickstart's ${#all[@]} packages"
