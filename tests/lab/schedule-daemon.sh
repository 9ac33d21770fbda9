#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckptd runs the schedules, in a 2-node corosync lab, the domain on n1:
#  - a schedule set on n2 (--every 20s --keep-last 2) is served on n1, where
#    the domain runs, once per window, window after window, and n2 runs
#    nothing; the schedule's retention prunes after each backup;
#  - while the domain's backups are held on n1 (virtckpt cancel --hold, as
#    the checkpoints agent does while Pacemaker moves it) the window is
#    deferred; released, it is caught up at once, in the same window;
#  - every kept point restores byte for byte;
#  - the schedule removed, no more backups.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 2
for n in n1 n2; do vc_daemon_start "$n"; done
vc_wait_synced n1 2
vc_wait_synced n2 2
vc_node_libvirtd_start n1
B="$VC_TMP/backups/vm"
mkdir -p "$VC_TMP/backups"
EVERY=20

ref_domain n1 vm a 32

# started SECONDS of backup ID in the manifest, empty when it is not there.
started_of() {
	[[ -f "$B/manifest.xml" ]] || return 0
	sed -n "s/.*<backup id=\"$1\" .*started=\"\([0-9]*\)\".*/\1/p" "$B/manifest.xml"
}
# wait_backup ID : until the manifest lists backup ID (two windows at most).
wait_backup() {
	local i
	for ((i = 0; i < (2 * EVERY + 20) * 5; i++)); do
		[[ -n "$(started_of "$1")" ]] && return 0
		sleep 0.2
	done
	vc_fail "no scheduled backup $1 within two windows: n1's log: $(grep -a schedule \
		"$VC_TMP/hosts/n1/log/virtckptd.log" | tail -n 20)"
}
# write_if_time ROUND : a guest write, unless the next window starts too
# soon for it to end before (the reference must be the disk at the backup).
write_if_time() {
	local left=$((EVERY - $(date +%s) % EVERY))
	if ((left >= 8)); then
		ref_write n1 vm vda a "0x$((40 + $1))" "$(($1 * 2))M" 1M
		vc_log "round $1: wrote 1 MiB at $(($1 * 2)) MiB"
	else
		vc_log "round $1: $left s left in the window: no write"
	fi
}

expect_exit 0 vnck n2 schedule set vm -o "$B" --every ${EVERY}s --keep-last 2
windows=()
for id in 1 2 3 4; do
	wait_backup "$id"
	ref_snapshot a "$id"
	windows+=($(($(started_of "$id") / EVERY)))
	write_if_time "$id"
done
vc_log "backups 1-4 in windows ${windows[*]}"
for i in 1 2 3; do
	vc_assert_eq "$((windows[0] + i))" "${windows[i]}" \
		"backup $((i + 1)) in the window after backup $i's"
done
grep -q "job schedule:1:[0-9]*: schedule of vm runs as pid" "$VC_TMP/hosts/n1/log/virtckptd.log" ||
	vc_fail "n1's virtckptd ran no scheduled job"
if grep -a "job schedule:" "$VC_TMP/hosts/n2/log/virtckptd.log"; then
	vc_fail "n2's virtckptd ran a scheduled job for a domain it does not run"
fi
status=$(vnck n1 status)
grep -q '^schedules: 1$' <<<"$status" || vc_fail "n1's status: $status"
runs=$(sed -n 's/^scheduled-runs: //p' <<<"$status")
((runs >= 4)) || vc_fail "n1's status counts $runs scheduled runs, for 4 backups"
vc_assert_eq "running" "$(vnck n2 status --json | jq -r .scheduler)" "n2's scheduler runs"
vc_assert_eq "0" "$(vnck n2 status --json | jq -r .scheduled_runs)" "n2 ran none"

# The retention ran after each backup: the last two are kept.
ids=$(sed -n 's/.*<backup id="\([0-9]*\)".*/\1/p' "$B/manifest.xml" | xargs)
vc_assert_eq "3 4" "$ids" "keep-last 2 kept backups 3 and 4"
for id in 3 4; do
	expect_exit 0 vnck n1 restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of scheduled backup $id"
done

# ---------------------------------------------------------------- held --
# Held from before the next window starts (this one is served) until 8 s
# into it: deferred, then caught up.
id=5
now=$(date +%s)
next=$((now - now % EVERY + EVERY))
if ((next - now < 4)); then
	# Too close to hold before it starts: that window serves backup 5.
	wait_backup 5
	ref_snapshot a 5
	id=6
	now=$(date +%s)
	next=$((now - now % EVERY + EVERY))
fi
sleep $((next - now - 3))
expect_exit 0 vnck n1 cancel --hold 600 vm
sleep $((next + 8 - $(date +%s)))
[[ -z "$(started_of "$id")" ]] || vc_fail "backup $id started while backups of vm were held"
grep -q "vm: due, but its backups are held on this host" "$VC_TMP/hosts/n1/log/virtckptd.log" ||
	vc_fail "n1 did not say why it deferred the window"
expect_exit 0 vnck n1 cancel --release vm
wait_backup "$id"
vc_assert_eq "$((next / EVERY))" "$(($(started_of "$id") / EVERY))" \
	"the held window was caught up once released, in the same window"
ref_snapshot a "$id"
expect_exit 0 vnck n2 restore "$B" -o "$VC_TMP/r$id" --until "$id"
assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/a.ref@$id" "restore of the caught-up backup"

# ---------------------------------------------------------------- removed --
expect_exit 0 vnck n1 schedule remove vm
sleep $((EVERY + 5))
[[ -z "$(started_of $((id + 1)))" ]] || vc_fail "a backup after the schedule was removed"
vc_assert_eq "0" "$(vnck n1 status --json | jq -r .schedules)" "no schedule left"
vc_log "ok: no backup once the schedule was removed"

# Under make memcheck-long, the daemons ran under valgrind.
for n in n1 n2; do
	vc_daemon_stop "$n"
	vc_daemon_memcheck "$n"
done
