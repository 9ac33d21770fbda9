#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How the agents find virtckpt and virtckptd without a parameter: the
# default is the configured sbindir's program; when that is missing (the
# agents installed apart from the programs) the name is looked up in PATH;
# any other path that is missing stays missing (validate-all says so).

set -eu -o pipefail
: "${abs_top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/sbin" "$tmp/path"
printf '#!/bin/sh\n' >"$tmp/sbin/virtckpt"
printf '#!/bin/sh\n' >"$tmp/path/virtckpt"
printf '#!/bin/sh\n' >"$tmp/path/virtckptd"
chmod +x "$tmp/sbin/virtckpt" "$tmp/path/virtckpt" "$tmp/path/virtckptd"

# find PROGRAM: what vc_find_program prints with VC_SBINDIR=$tmp/sbin.
find() {
	OCF_ROOT=$tmp/none PATH=$tmp/path:/usr/bin:/bin bash -c '
		. "$1" meta-data >/dev/null
		VC_SBINDIR=$2
		vc_find_program "$3"' sh "$abs_top_builddir/agent/virtckpt-shellfuncs" "$tmp/sbin" "$1"
}
[[ $(find "$tmp/sbin/virtckpt") == "$tmp/sbin/virtckpt" ]] ||
	fail "the configured virtckpt is not used first"
[[ $(find "$tmp/sbin/virtckptd") == "$tmp/path/virtckptd" ]] ||
	fail "a missing configured virtckptd is not looked up in PATH"
[[ $(find virtckpt) == "$tmp/path/virtckpt" ]] || fail "a name is not looked up in PATH"
! find /nonexistent/virtckpt >/dev/null || fail "a missing path other than the default was found"
! find "$tmp/sbin/nothing" >/dev/null || fail "a program in no place was found"
echo PASS
