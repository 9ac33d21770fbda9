#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup directory on a node-local filesystem is warned about when this
# node is part of a cluster (its corosync.conf lists several nodes), once
# per backup, and never on a host alone.  The host gets its own
# /etc/corosync (a tmpfs in its mount namespace) so that the real one is
# neither read nor changed, and the backups go to a tmpfs: local for sure.
# The filesystem table and the daemon's member count are unit-tested
# (tests/unit/test-shared-dir.c).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
RUN=(--rundir "$VC_TMP/run")
[[ -d /etc/corosync ]] || vc_fail "no /etc/corosync to cover (Debian package corosync)"

ref_domain "$H" vm a 8
mkdir -p "$VC_TMP/local"
vc_on "$H" mount -t tmpfs -o mode=0700 virtckpt-local "$VC_TMP/local"
vc_on "$H" mount -t tmpfs -o mode=0755 virtckpt-corosync /etc/corosync

# corosync_conf N : a corosync.conf whose nodelist has N nodes.
corosync_conf() {
	local i
	printf 'totem {\n\tversion: 2\n\tcluster_name: lab\n}\nnodelist {\n'
	for ((i = 1; i <= $1; i++)); do
		printf '\tnode {\n\t\tring0_addr: 198.18.0.%d\n\t\tnodeid: %d\n\t}\n' "$i" "$i"
	done
	printf '}\nquorum {\n\tprovider: corosync_votequorum\n}\n'
}
set_nodes() {
	corosync_conf "$1" | vc_on "$H" sh -c 'cat >/etc/corosync/corosync.conf'
}
WARNING="is on a local filesystem (tmpfs)"

# Alone (Debian's default corosync.conf has one node; none at all): no warning.
set_nodes 1
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
if grep -q "$WARNING" <<<"$VC_ERR"; then vc_fail "warned on a host alone: $VC_ERR"; fi
vc_on "$H" rm /etc/corosync/corosync.conf
ref_write "$H" vm vda a 0x11 1M 1M
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
if grep -q "$WARNING" <<<"$VC_ERR"; then vc_fail "warned without corosync.conf: $VC_ERR"; fi
vc_log "ok: no warning on a host alone"

# One of three nodes: one warning, naming the directory and the way out;
# the backup itself is made and is exact.
set_nodes 3
ref_write "$H" vm vda a 0x22 2M 1M
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
vc_assert_eq 1 "$(grep -c "$WARNING" <<<"$VC_ERR")" "one warning per backup"
grep -qF "warning: $VC_TMP/local/vm $WARNING of a node in a cluster of 3: after the domain moves to another node, its next backup there will not find this chain; put backup directories on storage every node sees (see the admin guide)" <<<"$VC_ERR" ||
	vc_fail "warning text: $VC_ERR"
grep -q "backup 3 (inc) of vm done" <<<"$VC_ERR" || vc_fail "not an incremental: $VC_ERR"
expect_exit 0 vck "$H" restore "$VC_TMP/local/vm" -o "$VC_TMP/r"
assert_same_disk "$VC_TMP/r/vda.qcow2" "$VC_TMP/a.ref" "backup made despite the warning"
vc_log "ok: warned on a local directory of a cluster node"

# What the admin guide says happens after a move to a node whose backup
# directory is its own (here: another directory): -l inc makes no backup
# (exit 3); auto makes a full one there, which retires the first
# directory's chain, whose next backup is then full as well.
ref_write "$H" vm vda a 0x44 3M 1M
expect_exit 3 vck "$H" backup vm -o "$VC_TMP/local/other" "${RUN[@]}" -l inc
grep -q "cannot make an inc backup of vm: no backup chain in this directory yet; a full backup is needed" <<<"$VC_ERR" ||
	vc_fail "-l inc into a new directory: $VC_ERR"
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/local/other" "${RUN[@]}"
grep -q "backup 1 (full) of vm done" <<<"$VC_ERR" || vc_fail "auto into a new directory: $VC_ERR"
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
grep -q "backup 4 (full) of vm done" <<<"$VC_ERR" || vc_fail "back in the first directory: $VC_ERR"
grep -q "is neither in libvirt nor redefinable" <<<"$VC_ERR" || vc_fail "why full: $VC_ERR"
vc_log "ok: a second directory costs a full backup in each"

vc_log PASS
