#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The agents act on virtckpt's exit codes, never on its messages: the
# codes their shell library names are the ones helper/common/exit-codes.h
# gives, and virtckpt(8) documents every one.

set -eu -o pipefail
cd "${abs_top_srcdir:-$(dirname "$0")/../..}"

fail=0
declare -A c_code=()
while read -r name value; do
	c_code[$name]=$value
done < <(sed -n 's/^ *\(VC_EXIT_[A-Z_]*\) = \([0-9]*\),.*/\1 \2/p' helper/common/exit-codes.h)
[[ ${#c_code[@]} -ge 10 ]] || { echo "FAIL: read only ${#c_code[@]} codes from exit-codes.h" >&2; exit 1; }

declare -A sh_code=()
while read -r name value; do
	sh_code[$name]=$value
done < <(sed -n 's/^\t\(VC_EXIT_[A-Z_]*\)=\([0-9]*\).*/\1 \2/p' agent/virtckpt-shellfuncs.in)

for name in "${!c_code[@]}"; do
	if [[ "${sh_code[$name]-}" != "${c_code[$name]}" ]]; then
		echo "FAIL: $name is ${c_code[$name]} in exit-codes.h, '${sh_code[$name]-}' in agent/virtckpt-shellfuncs.in" >&2
		fail=1
	fi
	grep -q "^=item B<${c_code[$name]}>" doc/virtckpt.pod ||
		{ echo "FAIL: virtckpt(8) EXIT STATUS does not document ${c_code[$name]} ($name)" >&2; fail=1; }
done
for name in "${!sh_code[@]}"; do
	[[ -n "${c_code[$name]-}" ]] ||
		{ echo "FAIL: agent/virtckpt-shellfuncs.in names $name, which exit-codes.h does not have" >&2; fail=1; }
done
echo "checked ${#c_code[@]} exit codes"
exit $fail
