#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A Pacemaker Remote node (n4: on the cluster's network, no corosync, no
# virtckptd) reaches the replicated store through the relay of virtckptd
# on the full nodes n1..n3, over TLS with a key derived from each node's
# /etc/pacemaker/authkey (the default path, 0640 root:haclient):
# a document imported on a full node reads byte-identical from n4, the
# list of documents is the replica's, status comes through, a PUT from n4
# is replicated; a wrong key is refused at the handshake (nothing served,
# the daemon logs it), so is a peer silent for 10 s; a key replaced on a
# full node takes effect without a restart; a client that is not root
# cannot read the key; a relay whose daemon is not quorate answers
# "stale" and the client goes to the next full node; a daemon killed
# mid-session makes the next request fail over; a lease taken from n4
# dies with its connection, and the session with it; a listener killed is
# started again, holding nothing of the daemon's; the relay ends with its
# daemon.  make memcheck-long runs it with the daemons and the client
# under valgrind.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

RC=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/remote/remote-client
[[ -x "$RC" ]] || _vc_skip "$RC not built (make check builds it)"

vc_init
vc_corosync_cluster 3
vc_cluster_add_host n4

# install_key NODE FILE [NAME] : FILE as NODE's /etc/pacemaker/NAME
# (authkey), 0640 root:haclient as Pacemaker makes it.
install_key() {
	install -m 0640 -o root -g haclient "$2" \
		"$VC_TMP/hosts/$1/root/etc/pacemaker/${3:-authkey}"
}
# rc [VAR=VALUE...] CLIENT SERVERS STEP... : the remote client on n4
# (under valgrind with VIRTCKPT_VALGRIND=1).
rc() {
	local vars=()
	while [[ "${1:-}" == *=* ]]; do
		vars+=("$1")
		shift
	done
	vc_node_on n4 env ${vars[@]+"${vars[@]}"} ${VC_VALGRIND[@]+"${VC_VALGRIND[@]}"} "$@"
}
# relay_procs NODE : the relay's processes left in NODE.
relay_procs() {
	vc_node_on "$1" pgrep -x virtckptd-relay || true
}
log_of() { cat "$VC_TMP/hosts/$1/log/virtckptd.log"; }
a1=$(vc_node_addr n1)
a2=$(vc_node_addr n2)
a3=$(vc_node_addr n3)

head -c 4096 /dev/urandom >"$VC_TMP/key"
for n in n1 n2 n3 n4; do install_key "$n" "$VC_TMP/key"; done
for n in n1 n2 n3; do vc_daemon_start "$n"; done
for n in n1 n2 n3; do vc_wait_synced "$n" 3; done
log_of n1 | grep -q 'serving Pacemaker Remote nodes on every address port 3122' ||
	vc_fail "n1's daemon does not say it serves Pacemaker Remote nodes"
vc_node_on n4 sh -c '! pgrep -x corosync && ! pgrep -x virtckptd' >/dev/null ||
	vc_fail "n4 runs corosync or virtckptd"

# --- reads: GET, LIST, STATUS --------------------------------------------
make_doc vm1 4 "$VC_TMP/vm1.xml"
vnck n2 -q checkpoints import "$VC_TMP/vm1.xml"
make_doc "web 01 ü" 2 "$VC_TMP/odd.xml"
vnck n3 -q checkpoints import "$VC_TMP/odd.xml"
rc "$RC" "$a1,$a2:3122,$a3" get vm1.xml >"$VC_TMP/got.xml"
cmp "$VC_TMP/got.xml" "$(node_store n1)/vm1.xml" ||
	vc_fail "GET vm1.xml through the relay differs from the replica's file"
odd=$(find "$(node_store n1)" -maxdepth 1 -name 'web*.xml' -printf '%f\n')
rc "$RC" "$a1" get "$odd" | cmp - "$(node_store n1)/$odd" ||
	vc_fail "GET $odd differs"
vc_log "ok: documents read byte-identical through the relay"
vc_assert_eq "$(find "$(node_store n1)" -maxdepth 1 -name '*.xml' -printf '%f\n' | sort | xargs)" \
	"$(rc "$RC" "$a1" list | sort | xargs)" "LIST is the replica's documents"
out=$(rc "$RC" "$a1,$a2" status server)
grep -qx 'state: synced' <<<"$out" || vc_fail "status through the relay: $out"
vc_assert_eq "1 2 3" "$(sed -n 's/^members: //p' <<<"$out")" "members through the relay"
vc_assert_eq "server: $a1:3122" "$(grep '^server:' <<<"$out")" "the first server serves"
log_of n1 | grep -q "relay: Pacemaker Remote client $(vc_node_addr n4):[0-9]* connected (TLS1.[23]" ||
	vc_fail "n1's daemon did not log the remote connection"
if rc "$RC" "$a1" get nosuch.xml 2>"$VC_TMP/err"; then vc_fail "GET of no document succeeded"; fi
grep -q 'no nosuch.xml' "$VC_TMP/err" || vc_fail "GET of no document: $(cat "$VC_TMP/err")"

# --- a write from the remote node is replicated --------------------------
make_doc vm9 3 "$VC_TMP/vm9.xml"
rc "$RC" "$a2" put vm9 "$VC_TMP/vm9.xml"
for n in n1 n2 n3; do
	vc_assert_eq "c1 c2 c3" "$(vnck "$n" checkpoints show vm9 | awk '/^  /{print $1}' | xargs)" \
		"a PUT from n4 is on $n"
done

# --- keys ----------------------------------------------------------------
head -c 4096 /dev/urandom >"$VC_TMP/wrong"
install_key n4 "$VC_TMP/wrong" wrong
set +e
rc VIRTCKPT_AUTHKEY=/etc/pacemaker/wrong "$RC" "$a1" get vm1.xml >"$VC_TMP/out" 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 3 "$r" "a wrong key: the key is refused (exit 3)"
[[ ! -s "$VC_TMP/out" ]] || vc_fail "a wrong key was served: $(head -c 200 "$VC_TMP/out")"
grep -q "refused this node's key.*$a1:3122: the TLS handshake failed, the keys differ" "$VC_TMP/err" ||
	vc_fail "a wrong key: unclear error: $(cat "$VC_TMP/err")"
log_of n1 | grep -q "relay: refused the Pacemaker Remote client $(vc_node_addr n4):[0-9]*: the TLS handshake failed, the keys differ" ||
	vc_fail "n1's daemon did not log the refused key"
vc_log "ok: a wrong key is refused at the handshake, and logged"

set +e
vc_node_on n4 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$RC" "$a1" status >"$VC_TMP/out" 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 4 "$r" "a client that is not root has no key (exit 4)"
[[ ! -s "$VC_TMP/out" ]] || vc_fail "a client that is not root was served"
grep -q 'cannot read the authkey /etc/pacemaker/authkey: Permission denied' "$VC_TMP/err" ||
	vc_fail "not root: unclear error: $(cat "$VC_TMP/err")"
chmod 0644 "$VC_TMP/hosts/n4/root/etc/pacemaker/authkey"
if rc "$RC" "$a1" status >/dev/null 2>"$VC_TMP/err"; then vc_fail "a key readable by all was used"; fi
grep -q 'the authkey /etc/pacemaker/authkey is readable by others' "$VC_TMP/err" ||
	vc_fail "a key readable by all: unclear error: $(cat "$VC_TMP/err")"
chmod 0640 "$VC_TMP/hosts/n4/root/etc/pacemaker/authkey"
vc_log "ok: no key for a user that is not root, none readable by all"

# A key replaced on n1 takes effect at once: the old one is refused, the
# new one served, by the same daemon.
pid=$(vc_daemon_pid n1)
head -c 4096 /dev/urandom >"$VC_TMP/key2"
install_key n1 "$VC_TMP/key2"
set +e
rc "$RC" "$a1" status >/dev/null 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 3 "$r" "the old key is refused once n1's key is replaced"
for n in n2 n3 n4; do install_key "$n" "$VC_TMP/key2"; done
rc "$RC" "$a1" get vm1.xml | cmp - "$(node_store n1)/vm1.xml" ||
	vc_fail "the new key does not serve"
vc_assert_eq "$pid" "$(vc_daemon_pid n1)" "the same daemon serves the new key"
vc_log "ok: a replaced key takes effect without a restart"

# A peer that says nothing holds a connection for the handshake's 10 s at
# most, and meanwhile the others are served.
# shellcheck disable=SC2016
vc_node_on n4 bash -c 'exec 3<>"/dev/tcp/$1/3122" && sleep 12' bash "$a1" &
silent=$!
sleep 1
rc "$RC" "$a1" status | grep -qx 'state: synced' ||
	vc_fail "a client is not served while another one says nothing"
wait "$silent" || true
log_of n1 | grep -q "relay: refused the Pacemaker Remote client $(vc_node_addr n4):[0-9]*: the TLS handshake took more than 10 s" ||
	vc_fail "a silent peer was not timed out at the handshake"
vc_log "ok: a silent peer is dropped after the handshake's 10 s, others served meanwhile"

# One host holds at most 16 connections: with 16 silent ones from n4,
# n4's next is refused at once, and another host is still served.
# shellcheck disable=SC2016
vc_node_on n4 bash -c 'for ((i = 3; i < 19; i++)); do eval "exec $i<>/dev/tcp/$1/3122"; done; sleep 5' bash "$a1" &
silent=$!
for ((i = 0; i < 100; i++)); do
	(($(relay_procs n1 | wc -l) >= 17)) && break
	sleep 0.1
done
(($(relay_procs n1 | wc -l) >= 17)) || vc_fail "16 silent connections from n4 are not all being served"
start=$SECONDS
if rc "$RC" "$a1" status >/dev/null 2>"$VC_TMP/err"; then vc_fail "a 17th connection from n4 was served"; fi
((SECONDS - start < 5)) || vc_fail "the 17th connection from n4 was not refused at once"
log_of n1 | grep -q "relay: refused $(vc_node_addr n4):[0-9]*: 16 connections from $(vc_node_addr n4) already" ||
	vc_fail "the refusal of n4's 17th connection is not logged"
vc_node_on n2 "$RC" "$a1" status | grep -qx 'state: synced' ||
	vc_fail "another host is not served while n4 holds its 16 connections"
wait "$silent" || true
vc_log "ok: one host holds at most 16 of the relay's connections; others are served"

# --- freshness: a relay whose daemon is not quorate ----------------------
vc_partition "n1" "n2 n3"
vc_wait_quorate n1 no
for ((i = 0; i < 100; i++)); do
	vnck n1 status | grep -qx 'quorate: no' && break
	sleep 0.1
done
set +e
rc "$RC" "$a1" get vm1.xml >"$VC_TMP/out" 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 5 "$r" "the only server is stale (exit 5)"
[[ ! -s "$VC_TMP/out" ]] || vc_fail "a stale replica was served"
grep -q "no full node has a fresh replica.*$a1:3122: stale (virtckptd on n1 (node 1) is [a-z]*, quorate: no" "$VC_TMP/err" ||
	vc_fail "stale: unclear error: $(cat "$VC_TMP/err")"
out=$(rc "$RC" "$a1,$a2" get vm1.xml server)
vc_assert_eq "server: $a2:3122" "$(tail -n 1 <<<"$out")" "a stale n1 is passed over for n2"
vc_log "ok: a relay that is not quorate answers stale, the client goes to the next"
vc_heal
vc_wait_synced n1 3 60

# --- failover: the serving daemon killed mid-session ---------------------
rm -f "$VC_TMP/go"
rc "$RC" "$a1,$a2,$a3" status server "wait:$VC_TMP/go" get vm1.xml server \
	>"$VC_TMP/session" 2>"$VC_TMP/session.err" &
client=$!
for ((i = 0; i < 300; i++)); do
	grep -q '^server:' "$VC_TMP/session" && break
	sleep 0.1
done
vc_assert_eq "server: $a1:3122" "$(grep '^server:' "$VC_TMP/session")" "the session starts on n1"
vc_daemon_kill n1
touch "$VC_TMP/go"
wait "$client" || vc_fail "the session did not survive n1's daemon: $(cat "$VC_TMP/session.err")"
vc_assert_eq "server: $a2:3122" "$(grep '^server:' "$VC_TMP/session" | tail -n 1)" \
	"the session goes on with n2"
grep -q "going on with the next full node" "$VC_TMP/session.err" ||
	vc_fail "the failover was not said: $(cat "$VC_TMP/session.err")"
sed -n '/^<?xml/,/^<\/virtckpt-domain>/p' "$VC_TMP/session" | cmp - "$(node_store n2)/vm1.xml" ||
	vc_fail "GET after the failover differs"
vc_log "ok: a daemon killed mid-session: the next request goes to n2"
[[ -n "$(relay_procs n2)" ]] || vc_fail "no relay process on n2"

# --- a lease dies with the connection that took it -----------------------
rm -f "$VC_TMP/go2"
rc "$RC" "$a2,$a3" lease vm1 remote-job-1 server "wait:$VC_TMP/go2" status \
	>"$VC_TMP/lease" 2>"$VC_TMP/lease.err" &
client=$!
for ((i = 0; i < 300; i++)); do
	grep -q '^server:' "$VC_TMP/lease" && break
	sleep 0.1
done
vc_assert_eq "server: $a2:3122" "$(grep '^server:' "$VC_TMP/lease")" "the lease is taken through n2"
vc_wait_lease n3 vm1 2
vc_daemon_kill n2
touch "$VC_TMP/go2"
if wait "$client"; then
	vc_fail "a request went on after the connection holding a lease broke"
fi
grep -q "the lease taken through it died with the connection" "$VC_TMP/lease.err" ||
	vc_fail "the lost lease was not said: $(cat "$VC_TMP/lease.err")"
if grep -q '^state:' "$VC_TMP/lease"; then vc_fail "status answered without the lease"; fi
vc_wait_lease n3 vm1 0
vc_log "ok: a lease dies with its connection, and the session with it"

# The relay ends with its daemon, killed or stopped (and, under
# VC_DAEMON_VALGRIND=1, the daemon ran clean).
for n in n1 n2; do
	for ((i = 0; i < 50; i++)); do
		[[ -z "$(relay_procs "$n")" ]] && break
		sleep 0.1
	done
	[[ -z "$(relay_procs "$n")" ]] || vc_fail "the relay outlived $n's killed daemon: $(relay_procs "$n")"
done
# A listener that dies is said loudly by its daemon, which goes on and
# starts it again: with the listening socket and nothing else of the
# daemon's (its descriptors: the store lock, corosync, the IPC).
# fds_of PID : what its descriptors above 2 are, one a line (not
# valgrind's own, at the top of the table, under VC_DAEMON_VALGRIND=1).
fds_of() { vc_node_on n3 ls -l "/proc/$1/fd" | awk 'NR > 1 && $(NF - 2) > 2 && $(NF - 2) < 1000 { print $NF }' | sort; }
old=$(vc_node_on n3 pgrep -o -x virtckptd-relay)
before=$(fds_of "$old")
vc_node_on n3 kill -KILL "$old"
for ((i = 0; i < 50; i++)); do
	log_of n3 | grep -q 'serving Pacemaker Remote nodes again on every address port 3122' && break
	sleep 0.1
done
log_of n3 | grep -q 'the relay for Pacemaker Remote nodes was killed by signal 9 after [0-9]* s: started again in 1 s' ||
	vc_fail "n3's daemon did not say its relay died: $(log_of n3 | grep relay | tail -n 3)"
log_of n3 | grep -q 'serving Pacemaker Remote nodes again on every address port 3122' ||
	vc_fail "n3's daemon did not start its relay again: $(log_of n3 | grep relay | tail -n 3)"
new=$(vc_node_on n3 pgrep -o -x virtckptd-relay)
[[ -n "$new" && "$new" != "$old" ]] || vc_fail "no new relay on n3 (was $old, now '$new')"
after=$(fds_of "$new")
{ [[ -n "$after" && -z "$(comm -13 <(echo "$before") <(echo "$after"))" ]] && ! grep -qv '^socket:' <<<"$after"; } ||
	vc_fail "the relay started again holds [$(xargs <<<"$after")], not only listening sockets the first held [$(xargs <<<"$before")]"
vc_log "ok: the relay started again holds the listening socket, nothing of the daemon's"
vnck n3 status | grep -qx 'state: synced' || vc_fail "n3's daemon did not go on without its relay"
rc "$RC" "$a3" get vm1.xml | cmp - "$(node_store n3)/vm1.xml" ||
	vc_fail "GET vm1.xml through n3's relay started again differs"
vc_log "ok: a relay that dies is logged and started again, and serves"
# One that keeps dying waits longer each time.
vc_node_on n3 kill -KILL "$new"
for ((i = 0; i < 50; i++)); do
	[[ $(log_of n3 | grep -c 'serving Pacemaker Remote nodes again') == 2 ]] && break
	sleep 0.1
done
log_of n3 | grep -q 'the relay for Pacemaker Remote nodes was killed by signal 9 after [0-9]* s: started again in 2 s' ||
	vc_fail "a relay killed again: $(log_of n3 | grep relay | tail -n 3)"
rc "$RC" "$a3" status | grep -qx 'state: synced' || vc_fail "n3's relay started the second time does not serve"
vc_log "ok: killed again, it is started again after 2 s"
vc_daemon_stop n3
[[ -z "$(relay_procs n3)" ]] || vc_fail "the relay outlived n3's daemon: $(relay_procs n3)"
vc_daemon_memcheck n3
vc_log "ok: the relay goes with its daemon"
