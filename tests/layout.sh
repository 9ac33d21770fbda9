#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The map at the top of doc/design.md stays true: every folder of helper/
# is in it, and each file includes only its own folder's headers and those
# of the folders the map says it may use.  The rows look like
#   | `helper/store/` | concern | `common` |

set -eu -o pipefail
cd "${abs_top_srcdir:-$(dirname "$0")/..}"

fail=0
problem() { echo "FAIL: $*" >&2; fail=1; }

declare -A may_use=()
while IFS='|' read -r _ folder _ uses _; do
	folder=$(tr -d ' `' <<<"$folder")
	[[ "$folder" =~ ^helper/([a-z]+)/$ ]] || continue
	name=${BASH_REMATCH[1]}
	may_use[$name]=" $(tr -d '`,' <<<"$uses" | tr -s ' ') "
done < <(sed -n '/^## Map/,/^## /p' doc/design.md)

[[ ${#may_use[@]} -gt 0 ]] || { echo "FAIL: no map in doc/design.md" >&2; exit 1; }

for dir in helper/*/; do
	name=$(basename "$dir")
	[[ -n "${may_use[$name]+set}" ]] ||
		problem "helper/$name/ is not in doc/design.md's map"
done
for name in "${!may_use[@]}"; do
	[[ -d "helper/$name" ]] ||
		problem "doc/design.md's map names helper/$name/, which does not exist"
done

checked=0
for name in "${!may_use[@]}"; do
	[[ -d "helper/$name" ]] || continue
	for file in "helper/$name"/*.[ch]; do
		checked=$((checked + 1))
		while read -r target; do
			[[ "$target" == */* ]] ||
				problem "$file includes \"$target\" without its folder"
			used=${target%%/*}
			[[ "$used" == "$name" || "${may_use[$name]}" == *" $used "* ]] ||
				problem "$file (helper/$name/) includes $target, but the map lets $name use only:${may_use[$name]}"
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
	done
done

[[ $checked -gt 0 ]] || problem "no source files checked"
echo "checked $checked files against the map of ${#may_use[@]} folders"
exit $fail
