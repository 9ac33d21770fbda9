#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every shell script of the project is shellcheck clean.
set -eu -o pipefail
cd "${abs_top_srcdir:-$(dirname "$0")/..}"
if ! command -v shellcheck >/dev/null; then
	echo "shellcheck not installed" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
fi
mapfile -t scripts < <(
	{ echo quickstart; echo .ci/run; echo agent/virtckpt-shellfuncs
	  echo bash-completion/virtckpt
	  find tests agent heartbeat tools -type f \( -name '*.sh' -o -perm -u+x \) 2>/dev/null; } |
	while read -r f; do
		[[ -f "$f" ]] && head -c 64 "$f" | grep -qE '^#!.*(ba)?sh|shellcheck shell=' && echo "$f"
	done | sort -u)
echo "checking ${#scripts[@]} scripts"
shellcheck -x "${scripts[@]}"
echo PASS
