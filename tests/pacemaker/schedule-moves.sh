#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup schedule follows the VM (issue 12): virtckptd on the node where
# the domain runs makes one backup per window, wherever Pacemaker moves it,
# and catches up the window a crash made it miss.
#
# A 3-node cluster runs vm7 (256 MiB disk, no guest OS: the disk changes
# only when the test writes) on n1 with "schedule set vm7 --every 20s".
# The windows are the multiples of 20 s since the epoch; a window is
# served by a backup whose "started" (manifest) is in it.  The guest
# writes only once the current window is served, at least 5 s before it
# ends: no backup runs then, so each backup's reference is the disk as the
# test left it.
#  - Moves: vm7 live-migrates n1 -> n2 -> n3, then moves by stop and start
#    n3 -> n1 -> n2 (allow-migrate=false), each move started 1.5 s before
#    a window ends: the next window begins while vm7 moves, and the target
#    must catch it up once vm7 runs there.
#  - A slow backup: on n3, after a 128 MiB write, the next scheduled
#    backup is stopped (SIGSTOP) while it copies until the following
#    window has begun: it serves its own window, and the window in which
#    it ended must be served too.
#  - Crash: on n2, after a 128 MiB write, n2 crashes (vc_node_crash) while
#    the next window's backup copies (held there by SIGSTOP).
#    Pacemaker restarts vm7 on a survivor, which must back it up at once
#    (within 14 s), not at the next window; then once more, after a write.
#    Then "schedule remove": no backup in the next window.
# Asserted on the backup directory's manifest and the nodes' logs:
#  - no window holds two backups;
#  - each backup was made (its virtckptd says "schedule: vm7: backed up
#    into ... (backup ID, LEVEL)") by exactly one node: the one where vm7
#    ran when the backup started (either end of a move in progress); the
#    store's last-backup record names the same node on every node;
#  - no window is skipped while vm7 runs on one node: a window in which
#    vm7 ran settled on one node for 14 s (a scheduler tick is 5 s, and
#    the machine is loaded) has a backup; only moves and the crash excuse
#    one;
#  - every backup restores to the disk as it was then, byte for byte.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

EVERY=20
SERVE_SECS=14
DOM=vm7

vc_pcmk_lab 3
vc_vm_setup "$DOM" 256 n1
B=$VC_BACKUPS
TL=$VC_TMP/timeline # seg/move/crash lines, for the final check
: >"$TL"
LAST_ID=0
LAST_STARTED=0

# take_new : the reference under tag ID for each backup ID committed since
# LAST_ID: the disk as it is now, since the test writes only while the
# window of the last backup it saw runs (write_when_safe).
take_new() {
	local id started level
	while read -r id started level; do
		((id > LAST_ID)) || continue
		ref_snapshot "$DOM" "$id"
		LAST_ID=$id
		LAST_STARTED=$started
		vc_log "backup $id ($level) committed, started in window $((started / EVERY)) (+$((started % EVERY)) s)"
	done < <(backup_times "$B")
}

# next_backup [TIMEOUT] : until a backup after LAST_ID has committed.
next_backup() {
	local timeout=${1:-60} t0=$SECONDS prev=$LAST_ID
	while :; do
		take_new
		((LAST_ID == prev)) || return 0
		((SECONDS - t0 < timeout)) ||
			vc_fail "no scheduled backup of $DOM committed in ${timeout}s after backup $prev"
		sleep 0.5
	done
}

# backup_node ID : the node that made backup ID, from the daemons' logs
# (a few seconds: the daemon logs the line once "schedule run" prints it).
backup_node() {
	local i nodes
	for ((i = 0; i < 20; i++)); do
		nodes=$(vc_sched_nodes "$DOM" "$1" | xargs)
		[[ -z "$nodes" ]] || break
		sleep 0.5
	done
	[[ -n "$nodes" && "$nodes" != *" "* ]] ||
		vc_fail "backup $1: made by '${nodes}' according to the virtckptd logs, not by one node"
	printf '%s\n' "$nodes"
}

# backup_on NODE : until a backup made by NODE has committed.
backup_on() {
	local by
	while :; do
		next_backup 60
		by=$(backup_node "$LAST_ID")
		[[ "$by" != "$1" ]] || return 0
		vc_log "backup $LAST_ID was made on $by, waiting for one on $1"
	done
}

# write_when_safe NODE PATTERN OFFSET LENGTH : a guest write, once the
# current window is served (by the last backup seen) with 5 s left: no
# backup runs then, and none starts before the next window.
write_when_safe() {
	local t
	while :; do
		t=${EPOCHREALTIME%.*}
		if ((LAST_STARTED / EVERY == t / EVERY && t % EVERY <= EVERY - 5)); then
			ref_write "$1" "$DOM" vda "$DOM" "$2" "$3" "$4"
			t=${EPOCHREALTIME%.*}
			((LAST_STARTED / EVERY == t / EVERY)) ||
				vc_fail "the write of $4 at $3 ran into the next window: the references are unsure"
			vc_log "wrote $4 at $3 on $1"
			return 0
		fi
		next_backup 60
	done
}

SEG_NODE=""
SEG_T0=""
seg_begin() {
	SEG_NODE=$1
	SEG_T0=${2:-$EPOCHREALTIME}
}
seg_end() {
	printf 'seg %s %s %s\n' "$SEG_NODE" "$SEG_T0" "${1:-$EPOCHREALTIME}" >>"$TL"
}

# sleep_until T : until EPOCHREALTIME T (now if past).
sleep_until() {
	local d
	d=$(awk -v t="$1" -v n="$EPOCHREALTIME" 'BEGIN { if (t > n) printf "%.2f", t - n; else print 0 }')
	sleep "$d"
}

# move_at_boundary TO KIND : vc_vm_move to TO, 1.5 s before the current
# window ends, so that the next window starts while the VM moves: neither
# node can serve it then, TO must catch it up once the VM is there.
move_at_boundary() {
	local to=$1 kind=$2 from=$SEG_NODE uuid t0 t1
	uuid=$(vc_virsh "$from" domuuid "$DOM")
	sleep_until "$(((${EPOCHREALTIME%.*} / EVERY + 1) * EVERY - 2)).5"
	seg_end
	t0=$EPOCHREALTIME
	vc_vm_move "$DOM" "$to"
	t1=$EPOCHREALTIME
	printf 'move %s %s %s %s\n' "$from" "$to" "$t0" "$t1" >>"$TL"
	vc_log "$DOM moved $from -> $to at +$(awk -v t="$t0" -v e="$EVERY" 'BEGIN { printf "%.1f", t - int(t / e) * e }')s of window $((${t0%.*} / EVERY))"
	case $kind in
	live)
		vc_assert_eq "running (migrated) $uuid" \
			"$(vc_virsh "$to" domstate --reason "$DOM") $(vc_virsh "$to" domuuid "$DOM")" \
			"$DOM live-migrated $from -> $to"
		;;
	restart)
		vc_assert_eq "running (booted)" "$(vc_virsh "$to" domstate --reason "$DOM")" \
			"$DOM stopped on $from and started on $to"
		;;
	esac
	seg_begin "$to" "$t1"
}

# --- the schedule, on n1 -----------------------------------------------------
expect_exit 0 vnck n2 schedule set "$DOM" -o "$B" --every "${EVERY}s"
t_set=$EPOCHREALTIME
seg_begin n1 "$t_set"
vc_log "schedule set on n2: ${VC_ERR#virtckpt: notice: }"
backup_on n1
vc_assert_eq "1 full" "$LAST_ID $(backup_times "$B" | awk '$1 == 1 { print $3 }')" \
	"the first scheduled backup, on n1, is full"
write_when_safe n1 0x11 1M 1M

# --- two live migrations ---------------------------------------------------
move_at_boundary n2 live
backup_on n2
write_when_safe n2 0x12 6M 1M
move_at_boundary n3 live
backup_on n3

# --- a slow backup on n3: it ends in the next window, served all the same --
# 128 MiB written: the incremental is caught while it copies, and stopped
# (SIGSTOP) until the next window has begun.
write_when_safe n3 0x13 64M 128M
wait_sched_backup "$B" "$DOM" 30 || vc_fail "caught no scheduled backup of $DOM running on n3"
suspend_backup
slow_w=$((${EPOCHREALTIME%.*} / EVERY))
[[ "$(ps -o stat= -p "$BACKUP_PID" 2>/dev/null | tr -d ' ')" == T* ]] ||
	vc_fail "the backup of window $slow_w ended before it could be stopped: not testing a slow backup"
vc_log "the backup of window $slow_w (pid $BACKUP_PID) stopped until window $((slow_w + 1)) has begun"
sleep_until "$(((slow_w + 1) * EVERY + 3))"
resume_backup
next_backup 60
vc_assert_eq "$slow_w" "$((LAST_STARTED / EVERY))" "the slow backup ($LAST_ID) started in window $slow_w"
backup_on n3
slow_next=$LAST_STARTED
vc_log "after the slow backup (ended in window $((slow_w + 1))), backup $LAST_ID started in window $((slow_next / EVERY))"
write_when_safe n3 0x14 9M 1M

# --- two moves by stop and start ---------------------------------------------
vc_rsc_meta "$DOM" allow-migrate false
vc_wait_idle
move_at_boundary n1 restart
backup_on n1
write_when_safe n1 0x15 12M 1M
move_at_boundary n2 restart
backup_on n2
# Before the crash: an incremental that takes a while.
write_when_safe n2 0x16 64M 128M

# --- n2 crashes when it starts the next backup ----------------------------
ref_snapshot "$DOM" crash
crash_id=$LAST_ID
n2_id=$(vc_node_id n2)
vc_wait_lease n1 "$DOM" "$n2_id" 30
vc_log "n2 (node $n2_id) holds the lease of $DOM: its next scheduled backup starts"
# Stopped while it copies: a 128 MiB incremental may commit in less time
# than it takes to see the lease and kill a node.
wait_sched_backup "$B" "$DOM" 30 || vc_fail "caught no scheduled backup of $DOM running on n2"
suspend_backup
[[ "$(ps -o stat= -p "$BACKUP_PID" 2>/dev/null | tr -d ' ')" == T* ]] ||
	vc_fail "the backup on n2 ended before it could be stopped: not testing a missed window"
vc_log "n2's backup (pid $BACKUP_PID) stopped while it copies"
vc_node_crash n2 "$DOM"
t_crash=$VC_CRASH_T0
# A crash takes the backup with it.
kill -KILL "$BACKUP_PID"
BACKUP_PID=""
seg_end "$t_crash"
vc_wait_running_off n2 "$DOM" "$DOM-ckpt"
t_restart=$EPOCHREALTIME
surv=$VC_VM_NODE
printf 'crash n2 %s %s %s\n' "$surv" "$t_crash" "$t_restart" >>"$TL"
vc_log "TIMING $DOM runs on $surv $(vc_elapsed "$t_crash")s after n2 crashed"
seg_begin "$surv" "$t_restart"
take_new
((LAST_ID == crash_id)) ||
	vc_fail "backup $LAST_ID committed after n2 took the lease and before the crash: not testing a missed window"
next_backup 90
catch_id=$LAST_ID
vc_assert_eq "$surv" "$(backup_node "$catch_id")" "the first backup after the crash, $catch_id, was made on $surv"
catch_started=$LAST_STARTED
vc_log "catch-up: backup $catch_id on $surv started $(awk -v a="$t_restart" -v b="$catch_started" \
	'BEGIN { printf "%.1f", b - a }')s after $DOM was seen running there (window $((catch_started / EVERY)), n2 crashed in window $((${t_crash%.*} / EVERY)))"
((catch_started >= ${t_crash%.*} && catch_started <= ${t_restart%.*} + SERVE_SECS)) ||
	vc_fail "backup $catch_id started at $catch_started: not at once after the restart on $surv at $t_restart"
# And the next window, an incremental.
write_when_safe "$surv" 0x17 200M 1M
backup_on "$surv"
# No backup after the schedule is gone (checked at the end).
expect_exit 0 vnck n3 schedule remove "$DOM"
seg_end
t_end=$EPOCHREALTIME

# --- every backup: node, window, restore ---------------------------------
: >"$VC_TMP/backups"
while read -r id started level; do
	by=$(backup_node "$id")
	printf 'b %s %s %s %s\n' "$id" "$started" "$level" "$by" >>"$VC_TMP/backups"
done < <(backup_times "$B")
last=$(vc_last_backup "$surv" "$DOM")
vc_assert_eq "$LAST_ID $surv ok" "$last" "the store's last backup record names $surv, as its log does"
for n in n1 n3; do
	vc_assert_eq "$last" "$(vc_last_backup "$n" "$DOM")" "$n's store holds the same record"
done

follow=ok
python3 - "$EVERY" "$SERVE_SECS" "$TL" "$VC_TMP/backups" "$t_set" "$t_end" <<'PY' || follow=""
import sys

every, serve = int(sys.argv[1]), float(sys.argv[2])
first, end = float(sys.argv[5]), float(sys.argv[6])
segs, moves, backups = [], [], []
for line in open(sys.argv[3]):
    f = line.split()
    if f[0] == "seg":
        segs.append((f[1], float(f[2]), float(f[3])))
    else:  # move FROM TO T0 T1, crash FROM TO T0 T1
        moves.append((f[0], f[1], f[2], float(f[3]), float(f[4])))
for line in open(sys.argv[4]):
    f = line.split()
    backups.append((int(f[1]), int(f[2]), f[3], f[4]))
bad = []
by_window = {}
for id_, started, level, node in backups:
    by_window.setdefault(started // every, []).append(id_)
    # started is whole seconds: the backup started in [started, started + 1)
    ok = set()
    for n, t0, t1 in segs:
        if started + 1 > t0 and started <= t1:
            ok.add(n)
    for kind, a, b, t0, t1 in moves:
        if started + 1 > t0 and started <= t1:
            ok |= {b} if kind == "crash" else {a, b}
    if node not in ok:
        bad.append(f"backup {id_} started at {started} on {node}: the VM ran on {sorted(ok) or 'no node'} then")
for w, ids in sorted(by_window.items()):
    if len(ids) > 1:
        bad.append(f"window {w} holds backups {ids}")
w0, w1 = int(first) // every, int(end) // every
for w in range(w0, w1 + 1):
    # (the window of "schedule set" only from the daemons' next look at
    # the store, a tick of up to 10 s later: not checked)
    lo, hi = w * every, (w + 1) * every
    where = [(n, max(lo, t0), min(hi, t1)) for n, t0, t1 in segs if min(hi, t1) > max(lo, t0)]
    settled = max((b - a for n, a, b in where), default=0)
    got = [f"{i} ({lv}) on {n}" for i, s, lv, n in backups if s // every == w]
    what = ", ".join(got) or "no backup"
    span = ", ".join(f"{n} {a - lo:.0f}-{b - lo:.0f}s" for n, a, b in where) or "moving or down"
    print(f"    window {w}: {what}; the VM on {span}", file=sys.stderr)
    if not got and settled >= serve and hi <= end and w > w0:
        bad.append(f"window {w}: no backup, though the VM ran settled {settled:.0f}s in it ({span})")
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
if [[ -n "$follow" ]]; then
	vc_log "ok: $(wc -l <"$VC_TMP/backups") backups, one per window at most, each on the node where $DOM ran, no window skipped while it ran settled"
else
	vc_log "what the schedulers did:"
	vc_sched_log "$DOM" >&2
fi

for ((id = 1; id <= LAST_ID; id++)); do
	grep -q "^b $id " "$VC_TMP/backups" || continue
	expect_exit 0 vnck "$surv" restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/$DOM.ref@$id" "restore of backup $id"
	rm -rf "$VC_TMP/r$id"
done
# The next window has begun since, and a tick (5 s) passed.
sleep_until "$(((${t_end%.*} / EVERY + 1) * EVERY + 8))"
vc_assert_eq "$LAST_ID" "$(backup_times "$B" | tail -n 1 | cut -d' ' -f1)" \
	"no backup since the schedule was removed $(vc_elapsed "$t_end")s ago"
[[ -n "$follow" ]] || vc_fail "the scheduled backups do not follow the VM (above)"
vc_pcmk_timing "4 moves and a crash, $(wc -l <"$VC_TMP/backups") scheduled backups"
