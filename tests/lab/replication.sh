#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckptd keeps the checkpoint store identical on every node of a real
# 3-node corosync cluster: an update on one node is on all; a node that
# joins late receives everything; a daemon killed in the middle of a sync
# and restarted catches up; corosync restarted on a node; a partition
# {n1} | {n2,n3} with updates on both sides heals to identical stores with
# the conflict reported; a daemon restarted with a damaged document on disk
# gets the good one back; writes made with the CLI while a node's daemon
# is down are replicated when it is back, or lose to the cluster's as a
# conflict.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 3
nodes=(n1 n2 n3)

same_everywhere() {
	local what=$1 d1 d2 d3
	d1=$(store_digest_of n1)
	d2=$(store_digest_of n2)
	d3=$(store_digest_of n3)
	[[ "$d1" == "$d2" && "$d2" == "$d3" ]] ||
		vc_fail "$what: stores differ: n1 $d1 n2 $d2 n3 $d3"
	vc_log "ok: $what: identical stores ($d1)"
}

# checkpoints_of NODE DOMAIN : the checkpoint names the node stores.
checkpoints_of() {
	vnck "$1" checkpoints show "$2" | awk '/^  /{print $1}' | xargs
}

# --- two daemons, then a late joiner -------------------------------------
vc_daemon_start n1
vc_daemon_start n2
vc_wait_synced n1 2
for i in $(seq 1 20); do
	make_doc "vm$i" 5 "$VC_TMP/doc.xml"
	vnck "n$((i % 2 + 1))" -q checkpoints import "$VC_TMP/doc.xml"
done
make_doc "web 01 ü" 3 "$VC_TMP/odd.xml"
vnck n1 -q checkpoints import "$VC_TMP/odd.xml"
vc_assert_eq "c1 c2 c3" "$(checkpoints_of n2 "web 01 ü")" "an update on n1 is on n2"

vc_daemon_start n3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3; done
same_everywhere "late joiner n3 synced"
vc_assert_eq 21 "$(vnck n3 status | sed -n 's/^domains: //p')" "n3 holds all 21 domains"

# An update on one node is on all, once the CLI returns.
make_doc vm1 7 "$VC_TMP/doc.xml"
vnck n3 -q checkpoints import "$VC_TMP/doc.xml"
for n in "${nodes[@]}"; do
	vc_assert_eq "c1 c2 c3 c4 c5 c6 c7" "$(checkpoints_of "$n" vm1)" "update from n3 on $n"
done
vnck n2 -q checkpoints forget vm2
for n in "${nodes[@]}"; do
	expect_exit 4 vnck "$n" checkpoints show vm2
done
vc_log "ok: forget on n2 is seen on all nodes"
same_everywhere "after updates and a forget"

# --- kill -9 of a daemon in the middle of a sync ---------------------------
# Make the sync long enough to be caught: 30 documents of 1000 checkpoints.
make_doc big 1000 "$VC_TMP/big.xml"
for i in $(seq 1 30); do
	sed "s|<name>big</name>|<name>big$i</name>|" "$VC_TMP/big.xml" >"$VC_TMP/doc.xml"
	vnck n1 -q checkpoints import "$VC_TMP/doc.xml"
done
vc_daemon_stop n3
rm -rf "$(node_store n3)"
vc_daemon_start n3
caught=0
for ((i = 0; i < 500; i++)); do
	got=$(find "$(node_store n3)" -maxdepth 1 -name 'big*.xml' | wc -l)
	if ((got > 0 && got < 30)); then
		caught=1
		break
	fi
	((got < 30)) || break
	sleep 0.01
done
vc_daemon_kill n3
vc_log "n3 killed with $got of 30 big documents synced (caught mid-sync: $caught)"
vc_daemon_start n3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
same_everywhere "n3 killed during its sync, restarted"
[[ -z "$(find "$(node_store n3)" -name '.tmp-*')" ]] || vc_fail "torn temp files left on n3"

# --- corosync restarted on one node ----------------------------------------
vc_corosync_stop n2
vc_wait_members n1 2
make_doc vm3 9 "$VC_TMP/doc.xml"
vnck n1 -q checkpoints import "$VC_TMP/doc.xml"
# n2 keeps serving reads from its replica while corosync is away.
vc_assert_eq "c1 c2 c3 c4 c5" "$(checkpoints_of n2 vm3)" "n2 serves reads without corosync"
vnck n2 status | grep -q '^state: offline$' || vc_fail "n2 does not say it is offline"
vc_corosync_start n2
vc_wait_members n1 3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
vc_assert_eq "c1 c2 c3 c4 c5 c6 c7 c8 c9" "$(checkpoints_of n2 vm3)" "n2 caught up after corosync came back"
same_everywhere "corosync restarted on n2"

# --- partition {n1} | {n2,n3}, updates on both sides, heal ---------------------
vc_partition "n1" "n2 n3"
vc_wait_quorate n1 no
vc_wait_quorate n2 yes
vc_wait_synced n1 1 60
vc_wait_synced n2 2 60
make_doc vm4 2 "$VC_TMP/a.xml"      # both sides change vm4: a conflict
make_doc vm4 4 "$VC_TMP/b.xml"
vnck n1 -q checkpoints import "$VC_TMP/a.xml"
vnck n2 -q checkpoints import "$VC_TMP/b.xml"
make_doc vm5 6 "$VC_TMP/c.xml"      # only the lone node changes vm5
vnck n1 -q checkpoints import "$VC_TMP/c.xml"
make_doc vm6 8 "$VC_TMP/d.xml"      # only the majority changes vm6
vnck n3 -q checkpoints import "$VC_TMP/d.xml"
vc_heal
vc_wait_members n1 3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
same_everywhere "partition healed"
vc_assert_eq "c1 c2 c3 c4" "$(checkpoints_of n1 vm4)" "vm4: the quorate side's version wins"
vc_assert_eq "c1 c2 c3 c4 c5 c6" "$(checkpoints_of n2 vm5)" "vm5: changed only by n1, n1's version"
vc_assert_eq "c1 c2 c3 c4 c5 c6 c7 c8" "$(checkpoints_of n1 vm6)" "vm6: changed only by the majority"
for n in "${nodes[@]}"; do
	vnck "$n" status >"$VC_TMP/status.txt"
	grep -q '^conflicts: 1$' "$VC_TMP/status.txt" || vc_fail "$n does not report the conflict: $(cat "$VC_TMP/status.txt")"
	grep -qE '^conflict: vm4: version [0-9]+/1 \(no quorum\) of node 1 lost to version [0-9]+/2$' "$VC_TMP/status.txt" ||
		vc_fail "$n: conflict line: $(grep conflict "$VC_TMP/status.txt")"
done
vc_log "ok: the conflict is reported on every node"
# status --json: the same report, typed (virtckpt(8), JSON OUTPUT).
for n in "${nodes[@]}"; do
	vnck "$n" status >"$VC_TMP/status.txt"
	vnck "$n" status --json --wait-synced 5 >"$VC_TMP/status.json"
	python3 - "$VC_TMP/status.txt" "$VC_TMP/status.json" <<'PY' || vc_fail "$n: status --json differs from status: $(cat "$VC_TMP/status.json")"
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.load(open(sys.argv[2]))
text = {}
for line in lines:
    k, _, v = line.partition(": ") if ": " in line else (line.rstrip(":"), "", "")
    text.setdefault(k, v)
assert d["version"] == 1 and d["state"] == "synced" == text["state"]
assert d["node"] == int(text["node"]) and d["store"] == text["store"]
assert d["members"] == [int(x) for x in text["members"].split()] and len(d["members"]) == 3
assert d["quorate"] is True and text["quorate"] == "yes"
assert d["epoch"] == text["epoch"] and re.fullmatch("[0-9a-f]{16}", d["epoch"])
for k in ("syncs", "domains", "checkpoints", "tombstones", "updates-applied",
          "messages-rejected", "conflicts", "conflicts-not-kept", "messages-sent",
          "bytes-sent", "messages-received", "bytes-received"):
    assert d[k.replace("-", "_")] == int(text[k]), k
# Every member sent and received at least its syncs' summaries and DONEs.
assert d["messages_sent"] >= 2 and d["bytes_sent"] >= 80 and d["bytes_received"] >= 160
assert d["conflicts"] == 1
assert d["recent_conflicts"] == [l[len("conflict: "):] for l in lines if l.startswith("conflict: ")]
assert len(d["recent_conflicts"]) == 1 and d["recent_conflicts"][0].startswith("vm4: version ")
assert d["last_error"] == (None if text["last-error"] == "-" else text["last-error"])
assert d["leases"] == [] and d["jobs"] == [] and d["scheduled_running"] == []
assert d["schedules"] == int(text["schedules"]) == 0 and d["scheduler"] == text["scheduler"] == "running"
assert {k.replace("-", "_") for k in text if k != "conflict"} | {"version", "recent_conflicts", "leases", "jobs", "scheduled_running"} == set(d)
PY
done
vc_log "ok: status --json says what status says, typed, on every node"
copy=$(find "$(node_store n1)/conflicts" -name 'vm4@*.xml' | head -1)
if [[ -z "$copy" ]] || ! grep -q '<checkpoint name="c2"' "$copy"; then
	vc_fail "n1 did not keep its losing version of vm4"
fi
vc_log "ok: n1 kept its losing version in ${copy#"$VC_TMP"/}"

# --- a damaged document on disk -----------------------------------------------
vc_daemon_stop n2
printf 'garbage' >"$(node_store n2)/vm1.xml"
vc_daemon_start n2
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
vc_assert_eq "c1 c2 c3 c4 c5 c6 c7" "$(checkpoints_of n2 vm1)" "n2's damaged vm1 replaced by the good one"
same_everywhere "after the damaged document"

# --- IPC: root and haclient only; oversized documents refused ------------------
out=$(vc_node_on n1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$VIRTCKPT" status 2>&1) && vc_fail "status as nobody succeeded: $out"
vc_assert_eq "virtckpt: error: virtckptd refused the connection (root and the haclient group only)" \
	"$out" "status as nobody: one line, the refusal"
vc_log "ok: a client that is neither root nor haclient is refused"
before=$(store_digest_of n1)
make_doc huge 6000 "$VC_TMP/huge.xml"   # over the 2 MiB IPC limit
expect_exit 1 vnck n1 -q checkpoints import "$VC_TMP/huge.xml"
grep -q "could not replicate the checkpoints of huge: the document is [0-9]* bytes, more than the 2 MiB the daemon takes" <<<"$VC_ERR" ||
	vc_fail "oversized import: $VC_ERR"
vc_assert_eq "$before" "$(store_digest_of n1)" "an oversized document changes nothing"

# --- writes into a replica while its daemon is down -------------------------------
# The CLI writes n3's replica alone, flagged; at the next sync a change
# only n3 made wins, a domain changed on both sides keeps the cluster's
# version (conflict, n3's copy kept), a forget on n3 stays.
vc_assert_eq "node 3" "$(cat "$(node_store n3)/.virtckptd-replica")" "n3's replica marker names its node id"
vc_daemon_stop n3
vnck n3 -v checkpoints list 2>&1 >/dev/null | grep -q "using the local store .* (no virtckptd; it is a virtckptd replica)" ||
	vc_fail "the CLI does not say it uses the replica alone"
make_doc vm15 9 "$VC_TMP/doc.xml"
expect_exit 0 vnck n3 checkpoints import "$VC_TMP/doc.xml"
grep -q "virtckptd is not running: writing its replica .* alone" <<<"$VC_ERR" ||
	vc_fail "no warning for a write into the replica without its daemon: $VC_ERR"
make_doc vm16 8 "$VC_TMP/doc.xml"
vnck n3 -q checkpoints import "$VC_TMP/doc.xml"
vnck n3 -q checkpoints forget vm17
make_doc vm16 2 "$VC_TMP/doc.xml"
vnck n1 -q checkpoints import "$VC_TMP/doc.xml"
grep -q 'quorate="no"' "$(node_store n3)/vm15.xml" || vc_fail "n3's local write is not flagged"
vc_daemon_start n3
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
for n in "${nodes[@]}"; do
	vc_assert_eq "c1 c2 c3 c4 c5 c6 c7 c8 c9" "$(checkpoints_of "$n" vm15)" "vm15 changed only on n3 (daemon down): n3's version on $n"
	vc_assert_eq "c1 c2" "$(checkpoints_of "$n" vm16)" "vm16 changed on both sides: the cluster's version on $n"
	expect_exit 4 vnck "$n" checkpoints show vm17
done
vnck n1 status | grep -q "^conflict: vm16: version .* (no quorum) of node 3 lost" ||
	vc_fail "the vm16 conflict is not reported: $(vnck n1 status)"
compgen -G "$(node_store n3)/conflicts/vm16@*" >/dev/null || vc_fail "n3 did not keep its losing vm16"
same_everywhere "after writes while n3's daemon was down"

# --- without a daemon, the CLI says it works alone ------------------------------
vc_daemon_stop n3
vnck n3 -v --store "$VC_TMP/plain-store" checkpoints list 2>&1 >/dev/null |
	grep -q "using the local store .*plain-store (no virtckptd)" ||
	vc_fail "the CLI does not say it uses the local store"
vc_log PASS
