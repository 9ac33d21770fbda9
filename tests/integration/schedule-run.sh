#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckpt schedule run, on a host without a cluster (what the
# virtckpt-schedule timer runs every minute): two domains are scheduled,
# one runs here.  The first run backs up the running one (full: no chain
# yet) and skips the other; a second run in the same window does nothing;
# once the window has passed, a run makes an incremental, which restores
# to exactly what the guest disk holds.  The backups' captures keep the
# schedule in the store document.  A due backup held off (cancel --hold,
# as the checkpoints agent holds backups while Pacemaker moves a domain)
# is deferred (exit 9), and the next run catches the window up; then the
# schedule's retention (--keep-last 2) prunes, and the kept points still
# restore exact.  A DOMAIN given without a schedule is an error.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")
# Short windows, long enough for a run and a restore (slower under
# valgrind: tests/integration/memcheck.sh).
EVERY=40
[[ "${VIRTCKPT_VALGRIND:-0}" != 1 ]] || EVERY=90

ref_domain "$H" vm a 16
expect_exit 0 vck "$H" schedule set vm -o "$B/vm" --every "${EVERY}s" --keep-last 2
expect_exit 0 vck "$H" schedule set gone -o "$B/gone" --every 1m

# room SECS : waits, if needed, for the next window, so that SECS seconds
# of the current one are left.
room() {
	local now left
	now=$(date +%s)
	left=$((EVERY - now % EVERY))
	if ((left < $1)); then
		vc_log "waiting ${left}s for the next ${EVERY}s window"
		sleep "$left"
	fi
}
# next_window : waits until the window after the one now is in.
next_window() {
	local now
	now=$(date +%s)
	sleep $((EVERY - now % EVERY))
}
# schedule_run CODE [DOMAIN]... : one run, its lines in $VC_OUT.
schedule_run() {
	local code=$1
	shift
	expect_exit "$code" vck "$H" "${RUN[@]}" schedule run "$@"
	vc_log "schedule run: $(tr '\n' '|' <<<"$VC_OUT")"
}
# count_backups : the backups in vm's directory.
count_backups() {
	if [[ -f "$B/vm/manifest.xml" ]]; then
		grep -c '<backup ' "$B/vm/manifest.xml"
	else
		echo 0
	fi
}

# First run: a full of the running domain; the other is skipped.
room $((EVERY * 3 / 4))
ref_write "$H" vm vda a 0x11 1M 1M
schedule_run 0
vc_assert_eq 2 "$(wc -l <<<"$VC_OUT")" "one line per scheduled domain"
vc_assert_eq "gone: not running on this host: skipped" "$(sed -n 1p <<<"$VC_OUT")" "the line of the domain not here"
vc_assert_eq "vm: backed up into $B/vm (backup 1, full)" "$(sed -n 2p <<<"$VC_OUT")" "the line of the first backup"
[[ ! -e "$B/gone" ]] || vc_fail "the domain not running here was backed up"
expect_exit 0 vck "$H" restore "$B/vm" -o "$VC_TMP/r1"
assert_same_disk "$VC_TMP/r1/vda.qcow2" "$VC_TMP/a.ref" "the scheduled full backup is exact"
ref_snapshot a 1
vc_log "ok: the first run backs up the running domain only, in full"

# The backup captured the chain: the document holds it and the schedule.
vck "$H" checkpoints show --xml vm >"$VC_TMP/doc.xml"
grep -q '<schedule every="'"$EVERY"'" keep-last="2" set="[0-9]*">' "$VC_TMP/doc.xml" ||
	vc_fail "the capture lost the schedule: $(cat "$VC_TMP/doc.xml")"
grep -q "<dir>$B/vm</dir>" "$VC_TMP/doc.xml" || vc_fail "the schedule's dir: $(cat "$VC_TMP/doc.xml")"
vc_assert_eq 1 "$(grep -c '<checkpoint name=' "$VC_TMP/doc.xml")" "checkpoints stored beside the schedule"
vc_log "ok: the capture after the backup keeps the schedule"

# Second run, same window: nothing, and when the next is due.
ref_write "$H" vm vda a 0x22 5M 64k
schedule_run 0 vm
window=$(($(date +%s) / EVERY * EVERY))
[[ "$VC_OUT" == "vm: nothing due until "* ]] || vc_fail "the second run in the window: $VC_OUT"
vc_assert_eq 1 "$(count_backups)" "no second backup in one window"
expect_exit 0 vck "$H" schedule show --json vm
python3 -c 'import json,sys; s=json.loads(sys.argv[1])["schedule"]; sys.exit(not (s["due"] is False and s["level"] is None and s["next_due"] == int(sys.argv[2])))' \
	"$VC_OUT" "$((window + EVERY))" || vc_fail "show --json in the served window: $VC_OUT"
vc_log "ok: a second run in the same window does nothing"

# The window passes: an incremental, exact.
next_window
schedule_run 0
vc_assert_eq "vm: backed up into $B/vm (backup 2, inc)" "$(sed -n 2p <<<"$VC_OUT")" "the run in the next window"
expect_exit 0 vck "$H" restore "$B/vm" -o "$VC_TMP/r2"
assert_same_disk "$VC_TMP/r2/vda.qcow2" "$VC_TMP/a.ref" "the scheduled incremental is exact"
ref_snapshot a 2
expect_exit 0 vck "$H" restore "$B/vm" -o "$VC_TMP/r1b" --until 1
assert_same_disk "$VC_TMP/r1b/vda.qcow2" "$VC_TMP/a.ref@1" "the full before it still restores"
vc_log "ok: the next window makes an incremental"

# A due backup held off is deferred (exit 9, said on its line); the next
# run catches the window up, then prunes to the last 2.
next_window
ref_write "$H" vm vda a 0x33 9M 128k
expect_exit 0 vck "$H" "${RUN[@]}" cancel vm --hold 600
schedule_run 9
grep -q "^vm: due, but its backups are held on this host for [0-9]* more s (the cluster is moving it): deferred\$" <<<"$VC_OUT" ||
	vc_fail "the deferred run: $VC_OUT"
vc_assert_eq 2 "$(count_backups)" "no backup while held"
expect_exit 0 vck "$H" "${RUN[@]}" cancel vm --release
schedule_run 0
vc_assert_eq "vm: backed up into $B/vm (backup 3, inc)" "$(sed -n 2p <<<"$VC_OUT")" "the run after the deferral"
vc_assert_eq 2 "$(count_backups)" "keep-last 2 pruned backup 1 after backup 3"
vc_assert_eq "2 3" "$(sed -n 's/.*<backup id="\([0-9]*\)".*/\1/p' "$B/vm/manifest.xml" | xargs)" \
	"the kept backups"
expect_exit 0 vck "$H" restore "$B/vm" -o "$VC_TMP/r3"
assert_same_disk "$VC_TMP/r3/vda.qcow2" "$VC_TMP/a.ref" "the caught-up incremental is exact"
expect_exit 0 vck "$H" restore "$B/vm" -o "$VC_TMP/r2b" --until 2
assert_same_disk "$VC_TMP/r2b/vda.qcow2" "$VC_TMP/a.ref@2" "backup 2, now the chain's first, is exact"
vc_log "ok: a held backup is deferred, the next run catches up and prunes"

# A domain given without a schedule: an error, the others still run.
schedule_run 1 nothing vm
grep -qx "nothing: no schedule" <<<"$VC_OUT" || vc_fail "a domain without a schedule: $VC_OUT"
grep -q "^vm: nothing due until " <<<"$VC_OUT" || vc_fail "the scheduled domain after it: $VC_OUT"
vc_log PASS
