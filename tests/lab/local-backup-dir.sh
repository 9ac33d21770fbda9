#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The local-backup-dir warning from virtckptd's view of the cluster: on a
# node whose corosync.conf cannot be read (covered by a tmpfs once
# corosync runs), a backup into a node-local directory warns while the
# daemon reports two members, and not once the other node has left.
# (tests/integration/local-backup-dir.sh covers corosync.conf's node list,
# tests/unit/test-shared-dir.c the filesystem table.)

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

vc_init
vc_corosync_cluster 2
vc_daemon_start n1
vc_daemon_start n2
vc_wait_synced n1 2
vc_node_libvirtd_start n1
vc_on n1 mount -t tmpfs -o mode=0755 virtckpt-corosync /etc/corosync
RUN=(--rundir "$VC_TMP/run")
WARNING="is on a local filesystem (tmpfs) of a node in a cluster of 2"

ref_domain n1 vm a 8
mkdir -p "$VC_TMP/local"
vc_on n1 mount -t tmpfs -o mode=0700 virtckpt-local "$VC_TMP/local"

expect_exit 0 vnck n1 backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
vc_assert_eq 1 "$(grep -c "$WARNING" <<<"$VC_ERR")" "warned with two members"
vc_log "ok: warned while virtckptd reports two members"

vc_daemon_stop n2
vc_wait_synced n1 1
ref_write n1 vm vda a 0x33 1M 1M
expect_exit 0 vnck n1 backup vm -o "$VC_TMP/local/vm" "${RUN[@]}"
if grep -q "local filesystem" <<<"$VC_ERR"; then vc_fail "warned with one member: $VC_ERR"; fi
grep -q "backup 2 (inc) of vm done" <<<"$VC_ERR" || vc_fail "not an incremental: $VC_ERR"
vc_log "ok: no warning once this node is alone"
vc_log PASS
