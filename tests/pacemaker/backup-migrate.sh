#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scenario f: a backup is running when Pacemaker live-migrates the VM.
#
# While a pull-mode backup job runs, libvirt cannot migrate the domain (the
# migration waits 30 s for the job's state lock and fails; Pacemaker then
# recovers the VM by a restart).  The policy (agent/checkpoints, "stop and
# migrate_to" in its metadata): the checkpoints resource, ordered after
# the VM with allow-migrate=false, is stopped before the VM migrates; its
# stop gives a running virtckpt backup of the domain backup_wait seconds
# to finish, then cancels it (virtckpt cancel: SIGTERM, the backup ends its
# job and commits nothing, but keeps what it copied, a progress record and
# its checkpoint) and holds new backups on that node; then it captures the
# chain, with that checkpoint.  The VM then live-migrates without a
# restart, and the next backup, on the new node, resumes the interrupted
# incremental.
#
# Here: vm5 runs on n1 (VirtualDomain allow-migrate=true, vm5-ckpt
# backup_wait=3).  A full backup, guest writes, then a slow incremental
# started in the background and suspended (SIGSTOP, as ^Z would) once it
# copies, so that it is certainly still running when Pacemaker acts.
# crm_resource --move to n2: vm5-ckpt's stop on n1 waits 3 s, cancels the
# backup (SIGTERM and SIGCONT), captures; vm5 live-migrates n1 -> n2
# (migrate_to/migrate_from, "running (migrated)", no failed action);
# vm5-ckpt starts on n2 and redefines the chain, with the cancelled
# backup's checkpoint.  The cancelled backup exited 1, committed nothing
# and kept its partial directory with a progress record.  vm5 has a
# schedule (--every 30d, its window served by backup 1): vm5-ckpt's start
# on n2 releases the hold and tells n2's virtckptd to look at vm5 at once,
# and the scheduled run there resumes the interrupted backup without
# waiting for a window: an incremental since backup 1 whose two runs
# together read everything written since backup 1, and little more; both
# backups restore byte for byte.  The backup health follows the VM as the
# node attribute of vm5-ckpt (crm_mon -A): ok after backup 1 on n1, gone
# from n1 after the move, ok inc on n2 after backup 2; never on n3.  Last,
# with a 20 s schedule, the cluster in maintenance mode defers the window,
# which is caught up once the mode ends.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

vc_pcmk_lab 3

vc_vm_setup vm5 256 n1
vc_rsc_param vm5-ckpt backup_wait 3
vc_wait_idle
B=$VC_BACKUPS
PCMK_LOG=$VC_TMP/hosts/n1/root/var/log/pacemaker/pacemaker.log

# --- full backup, writes ---------------------------------------------------
vc_vm_backup n1 vm5 1 full
# The health attribute, at vm5-ckpt's next monitor (every 10 s).
ATTR=virtckpt-vm5-ckpt
OKMIN='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z'
vc_wait_node_attr n1 "$ATTR" "^ok $OKMIN full$"
attr1=$(vc_node_attr n1 "$ATTR")
vc_assert_eq "$(vnck n1 status --attribute vm5)" "$attr1" "n1's attribute is what status says"
vc_assert_eq "" "$(vc_node_attr n2 "$ATTR")$(vc_node_attr n3 "$ATTR")" "no attribute on n2 or n3"
crm_mon_a=$(vc_crm n1 crm_mon -A1)
grep -qE "${ATTR}[[:space:]]+: $attr1" <<<"$crm_mon_a" || vc_fail "crm_mon -A1 does not show $ATTR: $crm_mon_a"
vc_log "ok: crm_mon -A1 on n1 shows: $(grep -E "$ATTR" <<<"$crm_mon_a" | xargs)"
# The schedule, once its window is served: nothing is due for 30 days
# unless a backup waits to be resumed.
expect_exit 0 vnck n1 schedule set vm5 -o "$B" --every 30d
written=0
for i in 0 1 2 3 4 5 6 7; do
	ref_write n1 vm5 vda vm5 "0x7$i" "$((i * 30 + 3))M" 8M
	written=$((written + 8 * 1048576))
done

# --- a slow incremental, suspended while it copies ---------------------------
backup_in_background "$B" vnck n1 backup vm5 -o "$B" --connections 1 --in-flight 1 \
	--request-size 65536
suspend_backup
jobinfo=$(vc_virsh n1 domjobinfo vm5 2>&1 || true)
grep -q "Job type: *Unbounded" <<<"$jobinfo" ||
	vc_fail "no backup job runs on vm5: the test is not testing: $jobinfo; the backup: $(cat "$VC_TMP/bg.out")"
vc_assert_eq 2 "$(checkpoint_names n1 vm5 | wc -l)" "the running backup made its checkpoint"
vc_log "ok: incremental backup of vm5 running on n1 (suspended, pid $BACKUP_PID)"

# --- Pacemaker moves the VM ------------------------------------------------
chain=$(checkpoint_names n1 vm5 | head -1)
log_off=$(stat -c %s "$PCMK_LOG")
vc_vm_move vm5 n2
t_moved=$(date +%s)
t_move=$VC_MOVE_SECS
# nsenter, which runs the backup in n1, stopped itself with its child and
# is not resumed by the SIGCONT the agent sent to the backup.
resume_backup
wait_backup_interrupted "the backup running on n1"

ops_n1=$(vc_vm_ops vm5 n1 | xargs)
ops_n2=$(vc_vm_ops vm5 n2 | xargs)
ck_n1=$(vc_vm_ops vm5-ckpt n1 | xargs)
vc_log "operations: n1: vm5: $ops_n1; vm5-ckpt: $ck_n1; n2: vm5: $ops_n2"
# (after a migration Pacemaker also runs stop on the source: "already stopped")
[[ " $ops_n1 " == *" migrate_to "* ]] || vc_fail "vm5 was not live-migrated from n1 ($ops_n1)"
[[ " $ops_n2 " == *" migrate_from "* && " $ops_n2 " != *" start "* ]] ||
	vc_fail "vm5 was not migrated into n2 ($ops_n2)"
vc_assert_eq "running (migrated)" "$(vc_virsh n2 domstate --reason vm5)" \
	"vm5 runs on n2 since its live migration, not restarted"
[[ -z "$(vc_pcmk_failures)" ]] || vc_fail "failed actions: $(vc_pcmk_failures)"
agent_log=$(tail -c +$((log_off + 1)) "$PCMK_LOG" | grep 'checkpoints(vm5-ckpt)')
for msg in "waiting up to 3 s for the backup of vm5" "cancelling the backup of vm5" \
	"the backup of vm5 (pid [0-9]*) was cancelled" "backups of vm5 are held on this host"; do
	grep -q "$msg" <<<"$agent_log" || vc_fail "vm5-ckpt's stop on n1 did not log '$msg': $agent_log"
done
grep -E 'cancel|held' <<<"$agent_log" | sed 's/^/    n1: /' >&2
vc_log "ok: vm5-ckpt's stop on n1 cancelled the backup; vm5 live-migrated n1 -> n2 in ${t_move}s"

# --- the schedule resumes it on n2, at once -----------------------------------
grep -q "interrupted: kept [0-9.]* MiB it copied" "$VC_TMP/bg.out" ||
	vc_fail "the cancelled backup did not say what it kept: $(cat "$VC_TMP/bg.out")"
N2_LOG=$VC_TMP/hosts/n2/log/virtckptd.log
for ((i = 0; i < 600; i++)); do
	grep -q '<backup id="2"' "$B/manifest.xml" && break
	sleep 0.2
done
grep -q '<backup id="2"' "$B/manifest.xml" ||
	vc_fail "no backup 2 within 120 s of the move: n2's virtckptd: $(grep -a schedul "$N2_LOG" | tail -n 20)"
ref_snapshot vm5 2
started2=$(sed -n 's/.*<backup id="2" .*started="\([0-9]*\)".*/\1/p' "$B/manifest.xml")
grep -q "scheduler: looking at vm5 now" "$N2_LOG" ||
	vc_fail "vm5-ckpt's start did not tell n2's virtckptd: $(grep -a schedul "$N2_LOG" | tail -n 20)"
grep -q "schedule: vm5: backed up into $B (backup 2, inc, resumed 1 interrupted run)" "$N2_LOG" ||
	vc_fail "backup 2 was not n2's scheduled run resuming the cancelled one: $(grep -a schedul "$N2_LOG" | tail -n 20)"
grep -q 'resumed="1"' <<<"$(grep '<backup id="2"' "$B/manifest.xml")" ||
	vc_fail "backup 2 is not recorded as resumed: $(grep '<backup id="2"' "$B/manifest.xml")"
vc_log "ok: n2's scheduler resumed the cancelled backup at $((started2 - t_moved)) s from the end of the move (negative: before Pacemaker had settled)"
((started2 - t_moved < 30)) || vc_fail "the resume waited $((started2 - t_moved)) s: not at once"
read=$(backup_read "$B" 2)
vc_log "backup 2 read $read bytes in its two runs, for $written bytes written since backup 1"
# At most the requests in flight when it was cancelled are read twice.
((read >= written && read <= written + 1048576)) ||
	vc_fail "backup 2 read $read bytes over its two runs, for $written written since backup 1"
vc_assert_eq "$chain" "$(checkpoint_names n2 vm5 | head -1)" "libvirt on n2 holds the chain of backup 1"
vc_assert_eq 2 "$(checkpoint_names n2 vm5 | wc -l)" "the resumed checkpoint is gone once committed"
for node in "${VC_NODES[@]}"; do
	vc_assert_eq 2 "$(vnck "$node" checkpoints show vm5 | sed -n 's/^Checkpoints: *//p')" \
		"two checkpoints stored on $node"
done
vc_wait_node_attr n2 "$ATTR" "^ok $OKMIN inc$"
vc_assert_eq "" "$(vc_node_attr n1 "$ATTR")$(vc_node_attr n3 "$ATTR")" "none on n1 and n3"
vc_log "ok: after backup 2 on n2: $ATTR=$(vc_node_attr n2 "$ATTR")"
expect_exit 0 vnck n2 verify "$B"
for id in 1 2; do
	expect_exit 0 vnck n2 restore "$B" -o "$VC_TMP/r$id" --until "$id"
	assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/vm5.ref@$id" "restore of backup $id"
done
vc_wait_idle

# --- a drained cluster starts no scheduled backup ------------------------------
# In maintenance mode, a window due on n2 is deferred, saying why; once
# the mode ends, it is caught up (nothing was written: it restores as 2).
vc_crm n1 crm_attribute --type crm_config --name maintenance-mode --update true
expect_exit 0 vnck n2 schedule set vm5 -o "$B" --every 20s
sleep 25
grep -q '<backup id="3"' "$B/manifest.xml" && vc_fail "backup 3 started in maintenance mode"
grep -q "schedule: vm5: due, but the cluster is in maintenance mode: deferred" "$N2_LOG" ||
	vc_fail "n2 did not say why it deferred: $(grep -a schedul "$N2_LOG" | tail -n 5)"
vc_crm n1 crm_attribute --type crm_config --name maintenance-mode --update false
for ((i = 0; i < 300; i++)); do
	grep -q '<backup id="3"' "$B/manifest.xml" && break
	sleep 0.2
done
grep -q '<backup id="3"' "$B/manifest.xml" || vc_fail "no backup 3 within 60 s of the maintenance mode's end"
expect_exit 0 vnck n2 restore "$B" -o "$VC_TMP/r3" --until 3
assert_same_disk "$VC_TMP/r3/vda.qcow2" "$VC_TMP/vm5.ref@2" "restore of backup 3, caught up after the maintenance"
vc_wait_idle
vc_pcmk_timing "move with a cancelled backup ${t_move}s"
