#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The unit make installs is one systemd accepts: every @...@ substituted,
# ExecStart an absolute path to the daemon that was built, the store it
# passes the one it may write (StateDirectory= or ReadWritePaths=), no
# RuntimeDirectory= (a restart would remove a running backup's sockets and
# locks).  The tmpfiles.d entry creates the runtime directory as virtckpt
# wants it: root's, mode 0755.

set -eu -o pipefail
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
unit=$abs_top_builddir/systemd/virtckptd.service
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -f "$unit" ]] || fail "$unit was not built"
! grep -n '@[a-z_]*@' "$unit" || fail "unsubstituted variables in $unit"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
[[ "$exec_start" == /*/virtckptd ]] || fail "ExecStart is '$exec_start'"
store=$(sed -n 's/^ExecStart=.* -s \([^ ]*\).*/\1/p' "$unit")
[[ "$store" == /* ]] || fail "ExecStart passes no store: $(grep ExecStart= "$unit")"
case $store in
/var/lib/?*)
	grep -qx "StateDirectory=${store#/var/lib/}" "$unit" ||
		fail "no StateDirectory= for the store $store" ;;
*)
	grep -qx "ReadWritePaths=$store" "$unit" ||
		fail "no ReadWritePaths= for the store $store" ;;
esac
# full, not strict: the backups the daemon runs as children write backup
# directories anywhere (virtckptd(8), "Leases and jobs").
grep -q '^ProtectSystem=full$' "$unit" || fail "ProtectSystem= is not full"
! grep -n '^RuntimeDirectory' "$unit" || fail "the unit owns the runtime directory"

if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze not installed" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The runtime directory the CLI uses, from the installed tmpfiles.d entry.
conf=$abs_top_builddir/systemd/virtckpt.conf
[[ -f "$conf" ]] || fail "$conf was not built"
! grep -n '@[a-z_]*@' "$conf" || fail "unsubstituted variables in $conf"
rundir=$(sed -n 's/^d \(\/[^ ]*\) .*/\1/p' "$conf" | head -n 1)
[[ "$rundir" == /* ]] || fail "no runtime directory in $conf"
if command -v systemd-tmpfiles >/dev/null; then
	mkdir -p "$tmp/root/usr/lib/tmpfiles.d"
	cp "$conf" "$tmp/root/usr/lib/tmpfiles.d/virtckpt.conf"
	systemd-tmpfiles --create --root="$tmp/root" virtckpt.conf ||
		fail "systemd-tmpfiles --create failed on $conf"
	got=$(stat -c '%F %a %U:%G' "$tmp/root$rundir")
	[[ "$got" == "directory 755 root:root" ]] ||
		fail "tmpfiles.d made $rundir: $got"
	# A store outside /var/lib exists before the unit starts, mode 0700.
	if [[ "$store" != /var/lib/?* ]]; then
		got=$(stat -c '%F %a %U:%G' "$tmp/root$store")
		[[ "$got" == "directory 700 root:root" ]] ||
			fail "tmpfiles.d made $store: $got"
	fi
fi

# verify checks that ExecStart exists: point it at the built daemon in a
# copy, so that the installed path need not exist yet.
sed "s|^ExecStart=[^ ]*|ExecStart=$abs_top_builddir/helper/virtckptd|" "$unit" \
	>"$tmp/virtckptd.service"
# Units it names that this machine lacks (corosync, pacemaker) are not ours.
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	"$tmp/virtckptd.service" 2>&1) || fail "systemd-analyze verify: $out"
if grep -v 'corosync.service\|pacemaker.service' <<<"$out" | grep -q .; then
	fail "systemd-analyze verify: $out"
fi

# Scheduled backups without a cluster: the timer starts the service every
# minute, persistently; the service runs the built virtckpt's schedule run.
sunit=$abs_top_builddir/systemd/virtckpt-schedule.service
timer=$abs_top_srcdir/systemd/virtckpt-schedule.timer
[[ -f "$sunit" ]] || fail "$sunit was not built"
! grep -n '@[a-z_]*@' "$sunit" || fail "unsubstituted variables in $sunit"
grep -qx 'ExecStart=/.*/virtckpt schedule run' "$sunit" ||
	fail "ExecStart is $(grep ExecStart= "$sunit")"
grep -qx 'Type=oneshot' "$sunit" || fail "the schedule service is not a oneshot"
grep -qx 'OnCalendar=\*-\*-\* \*:\*:00' "$timer" || fail "the timer is not every minute"
grep -qx 'Persistent=true' "$timer" || fail "the timer is not persistent"
[[ "$(systemd-analyze calendar --iterations=2 '*-*-* *:*:00' 2>/dev/null |
	sed -n 's/.*Next elapse: .*:\([0-9][0-9]\) .*/\1/p' | sort -u)" == 00 ]] ||
	fail "OnCalendar does not elapse on whole minutes"
sed "s|^ExecStart=[^ ]*|ExecStart=$abs_top_builddir/helper/virtckpt|" "$sunit" \
	>"$tmp/virtckpt-schedule.service"
cp "$timer" "$tmp/virtckpt-schedule.timer"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	"$tmp/virtckpt-schedule.timer" "$tmp/virtckpt-schedule.service" 2>&1) ||
	fail "systemd-analyze verify of the schedule units: $out"
if grep -v 'libvirtd.service\|virtqemud.service' <<<"$out" | grep -q .; then
	fail "systemd-analyze verify of the schedule units: $out"
fi
echo PASS
