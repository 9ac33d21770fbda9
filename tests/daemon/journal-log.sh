#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtckptd -f under systemd (StandardError=journal) logs each line once:
# when $JOURNAL_STREAM names its stderr, every line goes there with its
# syslog priority ("<5>...") and nothing goes to syslog, which the journal
# would record a second time.  When $JOURNAL_STREAM names another stream,
# stderr is not the journal: plain lines on stderr and syslog as before.
#
# syslog is captured by a datagram socket bound on /dev/log in a private
# mount namespace (a private network namespace too: the daemon's IPC name
# is an abstract socket).  No corosync: the daemon starts, fails to reach
# it, and is stopped.

set -eu -o pipefail
: "${abs_top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
daemon=$abs_top_builddir/helper/virtckptd
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
	echo "SKIP: $*" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
}

[[ $(id -u) == 0 ]] || skip "needs root (private mount and network namespaces)"
command -v perl >/dev/null || skip "needs perl"
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done
	wait 2>/dev/null || :
	rm -rf "$tmp"
}
trap cleanup EXIT

# run NAME JOURNAL_STREAM: the daemon's stderr in $tmp/NAME.err, what it
# sent to syslog in $tmp/NAME.syslog.
run() {
	local name=$1 js=$2 dir=$tmp/$1 pid i
	mkdir -p "$dir/dev/shm"
	: >"$tmp/$name.err"
	: >"$tmp/$name.syslog"
	perl -MIO::Socket::UNIX -MSocket -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0])
			or die "bind $ARGV[0]: $!";
		open my $out, ">>", $ARGV[1] or die; $out->autoflush (1);
		while (defined $s->recv (my $buf, 65536)) { print $out "$buf\n" }
	' "$dir/dev/log" "$tmp/$name.syslog" &
	pids+=($!)
	for ((i = 0; i < 50; i++)); do [[ -S "$dir/dev/log" ]] && break; sleep 0.1; done
	[[ -S "$dir/dev/log" ]] || fail "no syslog socket"
	[[ "$js" == stderr ]] && js=$(stat -c '%d:%i' "$tmp/$name.err")
	# shellcheck disable=SC2016 # expanded by the inner shell
	JOURNAL_STREAM=$js unshare -m -n --propagation private sh -c '
		set -e
		for n in null zero random urandom; do
			: >"$1/dev/$n"; mount --bind "/dev/$n" "$1/dev/$n"
		done
		mount -t tmpfs tmpfs "$1/dev/shm"
		mount --rbind "$1/dev" /dev
		exec "$2" -f -s "$1/store" 2>>"$3"
	' sh "$dir" "$daemon" "$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q 'starting, store' "$tmp/$name.err" && break
		sleep 0.1
	done
	grep -q 'starting, store' "$tmp/$name.err" ||
		fail "$name: virtckptd did not start: $(cat "$tmp/$name.err")"
	sleep 1
	kill -TERM "$pid"
	wait "$pid" || :
	sleep 0.3
}

run journal stderr
err=$(cat "$tmp/journal.err")
[[ ! -s "$tmp/journal.syslog" ]] ||
	fail "stderr is the journal, yet syslog got (the journal has these twice): $(cat "$tmp/journal.syslog")"
grep -q '^<5>virtckptd .* starting, store ' <<<"$err" ||
	fail "no '<5>' start line on the journal stream: $err"
! grep -v '^<[0-7]>' <<<"$err" ||
	fail "lines without a priority on the journal stream"

run other 1:1
grep -q '^<30>virtckptd\|starting, store' "$tmp/other.syslog" ||
	fail "syslog capture got no start line: $(cat "$tmp/other.syslog")"
grep -q 'virtckptd\[[0-9]*\]: notice: virtckptd .* starting' "$tmp/other.err" ||
	fail "stderr is not the journal, yet: $(cat "$tmp/other.err")"
! grep -q '^<[0-7]>' "$tmp/other.err" ||
	fail "priority prefixes on a stderr that is not the journal"
echo PASS
