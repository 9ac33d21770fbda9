#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# An nbdkit sh plugin for tests/unit/test-nbd-map: a disk of SIZE bytes
# whose data lies in the ranges listed in the file RANGES ("offset length"
# a line, sorted, disjoint), all else holes.  Block status is answered for
# at most ANSWER bytes from the offset asked, as a server may; with
# FAIL_AT, refused (EIO) from that offset on.

case "$1" in
get_size)
	echo "$SIZE"
	;;
can_extents | can_multi_conn)
	exit 0
	;;
pread)
	head -c "$3" /dev/zero
	;;
extents)
	count=$3 offset=$4
	if [[ -n "${FAIL_AT:-}" ]] && ((offset >= FAIL_AT)); then
		echo "EIO block status refused at $offset (FAIL_AT)" >&2
		exit 1
	fi
	end=$((offset + count))
	((end <= offset + ANSWER)) || end=$((offset + ANSWER))
	((end <= SIZE)) || end=$SIZE
	pos=$offset
	while read -r a len; do
		b=$((a + len))
		((b > pos)) || continue
		((a < end)) || break
		((a >= pos)) || a=$pos
		((b <= end)) || b=$end
		((a == pos)) || echo "$pos $((a - pos)) hole,zero"
		echo "$a $((b - a))"
		pos=$b
	done <"$RANGES"
	((pos == end)) || echo "$pos $((end - pos)) hole,zero"
	;;
*)
	exit 2
	;;
esac
