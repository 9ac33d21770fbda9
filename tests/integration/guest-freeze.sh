#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest freeze with a real Linux guest (tests/lib/guest.sh) whose writer
# fsyncs numbered records on ext4 while backups run:
# - a backup freezes the filesystem ("froze 1 filesystem", "thawed"): the
#   restored filesystem needs no journal recovery, e2fsck finds nothing,
#   and every record acknowledged before the freeze is there, intact; the
#   manifest calls it application-consistent;
# - SIGTERM while frozen thaws before virtckpt exits;
# - SIGKILL while frozen leaves the guest frozen: 'virtckpt thaw', or the
#   next backup, thaws it and says so, and that backup is application-
#   consistent; so also when virtckpt is killed while the agent is still
#   freezing (a slow freeze hook: the guest freezes after virtckpt died);
# - a guest frozen by another tool is left frozen, and the backup is
#   labelled crash-consistent;
# - a restored disk boots, and its agent reads the files back.
# The freeze window is held open by VIRTCKPT_TEST_FREEZE_PAUSE (test only).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/guest.sh
. "$(dirname "$0")/../lib/guest.sh"

for tool in mkfs.ext4 debugfs dumpe2fs e2fsck objcopy apt-get dpkg-deb; do
	command -v "$tool" >/dev/null || _vc_skip "$tool not found"
done
T0=$SECONDS
vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

t=$SECONDS
vc_guest_build
vc_log "figure: guest build (or cache lookup) $((SECONDS - t)) s"
mkdir -p "$VC_TMP/seed"
TOKEN=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
echo "$TOKEN" >"$VC_TMP/seed/MARKER"
vc_guest_disk "$VC_TMP/vm.qcow2" 64 "$VC_TMP/seed"
vc_guest_xml vm "$VC_TMP/vm.qcow2" >"$VC_TMP/vm.xml"
t=$SECONDS
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
vc_guest_wait_agent "$H" vm 120
vc_log "figure: boot to agent $((SECONDS - t)) s"

acked() { vc_guest_cat "$H" vm /run/acked 2>/dev/null || echo 0; }

# wait_acked N : the writer acknowledged record N.
wait_acked() {
	local i a
	for ((i = 0; i < 120; i++)); do
		a=$(acked)
		[[ "${a:-0}" -ge "$1" ]] && return 0
		sleep 0.5
	done
	vc_fail "the guest's writer did not reach record $1 (at ${a:-none})"
}

# wait_file_line FILE PATTERN SECS : FILE gets a line matching PATTERN.
wait_file_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	vc_fail "no /$2/ in $1 within $3 s: $(tr '\r' ' ' <"$1" | tail -n 20)"
}

assert_thawed() {
	vc_assert_eq thawed "$(vc_guest_freeze_status "$H" vm)" "$1"
}

# consistency ID : the consistency the manifest records for backup ID.
consistency() {
	perl -0ne 'print $1 if /<backup id="'"$1"'"[^>]* consistency="([a-z]+)"/' "$B/manifest.xml"
}

# check_restore ID : restores backup ID (raw) and checks its filesystem:
# clean (no journal to replay), and every record up to FROZEN_AT exact.
# Sets FROZEN.
check_restore() {
	local id=$1 dir=$VC_TMP/r$1 img n
	expect_exit 0 vck "$H" restore "$B" -o "$dir" --until "$id" --format raw
	img=$dir/vda.raw
	if dumpe2fs -h "$img" 2>/dev/null | grep '^Filesystem features:' | grep -q needs_recovery; then
		vc_fail "backup $id: the restored ext4 needs journal recovery (not frozen)"
	fi
	e2fsck -fn "$img" >"$dir/e2fsck.out" 2>&1 ||
		vc_fail "backup $id: e2fsck -fn found problems: $(cat "$dir/e2fsck.out")"
	debugfs -R "rdump /w $dir" "$img" >/dev/null 2>&1
	FROZEN=$(cat "$dir/w/FROZEN_AT" 2>/dev/null || true)
	if [[ ! "$FROZEN" =~ ^[1-9][0-9]*$ ]]; then
		vc_fail "backup $id: no FROZEN_AT record count in the restored disk"
	fi
	for ((n = 1; n <= FROZEN; n++)); do
		cmp -s "$dir/w/$n" <(vc_guest_record "$n") ||
			vc_fail "backup $id: record $n of $FROZEN (acknowledged before the freeze) is missing or wrong"
	done
	vc_log "ok: backup $id restores a clean ext4 with records 1..$FROZEN intact"
	rm -f "$img"
}

# bg_backup : a backup in the background (output in $VC_TMP/bg.out); BG is
# the shell job.
bg_backup() {
	# Emptied here: the background job's own redirection may come after
	# the caller's first look, which would find the last run's lines.
	: >"$VC_TMP/bg.out"
	vck "$H" backup vm -o "$B" "${RUN[@]}" >"$VC_TMP/bg.out" 2>&1 &
	BG=$!
}

# --- 1. application-consistent, with the writer running ------------------
wait_acked 10
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "notice: froze 1 filesystem of vm" <<<"$VC_ERR" || vc_fail "no 'froze': $VC_ERR"
grep -q "notice: thawed vm" <<<"$VC_ERR" || vc_fail "no 'thawed': $VC_ERR"
grep -q "backup 1 of vm is application-consistent" <<<"$VC_ERR" || vc_fail "summary: $VC_ERR"
vc_assert_eq application "$(consistency 1)" "the manifest calls backup 1 application-consistent"
assert_thawed "the guest runs thawed after backup 1"
check_restore 1
vc_assert_eq "$FROZEN" "$(vc_guest_cat "$H" vm /data/w/FROZEN_AT)" "the restored freeze point is the guest's"
a=$(acked)
wait_acked $((a + 2))
vc_log "ok: the writer goes on after the thaw"
# Control: the check above can fail.  A copy of the running disk, not
# frozen, has a journal to replay.
qemu-img convert -U -f qcow2 -O raw "$VC_TMP/vm.qcow2" "$VC_TMP/control.raw"
dumpe2fs -h "$VC_TMP/control.raw" 2>/dev/null | grep '^Filesystem features:' | grep -q needs_recovery ||
	vc_fail "control: a copy of the live disk does not need recovery: the check proves nothing"
rm -f "$VC_TMP/control.raw"
vc_log "ok: control: a copy of the live, unfrozen disk needs journal recovery"

# --- 2. SIGTERM while frozen: thawed before virtckpt exits ---------------
export VIRTCKPT_TEST_FREEZE_PAUSE=120
bg_backup
wait_file_line "$VC_TMP/bg.out" "froze 1 filesystem of vm" 60
vc_assert_eq frozen "$(vc_guest_freeze_status "$H" vm)" "frozen during the test pause"
kill -TERM "$(_vc_descendant "$BG" virtckpt)"
rc=0
wait "$BG" || rc=$?
vc_assert_eq 1 "$rc" "SIGTERM: the backup exited 1"
grep -q "backup interrupted by signal 15: nothing was committed" "$VC_TMP/bg.out" ||
	vc_fail "SIGTERM: $(cat "$VC_TMP/bg.out")"
grep -q "thawed vm" "$VC_TMP/bg.out" || vc_fail "SIGTERM: no 'thawed': $(cat "$VC_TMP/bg.out")"
assert_thawed "thawed at once after SIGTERM"
[[ -z "$(find "$VC_TMP/run" -name '*.frozen')" ]] || vc_fail "SIGTERM: the freeze marker is left"

# --- 3. SIGKILL while frozen: 'virtckpt thaw' thaws it -------------------
bg_backup
wait_file_line "$VC_TMP/bg.out" "froze 1 filesystem of vm" 60
KILLED=$(_vc_descendant "$BG" virtckpt)
kill -KILL "$KILLED"
wait "$BG" || true
vc_assert_eq frozen "$(vc_guest_freeze_status "$H" vm)" "SIGKILL leaves the guest frozen"
MARKER=$(find "$VC_TMP/run" -name '*.frozen')
[[ -n "$MARKER" ]] || vc_fail "SIGKILL: no freeze marker"
cp "$MARKER" "$VC_TMP/marker.saved"
unset VIRTCKPT_TEST_FREEZE_PAUSE
expect_exit 0 vck "$H" thaw vm "${RUN[@]}"
grep -q "vm was left frozen by a virtckpt that was killed (pid [0-9]*): thawed" <<<"$VC_ERR" ||
	vc_fail "thaw: $VC_ERR"
assert_thawed "'virtckpt thaw' thawed the guest"
expect_exit 0 vck "$H" -v thaw vm "${RUN[@]}"
grep -q "nothing to thaw" <<<"$VC_ERR" || vc_fail "second thaw: $VC_ERR"
[[ -z "$(find "$VC_TMP/run" -name '*.frozen')" ]] || vc_fail "thaw: the freeze marker is left"
# A marker whose guest is no longer frozen (restarted since): nothing thawed.
cp "$VC_TMP/marker.saved" "$MARKER"
expect_exit 0 vck "$H" -v thaw vm "${RUN[@]}"
grep -q "may have frozen vm, but it is not frozen" <<<"$VC_ERR" || vc_fail "stale marker: $VC_ERR"
[[ ! -e "$MARKER" ]] || vc_fail "stale marker: not removed"

# --- 3b. ... or the OCF agent's start does (default runtime directory) --
AGENT=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/agent/checkpoints
[[ "$AGENT" == /* ]] || AGENT=$PWD/$AGENT
if [[ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]]; then
	VIRTCKPT_TEST_FREEZE_PAUSE=120 vck "$H" backup vm -o "$B" >"$VC_TMP/bg.out" 2>&1 &
	BG=$!
	wait_file_line "$VC_TMP/bg.out" "froze 1 filesystem of vm" 60
	kill -KILL "$(_vc_descendant "$BG" virtckpt)"
	wait "$BG" || true
	vc_assert_eq frozen "$(vc_guest_freeze_status "$H" vm)" "SIGKILL leaves the guest frozen (default rundir)"
	expect_exit 0 vc_on "$H" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 \
		OCF_RESOURCE_INSTANCE=ckpt-vm OCF_RESOURCE_TYPE=checkpoints \
		OCF_RESOURCE_PROVIDER=virtckpt OCF_RESKEY_CRM_meta_timeout=120000 \
		OCF_RESKEY_domain=vm OCF_RESKEY_virtckpt="$VIRTCKPT" \
		OCF_RESKEY_store="$VC_STORE" OCF_RESKEY_require_daemon=false \
		"$AGENT" start
	grep -q "vm was left frozen by a virtckpt that was killed (pid [0-9]*): thawed" <<<"$VC_ERR" ||
		vc_fail "the agent's start did not say it thawed: $VC_ERR"
	assert_thawed "the agent's start thawed the guest"
else
	vc_log "resource-agents not installed: not running the OCF agent"
fi

# --- 4. a freeze by another tool is left alone, and labelled -------------
vc_virsh "$H" domfsfreeze vm >/dev/null
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "warning: cannot freeze the filesystems of vm" <<<"$VC_ERR" || vc_fail "frozen by another tool: $VC_ERR"
grep -q "backup 2 of vm is crash-consistent" <<<"$VC_ERR" || vc_fail "summary: $VC_ERR"
vc_assert_eq crash "$(consistency 2)" "the manifest calls backup 2 crash-consistent"
vc_assert_eq frozen "$(vc_guest_freeze_status "$H" vm)" "another tool's freeze is left alone"
vc_virsh "$H" domfsthaw vm >/dev/null

# --- 5. SIGKILL while the agent is still freezing: the next backup thaws --
# The guest's freeze hook sleeps 8 s (once): virtckpt dies waiting, and the
# guest freezes after it.  Needs no test hook in virtckpt.
vc_guest_agent "$H" vm '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","echo 8 >/run/freeze-delay"]}}' >/dev/null
lines=$(wc -l <"$VC_TMP/vm.console")
bg_backup
for ((i = 0; i < 600; i++)); do
	tail -n +"$((lines + 1))" "$VC_TMP/vm.console" | grep -q "freeze hook: sleeping" && break
	sleep 0.1
done
((i < 600)) || vc_fail "the guest's freeze hook did not run: $(cat "$VC_TMP/bg.out")"
kill -KILL "$(_vc_descendant "$BG" virtckpt)"
wait "$BG" || true
for ((i = 0; i < 60; i++)); do
	[[ "$(vc_guest_freeze_status "$H" vm)" == frozen ]] && break
	sleep 0.5
done
vc_assert_eq frozen "$(vc_guest_freeze_status "$H" vm)" "the guest froze after virtckpt was killed"
expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}"
grep -q "vm was left frozen by a virtckpt that was killed (pid [0-9]*): thawed" <<<"$VC_ERR" ||
	vc_fail "the next backup did not thaw first: $VC_ERR"
grep -q "notice: froze 1 filesystem of vm" <<<"$VC_ERR" || vc_fail "no 'froze': $VC_ERR"
grep -q "backup 3 of vm is application-consistent" <<<"$VC_ERR" || vc_fail "summary: $VC_ERR"
vc_assert_eq application "$(consistency 3)" "the manifest calls backup 3 application-consistent"
assert_thawed "the guest runs thawed after backup 3"
check_restore 3
a=$(acked)
wait_acked $((a + 2))

# --- 6. a restored disk boots ---------------------------------------------
expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/boot" --until 3
chmod 0711 "$VC_TMP/boot"     # QEMU's user opens the image in it
vc_guest_xml vm2 "$VC_TMP/boot/vda.qcow2" idle >"$VC_TMP/vm2.xml"
vc_virsh "$H" create "$VC_TMP/vm2.xml" >/dev/null
vc_guest_wait_agent "$H" vm2 120
vc_assert_eq "$TOKEN" "$(vc_guest_cat "$H" vm2 /data/MARKER)" "the restored guest reads its marker file"
vc_assert_eq "$FROZEN" "$(vc_guest_cat "$H" vm2 /data/w/FROZEN_AT)" "the restored guest sees the freeze point"

# The freeze and thaw path under memcheck (a copy: it freezes too).
if command -v valgrind >/dev/null; then
	expect_exit 0 vc_on "$H" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite --show-leak-kinds=definite \
		"$VIRTCKPT" --store "$VC_STORE" backup vm -o "$B" "${RUN[@]}" -l copy
	grep -q "backup 4 of vm is application-consistent" <<<"$VC_ERR" || vc_fail "memcheck run: $VC_ERR"
	vc_log "ok: a frozen backup is clean under memcheck"
fi

# What the manifest says survives later backups (each loads and saves it).
vc_assert_eq "application crash application" "$(consistency 1) $(consistency 2) $(consistency 3)" \
	"the manifest keeps each backup's consistency"

vc_log "figure: guest-freeze test $((SECONDS - T0)) s"
vc_log PASS
