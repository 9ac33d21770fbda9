#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Schedules replicate as chains do, in a real 3-node corosync cluster with
# virtckptd on every node: schedule set on n1 is seen on n2 and n3 (the
# same document everywhere); a schedule set on one node and a chain
# imported on another live in one document; checkpoints forget on one
# node keeps the schedule everywhere; schedule remove on another removes
# it everywhere, and removing the last thing a document holds leaves a
# tombstone everywhere; a partition with schedules set on both sides heals
# to the quorate side's schedule, the other kept as a conflict.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 3
nodes=(n1 n2 n3)
for n in "${nodes[@]}"; do vc_daemon_start "$n"; done
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done

same_everywhere() {
	local what=$1 d1 d2 d3
	d1=$(store_digest_of n1)
	d2=$(store_digest_of n2)
	d3=$(store_digest_of n3)
	[[ "$d1" == "$d2" && "$d2" == "$d3" ]] ||
		vc_fail "$what: stores differ: n1 $d1 n2 $d2 n3 $d3"
	vc_log "ok: $what: identical stores ($d1)"
}

# schedule_of NODE DOMAIN : "EVERY DIR KEEP-LAST" of DOMAIN's schedule as
# NODE's schedule show --json says, or "none" (exit 4).
schedule_of() {
	local out rc=0
	out=$(vnck "$1" schedule show --json -- "$2" 2>/dev/null) || rc=$?
	if ((rc == 4)); then
		echo none
		return
	fi
	((rc == 0)) || vc_fail "schedule show on $1 exited $rc"
	python3 -c 'import json,sys; s=json.loads(sys.argv[1])["schedule"]; print(s["every"], s["directory"], s["keep_last"])' "$out"
}
# checkpoints_of NODE DOMAIN : the checkpoint names NODE stores.
checkpoints_of() {
	vnck "$1" checkpoints show "$2" 2>/dev/null | awk '/^  /{print $1}' | xargs
}

# set on n1: on every node once the CLI returns.
vnck n1 -q schedule set "web 1" -o /backups/web1 --every 15m --keep-last 7
for n in "${nodes[@]}"; do
	vc_assert_eq "900 /backups/web1 7" "$(schedule_of "$n" "web 1")" "the schedule set on n1, on $n"
	vnck "$n" checkpoints show --xml "web 1" >"$VC_TMP/doc-$n.xml"
	grep -q '<schedule every="900" keep-last="7" set="[0-9]*">' "$VC_TMP/doc-$n.xml" ||
		vc_fail "$n's document: $(cat "$VC_TMP/doc-$n.xml")"
done
same_everywhere "schedule set on n1"
# Changed on n3: the new one everywhere.
vnck n3 -q schedule set "web 1" -o /backups/web1b --every 1h --full-every 1d
for n in "${nodes[@]}"; do
	vc_assert_eq "3600 /backups/web1b None" "$(schedule_of "$n" "web 1")" "the schedule changed on n3, on $n"
done
same_everywhere "schedule changed on n3"

# A chain and a schedule, written on two nodes, in one document.
make_doc db 3 "$VC_TMP/db.xml"
vnck n2 -q checkpoints import "$VC_TMP/db.xml"
vnck n3 -q schedule set db -o /backups/db --every 1d
for n in "${nodes[@]}"; do
	vc_assert_eq "c1 c2 c3" "$(checkpoints_of "$n" db)" "db's chain on $n"
	vc_assert_eq "86400 /backups/db None" "$(schedule_of "$n" db)" "db's schedule on $n"
done
same_everywhere "a chain and a schedule in one document"

# forget on n1 keeps the schedule everywhere; remove on n2 keeps the chain.
vnck n1 -q checkpoints forget db
for n in "${nodes[@]}"; do
	vc_assert_eq "" "$(checkpoints_of "$n" db)" "db's chain forgotten on $n"
	vc_assert_eq "86400 /backups/db None" "$(schedule_of "$n" db)" "db's schedule kept on $n"
done
# (import stores the document as it is: without a schedule.)
vnck n2 -q checkpoints import "$VC_TMP/db.xml"
vc_assert_eq "none" "$(schedule_of n3 db)" "db imported again, on n3"
vnck n1 -q schedule set db -o /backups/db --every 1d
vnck n2 -q schedule remove db
for n in "${nodes[@]}"; do
	vc_assert_eq "none" "$(schedule_of "$n" db)" "db's schedule removed on $n"
	vc_assert_eq "c1 c2 c3" "$(checkpoints_of "$n" db)" "db's chain kept on $n"
done
same_everywhere "forget and remove"

# remove of a schedule alone: a tombstone everywhere.
vnck n2 -q schedule remove "web 1"
for n in "${nodes[@]}"; do
	vc_assert_eq "none" "$(schedule_of "$n" "web 1")" "web 1 removed, on $n"
	expect_exit 4 vnck "$n" checkpoints show "web 1"
	vc_assert_eq "db" "$(vnck "$n" checkpoints list | awk 'NR > 1 { print $1 }' | xargs)" "the domains left on $n"
	vnck "$n" schedule list >"$VC_TMP/list.txt"
	vc_assert_eq "no schedules" "$(cat "$VC_TMP/list.txt")" "schedule list on $n"
done
same_everywhere "the last schedule removed"
vc_log "ok: remove replicates"

# A partition, the schedule set on both sides: the quorate side wins.
vnck n1 -q schedule set app -o /backups/app --every 1h
vc_partition "n1" "n2 n3"
vc_wait_quorate n1 no
vc_wait_quorate n2 yes
vc_wait_synced n1 1 60
vc_wait_synced n2 2 60
vnck n1 -q schedule set app -o /backups/app-lone --every 2h
vnck n2 -q schedule set app -o /backups/app-quorate --every 4h
vc_heal
vc_wait_members n1 3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
same_everywhere "partition healed"
for n in "${nodes[@]}"; do
	vc_assert_eq "14400 /backups/app-quorate None" "$(schedule_of "$n" app)" "app: the quorate side's schedule on $n"
	vnck "$n" status | grep -qE '^conflict: app: version [0-9]+/1 \(no quorum\) of node 1 lost' ||
		vc_fail "$n does not report the app conflict: $(vnck "$n" status)"
done
copy=$(find "$(node_store n1)/conflicts" -name 'app@*.xml' | head -1)
[[ -n "$copy" ]] || vc_fail "n1 kept no copy of its losing schedule"
grep -q "<dir>/backups/app-lone</dir>" "$copy" || vc_fail "the conflict copy: $(cat "$copy")"
vc_log "ok: a schedule conflict: the quorate side wins, the loser is kept"
vc_log PASS
