#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# --help and virtckpt(8) tell the same story: every option the help of any
# command lists is in the man page, and where the help names a default,
# the man page's entry for that option names the same one.

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${VIRTCKPT:=$abs_top_srcdir/helper/virtckpt}"
pod=$abs_top_srcdir/doc/virtckpt.pod
failed=0
problem() { echo "FAIL: $*" >&2; failed=1; }

# Every help text: the main one, each command's, each subcommand's.
helps() {
	local cmd sub
	"$VIRTCKPT" --help
	for cmd in $("$VIRTCKPT" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p' | sort -u); do
		"$VIRTCKPT" "$cmd" --help
		if [[ "$cmd" == checkpoints || "$cmd" == schedule ]]; then
			for sub in $("$VIRTCKPT" "$cmd" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
				"$VIRTCKPT" "$cmd" "$sub" --help
			done
		fi
	done
}

# One line per option: "--name<TAB>its help text", continuation lines joined.
options() {
	awk '
	/^ +(-[A-Za-z], )?--[a-z]/ {
		if (opt != "") print opt "\t" text
		match($0, /--[a-z][a-z-]*/); opt = substr($0, RSTART, RLENGTH)
		text = $0; next }
	/^ {8,}[^ -]/ && opt != "" { text = text " " $0; next }
	{ if (opt != "") print opt "\t" text; opt = "" }
	END { if (opt != "") print opt "\t" text }'
}

# The paragraphs of every =item line that names B<--name>, markup removed.
pod_entry() {
	awk -v opt="B<$1>" '
	/^=(item|back|head)/ { on = index($0, opt) > 0 }
	on { print }' "$pod" | sed -e 's/[BCFI]<\([^<>]*\)>/\1/g' | tr '\n' ' '
}

# The default a help text names, if any.
help_default() {
	local t=$1
	if [[ "$t" =~ \(default:?\ ([^\),\;]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	elif [[ "$t" =~ ([A-Za-z0-9/.]+)\ \(default[\)\;] ]]; then
		echo "${BASH_REMATCH[1]}"
	fi
}

checked=0
while IFS=$'\t' read -r opt text; do
	checked=$((checked + 1))
	grep -qF "B<$opt>" "$pod" || { problem "$opt (in --help) is not in virtckpt(8)"; continue; }
	want=$(help_default "$text")
	[[ -n "$want" ]] || continue
	entry=$(pod_entry "$opt" | tr -s ' ')
	want=${want% }
	# The value as a whole word: "default 1" must not match "default 16".
	re=$(sed 's/[][\\.*^$/+?(){}|]/\\&/g' <<<"$want")
	grep -qE "(default:? (is )?)$re([^A-Za-z0-9]|\$)|(^|[^A-Za-z0-9])$re \((the )?default" <<<"$entry" ||
		problem "$opt: --help says the default is '$want'; virtckpt(8) says: $entry"
done < <(helps | options | sort -u -t $'\t' -k1,1)

[[ $checked -gt 10 ]] || problem "only $checked options found in --help"
echo "checked $checked options against virtckpt(8)"
exit $failed
