#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckptd reads its whole replica before it joins the CPG group: a
# restarted node with thousands of documents parses them while the others
# stay synced and keep writing, instead of holding every member in a sync
# (writes waiting) for the seconds its parse takes (doc/scale.md).
#
# n1, n2 and n3 hold the same 1500 documents; n1 and n2 run, then n3
# starts.  Until n3
# logs that it has read them, n1 must stay synced with 2 members, its sync
# count unchanged, and an import on n1 must succeed; then all three sync
# and hold the same 1500 documents.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"
command -v python3 >/dev/null || _vc_skip "python3 not found"

DOCS=1500
vc_init
vc_corosync_cluster 3
status_of() { vnck "$1" status | sed -n "s/^$2: //p"; }

# The same documents on every node: the sync itself ships nothing.
store=$(node_store n3)
mkdir -p "$store"
chmod 0700 "$store"
python3 "$(dirname "$0")/../bench/scale-helper.py" gen "$store" "$DOCS" vm 10 >/dev/null
cp -a "$store" "$(node_store n1)"
cp -a "$store" "$(node_store n2)"
vc_daemon_start n1
vc_daemon_start n2
vc_wait_synced n1 2 120
vc_wait_synced n2 2 120
make_doc probe 2 "$VC_TMP/probe.xml"
syncs0=$(status_of n1 syncs)
[[ "$syncs0" =~ ^[0-9]+$ ]] || vc_fail "no sync count on n1: '$syncs0'"

log=$VC_TMP/hosts/n3/log/virtckptd.log
read_line="read the $DOCS documents of the replica"
vc_daemon_spawn n3
polls=0
deadline=$((SECONDS + 120))
while ! grep -q "$read_line" "$log" 2>/dev/null; do
	((SECONDS < deadline)) || vc_fail "n3 did not read its replica within 120 s"
	st=$(vnck n1 status)
	vnck n1 -q checkpoints import "$VC_TMP/probe.xml" ||
		vc_fail "an import on n1 failed while n3 was reading its replica"
	# n3 had not joined when st was taken if it has not read its replica yet.
	grep -q "$read_line" "$log" && break
	grep -qx 'state: synced' <<<"$st" || vc_fail "n1 syncing while n3 was reading its replica: $st"
	vc_assert_eq "$syncs0" "$(sed -n 's/^syncs: //p' <<<"$st")" "n1 did not sync again while n3 was reading"
	vc_assert_eq "1 2" "$(sed -n 's/^members: //p' <<<"$st")" "n3 not a member while reading"
	polls=$((polls + 1))
done
((polls > 0)) || vc_fail "n3 read its $DOCS documents before n1 could be asked once: nothing checked"
vc_log "ok: n1 stayed synced and took $polls imports while n3 read $DOCS documents"

read_at=$(grep -n "$read_line" "$log" | head -1 | cut -d: -f1)
join_at=$(grep -n 'joined CPG group' "$log" | head -1 | cut -d: -f1)
[[ -n "$join_at" ]] || { for i in $(seq 1 100); do
	join_at=$(grep -n 'joined CPG group' "$log" | head -1 | cut -d: -f1)
	[[ -n "$join_at" ]] && break
	sleep 0.1
done; }
[[ -n "$join_at" && "$read_at" -lt "$join_at" ]] ||
	vc_fail "n3 joined the group (log line ${join_at:-none}) before reading its replica (line $read_at)"

for n in n1 n2 n3; do vc_wait_synced "$n" 3 120; done
for n in n1 n2 n3; do
	vc_assert_eq "$((DOCS + 1))" "$(status_of "$n" domains)" "$n holds the $DOCS documents and the probe"
done
d1=$(store_digest_of n1) d2=$(store_digest_of n2) d3=$(store_digest_of n3)
[[ "$d1" == "$d2" && "$d2" == "$d3" ]] || vc_fail "stores differ: $d1 $d2 $d3"
vc_log "ok: identical stores after n3 joined ($d1)"
