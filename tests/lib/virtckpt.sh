# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/virtckpt.sh - what virtckpt's tests share on top of functions.sh:
# running the CLI inside a test host and checking its exit status and its
# one-line errors.

# shellcheck source-path=SCRIPTDIR source=functions.sh
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

: "${VIRTCKPT:=${abs_top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/helper/virtckpt}"
[[ -x "$VIRTCKPT" ]] || { echo "virtckpt not built: $VIRTCKPT" >&2; exit 99; }

# Under VIRTCKPT_VALGRIND=1 every virtckpt run goes through memcheck; a
# memory error or a definite leak makes it exit 99, which fails the test.
VC_VALGRIND=()
if [[ "${VIRTCKPT_VALGRIND:-0}" == 1 ]]; then
	VC_VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite --show-leak-kinds=definite)
fi

# vc_single_host HOST : vc_init, then one libvirt host HOST, named in $H,
# and the test's own store in $VC_STORE: a test must never read or write
# the real host's default store.
vc_single_host() {
	vc_init
	H=${1:?vc_single_host HOST}
	VC_STORE=$VC_TMP/store
	vc_host_start "$H"
}

# vck HOST ARGS... : virtckpt inside HOST, using the test's store.
vck() {
	local host=$1
	shift
	vc_on "$host" "${VC_VALGRIND[@]}" "$VIRTCKPT" --store "$VC_STORE" "$@"
}

# expect_exit CODE CMD... : runs CMD, fails the test unless it exits CODE.
# Its stderr is kept in $VC_ERR, its stdout in $VC_OUT.
expect_exit() {
	local want=$1 got=0
	shift
	VC_OUT=$("$@" 2>"$VC_TMP/stderr") || got=$?
	VC_ERR=$(<"$VC_TMP/stderr")
	if [[ "$got" != "$want" ]]; then
		vc_log "stdout: $VC_OUT"
		vc_log "stderr: $VC_ERR"
		vc_fail "expected exit $want, got $got: $*"
	fi
}

# expect_error CODE PATTERN CMD... : CMD exits CODE with exactly one
# line on stderr, matching the extended regex PATTERN.
expect_error() {
	local want=$1 pattern=$2
	shift 2
	expect_exit "$want" "$@"
	[[ $(wc -l <<<"$VC_ERR") -eq 1 ]] ||
		vc_fail "expected a one-line error from '$*', got: $VC_ERR"
	grep -qE -- "$pattern" <<<"$VC_ERR" ||
		vc_fail "error of '$*' does not match /$pattern/: $VC_ERR"
	vc_log "ok: $VC_ERR"
}

# checkpoint_names HOST DOM : libvirt's checkpoints of DOM, one per line,
# parents first.
checkpoint_names() {
	vc_virsh "$1" checkpoint-list "$2" --name --topological | sed '/^$/d'
}

# store_digest : a digest of every file in the store (names and bytes).
store_digest() {
	(cd "$VC_STORE" && find . -type f ! -name .lock -print0 | sort -z |
		xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# assert_health HOST DOM MSG PYTHON-EXPRESSIONS : "status --json DOM" in
# HOST; each line of PYTHON-EXPRESSIONS must hold of h (DOM's object), lb
# (its last_backup) and ok (its last_ok).  $1... of the expressions:
# sys.argv[3:] are the words after them (pass values that way).
assert_health() {
	local host=$1 dom=$2 msg=$3 exprs=$4
	shift 4
	expect_exit 0 vck "$host" status --json -- "$dom"
	python3 - "$exprs" "$VC_OUT" "$@" <<'PY' || vc_fail "$msg: $(vck "$host" status -- "$dom")"
import json, sys
d = json.loads(sys.argv[2])
h = d["domains"][0]
lb, ok = h["last_backup"], h["last_ok"]
for line in sys.argv[1].strip().splitlines():
    if not eval(line.strip()):
        sys.exit("failed: " + line.strip() + "\n" + json.dumps(h, indent=1))
PY
	vc_log "ok: $msg"
}

# backup_read DIR ID [DISK] : the bytes backup ID read from DISK (default
# vda), from DIR's manifest.
backup_read() {
	perl -0ne 'print $1 if /<backup id="'"$2"'".*?<disk name="'"${3:-vda}"'"[^>]* read="(\d+)"/s' \
		"$1/manifest.xml"
}

# backup_times DIR : "ID STARTED LEVEL" for each backup in DIR's manifest,
# by id (STARTED: seconds since 1970, when it started); nothing when DIR
# has no manifest yet.
backup_times() {
	[[ -f "$1/manifest.xml" ]] || return 0
	perl -0ne 'while (/<backup\s([^>]*)>/g) {
			my %a = $1 =~ /([\w-]+)="([^"]*)"/g;
			print "$a{id} $a{started} $a{level}\n";
		}' "$1/manifest.xml" | sort -n
}

# --- a backup caught while it runs ------------------------------------------
#
# backup_in_background DIR CMD... : runs CMD (a virtckpt backup into DIR,
# slow enough to be caught: --in-flight 1 --request-size 65536) in the
# background, output in $VC_TMP/bg.out, and waits until it copies data.
# Sets BG (the shell job, for wait) and BACKUP_PID (the virtckpt process,
# as the real host sees it).
# wait_sched_backup (below) catches a backup a schedule started instead.
# suspend_backup / resume_backup : SIGSTOP / SIGCONT it, as ^Z and fg
# would.  resume_backup also resumes the nsenter that runs it in the test
# host: nsenter stops itself when its child stops, and only a SIGCONT of
# its own resumes it.  suspend_backup makes the host's stop resume it too
# (VC_STOP_HOOKS), so that a failing test does not leave it behind.
backup_in_background() {
	local dir=$1 i comm=virtckpt
	shift
	# (under valgrind the process is valgrind's tool, named so)
	((${#VC_VALGRIND[@]} == 0)) || comm=memcheck-amd64-
	"$@" >"$VC_TMP/bg.out" 2>&1 &
	BG=$!
	BACKUP_PID=""
	for ((i = 0; i < 200; i++)); do
		if [[ -n "$(find "$dir" -path '*/.partial-*/vda.qcow2' -size +1k 2>/dev/null)" ]]; then
			BACKUP_PID=$(_vc_descendant "$BG" "$comm")
			[[ -z "$BACKUP_PID" ]] || return 0
		fi
		sleep 0.05
	done
	cat "$VC_TMP/bg.out" >&2
	vc_fail "the background backup did not start copying into $dir"
}

# wait_copied DIR MIB : the background backup's new image in DIR holds
# MIB MiB (an interruption lands there).
wait_copied() {
	local i size
	for ((i = 0; i < 1200; i++)); do
		size=$(stat -c %s "$1"/.partial-*/vda.qcow2 2>/dev/null | head -1 || true)
		[[ -n "$size" ]] && ((size >= $2 * 1048576)) && return 0
		sleep 0.05
	done
	cat "$VC_TMP/bg.out" >&2
	vc_fail "the background backup did not copy $2 MiB into $1"
}

# wait_sched_backup DIR DOM [TIMEOUT] : waits until a backup of DOM into
# DIR that "virtckpt schedule run" started (on any host of the test)
# copies data, and sets BACKUP_PID to it (as the real host sees it), for
# suspend_backup.  Returns 1 when none did within TIMEOUT s (default 30).
wait_sched_backup() {
	local dir=$1 dom=$2 timeout=${3:-30} i
	BACKUP_PID=""
	for ((i = 0; i < timeout * 20; i++)); do
		if [[ -n "$(find "$dir" -path '*/.partial-*/vda.qcow2' -size +1k 2>/dev/null)" ]]; then
			BACKUP_PID=$(pgrep -f -- " backup --no-progress --level [a-z]+ -o $dir -- $dom\$" | head -n 1 || true)
			[[ -z "$BACKUP_PID" ]] || return 0
		fi
		sleep 0.05
	done
	return 1
}

suspend_backup() {
	kill -STOP "$BACKUP_PID"
	[[ " ${VC_STOP_HOOKS[*]} " == *" resume_backup "* ]] || VC_STOP_HOOKS+=(resume_backup)
}

resume_backup() {
	local parent
	[[ -n "${BACKUP_PID:-}" ]] || return 0
	kill -CONT "$BACKUP_PID" 2>/dev/null || true
	parent=$(ps -o ppid= -p "$BACKUP_PID" 2>/dev/null | tr -d ' ')
	[[ -z "$parent" ]] || kill -CONT "$parent" 2>/dev/null || true
}

# wait_backup_interrupted WHAT : the background backup ends with exit 1,
# saying it was interrupted by SIGTERM and committed nothing.
wait_backup_interrupted() {
	local rc=0
	wait "$BG" || rc=$?
	vc_assert_eq 1 "$rc" "$1: the backup exited 1"
	grep -q "backup interrupted by signal 15: nothing was committed" "$VC_TMP/bg.out" ||
		vc_fail "$1: the backup said: $(cat "$VC_TMP/bg.out")"
}

# _vc_descendant PID NAME : the first descendant of PID named NAME.
_vc_descendant() {
	ps -e -o pid=,ppid=,comm= | awk -v root="$1" -v want="$2" '
		{ parent[$1] = $2; name[$1] = $3 }
		END {
			for (p in parent) {
				if (name[p] != want) continue
				for (q = parent[p]; q in parent && q != root && q > 1; q = parent[q]) ;
				if (q == root) { print p; exit }
			}
		}'
}

# --- disks whose expected content the test knows -------------------------
#
# Every guest write goes to the running domain and to a raw reference file
# of the same disk, so a restore can be compared with what the guest disk
# must hold, independently of QEMU and of virtckpt.

# ref_disk NAME SIZE_MIB : a qcow2 image $VC_TMP/NAME.qcow2 full of random
# data, and its reference $VC_TMP/NAME.ref.
ref_disk() {
	local name=$1 mib=$2
	head -c "$((mib * 1048576))" /dev/urandom >"$VC_TMP/$name.ref"
	qemu-img convert -q -f raw -O qcow2 "$VC_TMP/$name.ref" "$VC_TMP/$name.qcow2"
}

# ref_domain HOST DOM NAME MIB [NAME MIB]... : transient domain DOM
# running on HOST, its disks vda, vdb, ... made by ref_disk NAME MIB; its
# XML in $VC_TMP/DOM.xml, to create it again.
ref_domain() {
	local host=$1 dom=$2 imgs=()
	shift 2
	while (($#)); do
		ref_disk "$1" "${2:?ref_domain: no size for disk $1}"
		imgs+=("$VC_TMP/$1.qcow2")
		shift 2
	done
	vc_domain_xml "$dom" "${imgs[@]}" >"$VC_TMP/$dom.xml"
	vc_virsh "$host" create "$VC_TMP/$dom.xml" >/dev/null
}

# ref_write HOST DOM TARGET REFNAME PATTERN OFFSET LENGTH
ref_write() {
	vc_guest_write "$1" "$2" "$3" "$5" "$6" "$7"
	qemu-io -f raw -c "write -P $5 $6 $7" "$VC_TMP/$4.ref" >/dev/null
}

# ref_zero / ref_discard HOST DOM TARGET REFNAME OFFSET LENGTH
ref_zero() {
	vc_guest_zero "$1" "$2" "$3" "$5" "$6"
	qemu-io -f raw -c "write -z $5 $6" "$VC_TMP/$4.ref" >/dev/null
}
ref_discard() {
	vc_guest_discard "$1" "$2" "$3" "$5" "$6"
	qemu-io -f raw -c "write -z $5 $6" "$VC_TMP/$4.ref" >/dev/null
}

# ref_write_offline REFNAME PATTERN OFFSET LENGTH [IMAGE] : writes to the
# image (default $VC_TMP/REFNAME.qcow2) of a stopped domain directly
# (qemu-io), and to its reference.
ref_write_offline() {
	local img=${5:-$VC_TMP/$1.qcow2}
	qemu-io -f qcow2 -c "write -P $2 $3 $4" "$img" >/dev/null ||
		vc_fail "qemu-io cannot write to $img"
	qemu-io -f raw -c "write -P $2 $3 $4" "$VC_TMP/$1.ref" >/dev/null
}

# vc_trap_loop : the test attaches a loop device; its name goes in LOOP,
# and the EXIT trap detaches it before vc_cleanup.
vc_trap_loop() {
	LOOP=""
	trap _vc_loop_exit EXIT
}
_vc_loop_exit() {
	local rc=$?
	[[ -z "$LOOP" ]] || losetup -d "$LOOP" || rc=1
	vc_cleanup
	exit "$rc"
}

# ref_snapshot REFNAME TAG : keeps the reference as it is now.
ref_snapshot() {
	cp --sparse=always "$VC_TMP/$1.ref" "$VC_TMP/$1.ref@$2"
}

# assert_same_disk IMAGE REFERENCE MSG : qemu-img compare, byte for byte.
assert_same_disk() {
	local out
	if ! out=$(qemu-img compare -q "$2" "$1" 2>&1); then
		out=$(qemu-img compare "$2" "$1" 2>&1 || true)
		vc_fail "$3: $1 differs from $2: $out"
	fi
	vc_log "ok: $3"
}

# flip_byte FILE OFFSET : inverts the lowest bit of one byte (twice restores).
flip_byte() {
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
		binmode $f; seek($f, $ARGV[1], 0); read($f, my $c, 1) == 1 or die "short";
		seek($f, $ARGV[1], 0); print $f chr(ord($c) ^ 1); close($f) or die' "$1" "$2"
}

# --- the demos' narration ------------------------------------------------
#
# Both demos tell their story alike: a step in bold, the command a reader
# would type, and what it printed, indented under it.
vc_step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
vc_show() { printf '    $ %s\n' "$*"; }
vc_indent() { sed 's/^/    /'; }
