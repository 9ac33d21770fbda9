#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckpt trusts only a virtckptd that runs as root and replicates a
# directory only root can write.
#  - An unprivileged process serving virtckptd's IPC name (here virtckptd
#    itself, run as nobody with a store of its own) is refused: capture,
#    redefine, checkpoints list and status exit 8 with "no trustworthy
#    daemon", read nothing from its store, write nothing anywhere, and
#    libvirt gets nothing redefined.
#  - A root virtckptd whose replica is world-writable is refused the same
#    way; made root's alone again, it is used.
#  - Without a daemon: a group-writable, foreign-owned or symlinked store
#    directory is refused with a clear message, and virtckptd refuses to
#    start on one.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

: "${VIRTCKPTD:=$(dirname "$VIRTCKPT")/virtckptd}"
[[ -x "$VIRTCKPTD" ]] || { echo "virtckptd not built: $VIRTCKPTD" >&2; exit 99; }

vc_init
H=h1
VC_STORE=$VC_TMP/store
# A network namespace of its own: libqb's IPC names are abstract sockets,
# per network namespace; the squatter must not meet the real host's.
vc_host_start "$H" --net
# A squatter answers and then never replicates: do not wait 120 s for it.
export VIRTCKPT_DAEMON_TIMEOUT=5

vc_make_image "$VC_TMP/vm.qcow2" 32M
vc_domain_xml vm "$VC_TMP/vm.qcow2" >"$VC_TMP/vm.xml"
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
vc_virsh "$H" checkpoint-create-as vm c1 >/dev/null
expect_exit 0 vck "$H" checkpoints capture vm
[[ -s "$VC_STORE/vm.xml" ]] || vc_fail "no store document after capture"

# spawn FILE CMD... : CMD in the host, in the background, its pid there in
# FILE, its output in FILE.log.
spawn() {
	local file=$1
	shift
	# shellcheck disable=SC2016
	vc_on "$H" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$file" "$@" \
		</dev/null >"$file.log" 2>&1 &
}

# answering : until something serves virtckptd's name in the host.
answering() {
	local i rc
	for ((i = 0; i < 100; i++)); do
		rc=0
		vc_on "$H" "$VIRTCKPT" status >/dev/null 2>&1 || rc=$?
		[[ $rc == 7 ]] || return 0
		sleep 0.1
	done
	vc_fail "nothing answers as virtckptd in $H"
}

# stop FILE : ends what spawn FILE started.
stop() {
	local pid i
	pid=$(<"$1")
	vc_on "$H" kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		vc_on "$H" kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	vc_fail "pid $pid in $H did not stop"
}

# digest DIR : names and bytes of every file in DIR but its lock.
digest() {
	(cd "$1" && find . -type f ! -name .lock -print0 | sort -z |
		xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# --- a squatter: virtckptd run as nobody ----------------------------------
# Its store offers a chain of vm for root to redefine.
SQ=$VC_TMP/squat
mkdir -m 0700 "$SQ"
cp "$VC_STORE/vm.xml" "$SQ/vm.xml"
chown -R nobody:nogroup "$SQ"
vc_virsh "$H" checkpoint-delete vm c1 --metadata >/dev/null
spawn "$VC_TMP/squatter" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$VIRTCKPTD" -f -s "$SQ"
answering
sq_before=$(digest "$SQ")
store_before=$(digest "$VC_STORE")
UNTRUSTED="no trustworthy daemon: the process answering as virtckptd \(pid [0-9]+\) runs as uid $(id -u nobody), not root"

expect_error 8 "$UNTRUSTED" vc_on "$H" "$VIRTCKPT" --store "$SQ" checkpoints list
[[ "$VC_OUT" != *vm* ]] || vc_fail "checkpoints list read the squatter's store: $VC_OUT"
expect_error 8 "$UNTRUSTED" vc_on "$H" "$VIRTCKPT" status
expect_error 8 "$UNTRUSTED" vc_on "$H" "$VIRTCKPT" --store "$SQ" -c qemu:///system \
	checkpoints redefine vm
vc_assert_eq "" "$(checkpoint_names "$H" vm | xargs)" "nothing redefined from the squatter"
vc_virsh "$H" checkpoint-create-as vm c2 >/dev/null
expect_error 8 "$UNTRUSTED" vc_on "$H" "$VIRTCKPT" --store "$SQ" -c qemu:///system \
	checkpoints capture vm
# Naming another store does not make the squatter harmless: refused too.
expect_error 8 "$UNTRUSTED" vck "$H" -c qemu:///system checkpoints capture vm
expect_error 8 "$UNTRUSTED" vck "$H" checkpoints list
vc_assert_eq "$sq_before" "$(digest "$SQ")" "the squatter's store is unchanged"
vc_assert_eq "$store_before" "$(digest "$VC_STORE")" "root's store is unchanged"
stop "$VC_TMP/squatter"
vc_log "ok: the squatter was refused by status, list, redefine and capture"

# --- a root virtckptd whose replica others can write ------------------------
RD=$VC_TMP/replica
spawn "$VC_TMP/rootd" "$VIRTCKPTD" -f -s "$RD"
answering
expect_exit 0 vc_on "$H" "$VIRTCKPT" status
chmod 0777 "$RD"
expect_error 8 "no trustworthy daemon: virtckptd \(pid [0-9]+\) replicates $RD, which is writable by others \(mode 0777\)" \
	vc_on "$H" "$VIRTCKPT" status
expect_error 8 "no trustworthy daemon" vc_on "$H" "$VIRTCKPT" --store "$RD" checkpoints list
chmod 0700 "$RD"
expect_exit 0 vc_on "$H" "$VIRTCKPT" status
grep -q "^state: " <<<"$VC_OUT" || vc_fail "status of the root daemon: $VC_OUT"
stop "$VC_TMP/rootd"
vc_log "ok: a root daemon is used only while its replica is root's alone"

# --- no daemon: the store directory itself --------------------------------
chmod 0770 "$VC_STORE"
expect_error 1 "checkpoint store $VC_STORE is writable by its group \(mode 0770\): refusing to use it" \
	vck "$H" checkpoints list
expect_error 1 "checkpoint store $VC_STORE is writable by its group" \
	vck "$H" -c qemu:///system checkpoints capture vm
chmod 0700 "$VC_STORE"
chown nobody "$VC_STORE"
expect_error 1 "checkpoint store $VC_STORE is owned by uid $(id -u nobody), not root" \
	vck "$H" checkpoints list
chown root "$VC_STORE"
ln -s "$VC_STORE" "$VC_TMP/store-link"
expect_error 1 "checkpoint store $VC_TMP/store-link is a symbolic link" \
	vc_on "$H" "$VIRTCKPT" --store "$VC_TMP/store-link" checkpoints list
vc_assert_eq "$store_before" "$(digest "$VC_STORE")" "root's store is still unchanged"
# virtckptd refuses such a replica too.
mkdir -m 0775 "$VC_TMP/gw"
rc=0
vc_on "$H" "$VIRTCKPTD" -f -s "$VC_TMP/gw" >"$VC_TMP/gw.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || vc_fail "virtckptd on a group-writable replica: exit $rc"
grep -q "checkpoint store $VC_TMP/gw is writable by its group" "$VC_TMP/gw.log" ||
	vc_fail "virtckptd did not say why: $(cat "$VC_TMP/gw.log")"
expect_exit 0 vck "$H" checkpoints list
grep -q "^vm " <<<"$VC_OUT" || vc_fail "root's own store, root's alone again, lists no vm: $VC_OUT"
vc_log PASS
