#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# backup and cancel from any node, in a 3-node corosync lab with
# virtckptd on every node and the domain running on n1 only:
#  - "backup" given on n2 runs on n1 (n1's daemon log, the lease in the
#    status), its output comes back to n2, the restore equals the disk;
#  - while a slow handed-over backup runs, status on n1 answers fast, and
#    a second backup from n3 (handed over) and a local one on n1 are both
#    refused: "backup of vm already running on node 1";
#  - "cancel" given on n3 ends it; n2's backup says so and fails;
#  - the asking virtckpt killed: the backup goes on on n1, and is exact;
#  - a domain that runs nowhere gets today's error, no handover;
#  - n1 leaving the cluster mid-backup: n2's backup fails, saying so.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 3
for n in n1 n2 n3; do vc_daemon_start "$n"; done
vc_wait_synced n1 3
vc_node_libvirtd_start n1
# Each node's run directory is its own (as /run is), at one path.
RUN=(--rundir "$VC_TMP/run")
mkdir -p "$VC_TMP/run"
for n in n1 n2 n3; do
	vc_node_on "$n" mount -t tmpfs -o mode=0755 "virtckpt-run-$n" "$VC_TMP/run"
done
B="$VC_TMP/backups/vm"
mkdir -p "$VC_TMP/backups"

ref_domain n1 vm a 32

# ---------------------------------------------------------------- handed over --
expect_exit 0 vnck n2 backup vm -o "$B" "${RUN[@]}" --json
grep -q "backup of vm handed over to node 1" <<<"$VC_ERR" ||
	vc_fail "not handed over to n1: $VC_ERR"
grep -q "backup 1 (full) of vm done" <<<"$VC_ERR" ||
	vc_fail "n1's output did not come back: $VC_ERR"
vc_assert_eq vm "$(jq -r .domain <<<"$VC_OUT")" "the --json summary came back"
vc_assert_eq 1 "$(jq -r .id <<<"$VC_OUT")" "the summary names backup 1"
grep -q "node 2 hands over a backup of vm" "$VC_TMP/hosts/n1/log/virtckptd.log" ||
	vc_fail "n1's daemon did not run it"
expect_exit 0 vnck n2 restore "$B" -o "$VC_TMP/r1"
assert_same_disk "$VC_TMP/r1/vda.qcow2" "$VC_TMP/a.ref" "restore of the handed-over backup"

# ---------------------------------------------------------------- one at a time --
# A slow incremental (32 MiB written at 1 MiB/s), in the background.
ref_write n1 vm vda a 0x5a 0 32M
slow_backup() {
	vnck n2 backup vm -o "$B" "${RUN[@]}" --max-rate 1M >"$VC_TMP/slow.out" 2>"$VC_TMP/slow.err" &
	SLOW=$!
	vc_wait_lease n3 vm 1
}
slow_backup

lease=$(vnck n1 status --json | jq -r '.leases[0]')
[[ "$lease" == "vm node 1 job 2:"* ]] || vc_fail "status --json leases on n1: $lease"
job=$(vnck n1 status --json | jq -r '.jobs[0]')
[[ "$job" == "2:"*" backup vm running" ]] || vc_fail "status --json jobs on n1: $job"
vc_log "ok: n1's status shows the lease and the job: $job"
start=$(date +%s%N)
vnck n1 status >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
vc_log "status on n1 while the job runs: $ms ms"
((ms < 2000)) || vc_fail "status took $ms ms while a job ran"

expect_exit 1 vnck n3 backup vm -o "$VC_TMP/backups/other" "${RUN[@]}"
grep -q "backup of vm already running on node 1" <<<"$VC_ERR" ||
	vc_fail "second handed-over backup not refused clearly: $VC_ERR"
expect_exit 1 vnck n1 backup vm -o "$VC_TMP/backups/other" "${RUN[@]}"
grep -q "backup of vm already running on node 1" <<<"$VC_ERR" ||
	vc_fail "local backup not refused by the lease: $VC_ERR"
[[ ! -e "$VC_TMP/backups/other/manifest.xml" ]] || vc_fail "a refused backup wrote"
vc_log "ok: one backup of vm at a time, the others refused"

# ---------------------------------------------------------------- cancel --
expect_exit 0 vnck n3 cancel vm "${RUN[@]}"
grep -q "cancel of vm handed over to node 1" <<<"$VC_ERR" ||
	vc_fail "cancel not handed over: $VC_ERR"
got=0
wait "$SLOW" || got=$?
((got != 0)) || vc_fail "the cancelled backup exited 0: $(cat "$VC_TMP/slow.err")"
grep -q "interrupted by signal" "$VC_TMP/slow.err" ||
	vc_fail "n2 was not told of the cancel: $(cat "$VC_TMP/slow.err")"
vc_log "ok: cancelled from n3, n2's backup exited $got"
vc_wait_lease n2 vm 0 10

# The next one from n2 is the incremental, and exact.
expect_exit 0 vnck n2 backup vm -o "$B" "${RUN[@]}"
grep -q "backup 2 (inc) of vm done" <<<"$VC_ERR" || vc_fail "not an incremental: $VC_ERR"
expect_exit 0 vnck n3 restore "$B" -o "$VC_TMP/r2"
assert_same_disk "$VC_TMP/r2/vda.qcow2" "$VC_TMP/a.ref" "restore after the cancel"

# ---------------------------------------------------------------- asker killed --
# The asking virtckpt killed (after 3 s): the backup goes on on n1.
ref_write n1 vm vda a 0x71 0 16M
got=0
vc_node_on n2 timeout -s KILL 3 "$VIRTCKPT" --store "$(node_store n2)" backup vm \
	-o "$B" "${RUN[@]}" --max-rate 2M >/dev/null 2>&1 || got=$?
vc_assert_eq 137 "$got" "the asking virtckpt was killed"
vc_wait_lease n3 vm 0 60
vnck n3 list "$B" | grep -Eq '^ +3 inc ' || vc_fail "backup 3 missing: $(vnck n3 list "$B")"
expect_exit 0 vnck n3 restore "$B" -o "$VC_TMP/r3"
assert_same_disk "$VC_TMP/r3/vda.qcow2" "$VC_TMP/a.ref" "the backup whose asker was killed"

# ---------------------------------------------------------------- nowhere --
expect_exit 1 vnck n2 backup nosuch -o "$VC_TMP/backups/nosuch" "${RUN[@]}"
if grep -q "handed over" <<<"$VC_ERR"; then vc_fail "handed over: $VC_ERR"; fi
vc_log "ok: a domain running nowhere: $VC_ERR"

# ---------------------------------------------------------------- n1 leaves --
ref_write n1 vm vda a 0x66 0 32M
slow_backup
vc_corosync_kill n1
got=0
wait "$SLOW" || got=$?
vc_assert_eq 1 "$got" "n2's backup fails when n1 leaves"
grep -q "node 1, which ran the backup of vm, left the cluster" "$VC_TMP/slow.err" ||
	vc_fail "no clear error: $(cat "$VC_TMP/slow.err")"
vc_log PASS
