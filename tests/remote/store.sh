#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckpt itself on a Pacemaker Remote node (n4: no corosync, no
# virtckptd, Pacemaker's authkey; VIRTCKPT_SERVERS names the full nodes,
# as crm_node would with Pacemaker): every store command reads and writes
# the cluster's replicated store through a full node's relay.  Listing,
# showing, importing and forgetting from n4 give what they give on a full
# node, byte for byte; n4 keeps no copy of what it read; status names the
# full node that answered.  When no full node can be used, the commands
# exit 11 and no local store is made or read.  Under
# VIRTCKPT_VALGRIND=1 (make memcheck-long) virtckpt runs under valgrind.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 3
vc_cluster_add_host n4
n4root=$VC_TMP/hosts/n4/root
rm -f "$n4root/etc/corosync/corosync.conf"
head -c 4096 /dev/urandom >"$VC_TMP/key"
for n in n1 n2 n3 n4; do
	install -m 0640 -o root -g haclient "$VC_TMP/key" "$VC_TMP/hosts/$n/root/etc/pacemaker/authkey"
done
for n in n1 n2 n3; do vc_daemon_start "$n"; done
for n in n1 n2 n3; do vc_wait_synced "$n" 3; done
servers="$(vc_node_addr n1) $(vc_node_addr n2),$(vc_node_addr n3)"
mkdir -m 0700 "$VC_TMP/n4tmp"

# remote [VAR=VALUE...] ARGS... : virtckpt on n4, as a remote node, its
# private documents under n4tmp.
remote() {
	local vars=(TMPDIR="$VC_TMP/n4tmp" VIRTCKPT_SERVERS="$servers")
	while [[ "${1:-}" == *=* ]]; do
		vars+=("$1")
		shift
	done
	vc_node_on n4 env "${vars[@]}" ${VC_VALGRIND[@]+"${VC_VALGRIND[@]}"} "$VIRTCKPT" "$@"
}
no_copy_left() {
	[[ -z "$(ls -A "$VC_TMP/n4tmp")" ]] ||
		vc_fail "n4 kept documents after '$1': $(ls -A "$VC_TMP/n4tmp")"
}

# --- reads ---------------------------------------------------------------
make_doc vm1 4 "$VC_TMP/vm1.xml"
vnck n2 -q checkpoints import "$VC_TMP/vm1.xml"
make_doc "web 01 ü" 2 "$VC_TMP/odd.xml"
vnck n3 -q checkpoints import "$VC_TMP/odd.xml"
for args in "checkpoints list" "--json checkpoints list" "checkpoints show vm1" \
	"--json checkpoints show vm1"; do
	# shellcheck disable=SC2086 # the words of args
	vc_assert_eq "$(vnck n1 $args)" "$(remote $args)" "n4's '$args' is n1's"
	no_copy_left "$args"
done
vc_assert_eq "$(vnck n1 checkpoints show "web 01 ü")" "$(remote checkpoints show "web 01 ü")" \
	"n4 reads a domain whose name needs escaping"
vc_log "ok: n4 reads what a full node reads"

out=$(remote status)
grep -qx "served-by: [0-9.]*:3122" <<<"$out" || vc_fail "status on n4 names no server: $out"
grep -qx "state: synced" <<<"$out" || vc_fail "status on n4: $out"
remote --json status | grep -q '"served_by": "[0-9.]*:3122"' ||
	vc_fail "status --json on n4 has no served_by"
remote status --wait-synced 5 >/dev/null || vc_fail "status --wait-synced on n4"

# --- writes --------------------------------------------------------------
make_doc vm2 3 "$VC_TMP/vm2.xml"
remote -q checkpoints import "$VC_TMP/vm2.xml"
no_copy_left "checkpoints import"
for n in n1 n2 n3; do
	vc_assert_eq "c1 c2 c3" "$(vnck "$n" checkpoints show vm2 | awk '/^  /{print $1}' | xargs)" \
		"vm2 imported on n4 is on $n"
done
cmp "$(node_store n1)/vm2.xml" "$(node_store n3)/vm2.xml" ||
	vc_fail "n1 and n3 hold different documents of vm2"
vc_assert_eq "$(vnck n1 checkpoints show vm2)" "$(remote checkpoints show vm2)" \
	"n4 reads back what it wrote"
remote -q checkpoints forget vm1
for n in n1 n2 n3; do
	vc_assert_eq "vm2 web 01 ü" "$(vnck "$n" --json checkpoints list | sed -n 's/.*"domain": "\([^"]*\)".*/\1/p' | sort | xargs)" \
		"vm1 forgotten from n4 is gone on $n"
done
no_copy_left "checkpoints forget"
vc_log "ok: n4's writes are replicated to every full node"

# --- a remote node that reaches no full node -------------------------------
set +e
remote VIRTCKPT_SERVERS="$(vc_node_addr n4)" checkpoints list >"$VC_TMP/out" 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 11 "$r" "no full node answers: exit 11"
vc_log "said: $(cat "$VC_TMP/err")"
[[ ! -s "$VC_TMP/out" ]] || vc_fail "a list was printed without a full node: $(cat "$VC_TMP/out")"
grep -q "$(vc_node_addr n4)" "$VC_TMP/err" || vc_fail "the error names no server: $(cat "$VC_TMP/err")"
set +e
remote VIRTCKPT_SERVERS="$(vc_node_addr n4)" status >/dev/null 2>&1
r=$?
set -e
vc_assert_eq 11 "$r" "status with no full node: exit 11"
# Without VIRTCKPT_SERVERS n4 knows it is a remote node by the
# pacemaker-remoted running there (here a stand-in of that name): it
# asks crm_node, which has no cluster here, and uses no store of its own.
cp "$(command -v sleep)" "$VC_TMP/pacemaker-remoted"
# shellcheck disable=SC2016 # $1 is the inner shell's
vc_node_on n4 sh -c '"$1" 600 >/dev/null 2>&1 &' sh "$VC_TMP/pacemaker-remoted"
vc_node_on n4 pgrep -x pacemaker-remot >/dev/null || vc_fail "no pacemaker-remoted stand-in on n4"
before=$(vc_node_on n4 ls -lA --time-style=full-iso /var/lib/virtckpt 2>&1 || true)
set +e
vc_node_on n4 env -u VIRTCKPT_SERVERS TMPDIR="$VC_TMP/n4tmp" "$VIRTCKPT" \
	checkpoints import "$VC_TMP/vm2.xml" >/dev/null 2>"$VC_TMP/err"
r=$?
set -e
vc_assert_eq 11 "$r" "a remote node without a cluster to ask: exit 11"
vc_log "said: $(cat "$VC_TMP/err")"
grep -q "crm_node" "$VC_TMP/err" || vc_fail "the error does not say how servers are found: $(cat "$VC_TMP/err")"
vc_assert_eq "$before" "$(vc_node_on n4 ls -lA --time-style=full-iso /var/lib/virtckpt 2>&1 || true)" \
	"n4's default store is untouched"
no_copy_left "a failed command"
vc_node_on n4 pkill -x pacemaker-remot || true
vc_log "ok: no full node: exit 11, no local store"

for n in n1 n2 n3; do
	vc_daemon_stop "$n"
	vc_daemon_memcheck "$n"
done
vc_log "PASS"
