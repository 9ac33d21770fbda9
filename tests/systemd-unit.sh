#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The unit make installs is one systemd accepts: every @...@ substituted,
# ExecStart an absolute path to the daemon that was built.

set -eu -o pipefail
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
unit=$abs_top_builddir/systemd/virtckptd.service
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -f "$unit" ]] || fail "$unit was not built"
! grep -n '@[a-z_]*@' "$unit" || fail "unsubstituted variables in $unit"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[[ "$exec_start" == /*/virtckptd ]] || fail "ExecStart is '$exec_start'"

if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze not installed" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
fi
# verify checks that ExecStart exists: point it at the built daemon in a
# copy, so that the installed path need not exist yet.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=[^ ]*|ExecStart=$abs_top_builddir/helper/virtckptd|" "$unit" \
	>"$tmp/virtckptd.service"
# Units it names that this machine lacks (corosync, pacemaker) are not ours.
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	"$tmp/virtckptd.service" 2>&1) || fail "systemd-analyze verify: $out"
if grep -v 'corosync.service\|pacemaker.service' <<<"$out" | grep -q .; then
	fail "systemd-analyze verify: $out"
fi
echo PASS
