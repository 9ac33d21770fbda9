#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# "virtckpt cancel" signals only the backup that holds the domain's run
# lock.  While another process holds the lock, a lock file naming
# 4294967295 (once kill(-1)), -1, 0, 1, cancel's own pid, garbage, a live
# process that does not hold the lock, or the holder with another start
# time (a reused pid) gets nobody signalled: cancel fails with a clear
# error and every process lives.  A holder recorded with its true start
# time is cancelled, and the lock file is emptied.  (A real backup being
# cancelled: backup-interrupted.sh.)
#
# Runs in a private host: its PID namespace keeps a kill(-1) of a faulty
# virtckpt inside the test.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
RUN=$VC_TMP/run
# libvirt's test driver runs a domain named "test": no QEMU needed.
CANCEL=(-c test:///default --rundir "$RUN" cancel --grace 0 --wait 3)
expect_exit 0 vc_on "$H" "$VIRTCKPT" "${CANCEL[@]}" -- test
LOCK=$RUN/test.xml.lock
[[ -e "$LOCK" ]] || vc_fail "cancel made no lock file $LOCK"

# start_of PID : field 22 of /proc/PID/stat in the host.
start_of() {
	vc_on "$H" cut -d' ' -f22 "/proc/$1/stat"
}

# alive PID WHAT : PID still runs in the host.
alive() {
	vc_on "$H" kill -0 "$1" 2>/dev/null || vc_fail "$2 (pid $1) was killed"
}

# spawn FILE CMD... : CMD in the host, in the background; its pid there in
# FILE.
spawn() {
	local file=$1
	shift
	# shellcheck disable=SC2016
	vc_on "$H" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$file" "$@" \
		</dev/null >/dev/null 2>&1 &
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -s "$file" ]] && return 0
		sleep 0.05
	done
	vc_fail "could not start $*"
}

# The lock holder: takes the lock itself (so the kernel names it), ends
# on SIGTERM as a backup would.
# shellcheck disable=SC2016
spawn "$VC_TMP/holder.pid" perl -e '
	use Fcntl qw(:flock);
	open(my $f, "+<", $ARGV[0]) or die "open: $!";
	flock($f, LOCK_EX) or die "flock: $!";
	$SIG{TERM} = sub { exit 0 };
	sleep 600 while 1;' "$LOCK"
spawn "$VC_TMP/victim.pid" sleep 600
HOLDER=$(<"$VC_TMP/holder.pid")
VICTIM=$(<"$VC_TMP/victim.pid")
for ((i = 0; i < 100; i++)); do
	vc_on "$H" flock -n "$LOCK" true 2>/dev/null || break
	sleep 0.05
done
((i < 100)) || vc_fail "the holder did not take the lock"
vc_log "holder pid $HOLDER, unrelated sleep pid $VICTIM (in the host)"

# refused RECORD WHAT : with RECORD in the lock file, cancel signals nobody.
refused() {
	printf '%s\n' "$1" >"$LOCK"
	expect_exit 1 vc_on "$H" "$VIRTCKPT" "${CANCEL[@]}" -- test
	grep -q "not signalling anyone" <<<"$VC_ERR" ||
		vc_fail "$2: cancel did not refuse: $VC_ERR"
	alive "$HOLDER" "$2: the lock holder"
	alive "$VICTIM" "$2: the unrelated sleep"
	vc_on "$H" flock -n "$LOCK" true 2>/dev/null &&
		vc_fail "$2: the lock holder let go of the lock"
	vc_log "ok: $2: $VC_ERR"
}

refused 4294967295 "pid 4294967295 (kill -1)"
refused -1 "pid -1"
refused 0 "pid 0"
refused 1 "pid 1"
refused "1 $(start_of 1)" "pid 1 with its start time"
refused garbage "garbage"
refused "12abc" "a number with garbage"
refused "$VICTIM" "the unrelated sleep, without start time"
refused "$VICTIM $(start_of "$VICTIM")" "the unrelated sleep, with its start time"
refused "$HOLDER" "the holder, without start time"
refused "$HOLDER 1" "the holder with another start time (a reused pid)"
refused "$HOLDER $(start_of "$HOLDER") trailing" "the holder with trailing garbage"

# cancel's own pid: bash execs virtckpt, which keeps bash's pid and start.
printf '%s\n' "self" >"$LOCK"
# shellcheck disable=SC2016
expect_exit 1 vc_on "$H" bash -c 'echo "$$ $(cut -d" " -f22 /proc/$$/stat)" >"$1"; shift; exec "$@"' \
	_ "$LOCK" "$VIRTCKPT" "${CANCEL[@]}" -- test
grep -q "not signalling anyone" <<<"$VC_ERR" || vc_fail "cancel's own pid: $VC_ERR"
alive "$HOLDER" "cancel's own pid: the lock holder"
vc_log "ok: cancel's own pid: $VC_ERR"

# The holder, as recorded by a backup: cancelled, and the record cleared.
printf '%s %s\n' "$HOLDER" "$(start_of "$HOLDER")" >"$LOCK"
expect_exit 0 vc_on "$H" "$VIRTCKPT" "${CANCEL[@]}" -- test
grep -qE "the backup of test \(pid $HOLDER\) was cancelled" <<<"$VC_ERR" ||
	vc_fail "the holder was not cancelled: $VC_ERR"
vc_on "$H" kill -0 "$HOLDER" 2>/dev/null && vc_fail "the holder still runs"
alive "$VICTIM" "after the cancel: the unrelated sleep"
vc_assert_eq 0 "$(stat -c %s "$LOCK")" "cancel emptied the lock file"
vc_on "$H" kill "$VICTIM"

# The runtime directory must be root's alone: its locks name whom cancel
# signals.
chmod 0777 "$RUN"
expect_error 1 "runtime directory $RUN is writable by others \(mode 0777\): refusing" \
	vc_on "$H" "$VIRTCKPT" "${CANCEL[@]}" -- test
chmod 0755 "$RUN"
ln -s "$RUN" "$VC_TMP/run-link"
expect_error 1 "runtime directory $VC_TMP/run-link is a symbolic link" \
	vc_on "$H" "$VIRTCKPT" -c test:///default --rundir "$VC_TMP/run-link" cancel -- test
vc_log PASS
