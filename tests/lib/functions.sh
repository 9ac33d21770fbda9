# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/functions.sh - harness for virtckpt integration tests.
#
# Starts real, private libvirtd + virtlogd "hosts" on this machine, each in
# its own mount + PID + UTS namespace, without touching the real host's
# libvirt state.  Source it from a bash test, then call vc_init first:
#
#     #!/bin/bash
#     set -eu -o pipefail
#     . "$(dirname "$0")/../lib/functions.sh"
#     vc_init
#     vc_host_start h1
#     vc_virsh h1 list --all
#
# Exit codes follow automake: 0 pass, 1 fail (vc_fail), 77 skip (missing
# prerequisites), 99 hard error (harness could not set itself up, or
# prerequisites missing while VIRTCKPT_REQUIRE_INTEGRATION=1).
#
# Environment knobs:
#   VIRTCKPT_REQUIRE_INTEGRATION=1  missing prerequisites are an error (99)
#   VC_KEEP_TMP=1                   keep $VC_TMP after the test (debugging)
#   VC_HOST_START_TIMEOUT=30        seconds to wait for libvirtd to answer
#   VC_LIBVIRT_CGROUPS=1            keep libvirt's default cgroup handling
#                                   (default: off in the private qemu.conf,
#                                   see _vc_prepare_etc)
#   VC_HIDE_KVM=auto|1|0            hide /dev/kvm inside hosts (see _vc_hide_kvm)
#   VC_TEST_NAME                    prefix for vc_log (default: script name)
#
# Per host NAME, under $VC_TMP/hosts/NAME/: init.pid (host PID of the
# namespace's PID 1), pidns, log/ (daemon start logs), root/ (the private
# /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt, /etc/libvirt and
# /etc/hosts; domain logs are in root/var/log/libvirt/qemu/DOM.log), nbd/
# (owned by libvirt-qemu, for NBD sockets).  Inside a host /run, /dev
# (copied device nodes, fresh devpts) and /dev/shm are private tmpfs.

# ---------------------------------------------------------------- globals --

VC_TEST_NAME=${VC_TEST_NAME:-$(basename "${0%.sh}")}
VC_TMP=${VC_TMP:-}
VC_HOSTS=()             # names of hosts started and not yet stopped
# Commands run before a host is stopped (also on failure), e.g. resuming a
# suspended process: a stopped parent outside the host would never reap
# it, and the host's stop would wait for it in vain.
VC_STOP_HOOKS=()
_VC_MAIN_PID=""         # $BASHPID of the shell that called vc_init
_VC_WATCHDOG=""         # PID of the watchdog started by vc_init
_VC_CLEANED=0

# Paths made private in every host (bind-mounted from $VC_TMP/hosts/NAME/root).
_VC_PRIVATE_DIRS=(/var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt)

# ---------------------------------------------------------------- logging --

# Prefix: test name and seconds since the library was sourced.
_VC_T0=${EPOCHREALTIME:-0}
vc_log() {
	local t
	t=$(awk -v a="$_VC_T0" -v b="${EPOCHREALTIME:-0}" 'BEGIN { printf "%.1f", b - a }')
	printf '%s [%ss]: %s\n' "$VC_TEST_NAME" "$t" "$*" >&2
}

# Test failure: exit 1.  Inside $(...) this only leaves the subshell; with
# "set -e" in the test the assignment then fails the test as well.
vc_fail() {
	vc_log "FAIL: $*"
	exit 1
}

# Harness failure (could not set up): exit 99 (automake hard error).
_vc_error() {
	vc_log "ERROR: $*"
	exit 99
}

vc_assert_eq() {
	local expected=$1 actual=$2 msg=${3:-values differ}
	if [[ "$expected" != "$actual" ]]; then
		vc_log "expected: [$expected]"
		vc_log "actual:   [$actual]"
		vc_fail "$msg"
	fi
	vc_log "ok: $msg"
}

# ------------------------------------------------------------------ init ---

_vc_skip() {
	if [[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]]; then
		vc_log "ERROR: $* (VIRTCKPT_REQUIRE_INTEGRATION=1)"
		exit 99
	fi
	vc_log "SKIP: $*"
	exit 77
}

vc_init() {
	local tool
	if [[ $EUID -ne 0 ]]; then
		_vc_skip "integration tests need root"
	fi
	for tool in libvirtd virtlogd virsh qemu-system-x86_64 qemu-img nbdinfo \
		tini unshare nsenter setpriv findmnt setsid timeout awk; do
		command -v "$tool" >/dev/null 2>&1 || _vc_skip "$tool not found"
	done
	getent passwd libvirt-qemu >/dev/null || _vc_skip "user libvirt-qemu missing"
	local d
	for d in "${_VC_PRIVATE_DIRS[@]}"; do
		[[ -d "$d" ]] || _vc_skip "$d missing (libvirt-daemon-system not installed?)"
	done

	_VC_MAIN_PID=$BASHPID
	_VC_CLEANED=0
	VC_HOSTS=()
	VC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/virtckpt-test.XXXXXXXX") ||
		_vc_error "mktemp failed"
	chmod 0755 "$VC_TMP"
	mkdir -p "$VC_TMP/hosts"
	export VC_TMP
	trap '_vc_exit_trap' EXIT
	trap 'vc_log "interrupted"; exit 130' INT
	trap 'vc_log "terminated"; exit 143' TERM
	_vc_start_watchdog
	vc_log "VC_TMP=$VC_TMP"
}

# If the test dies without running its EXIT trap (SIGKILL, e.g. a CI
# timeout), a watchdog kills its hosts' namespaces and removes $VC_TMP.  It
# reads a pipe whose only writer is the test shell (closed in every child the
# harness starts): EOF without "done" means the test died.  No polling.
_VC_WD_FD=""
_vc_start_watchdog() {
	# shellcheck disable=SC2016
	exec {_VC_WD_FD}> >(
		trap '' INT TERM HUP
		exec bash -c 'tmp=$1 keep=$2
			if read -r line && [ "$line" = done ]; then exit 0; fi
			for f in "$tmp"/hosts/*/init.pid; do
				[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
			done
			for i in $(seq 50); do
				grep -qF -- "$tmp" /proc/self/mountinfo /proc/[0-9]*/mountinfo 2>/dev/null || break
				sleep 0.1
			done
			[ "$keep" = 1 ] || rm -rf --one-file-system -- "$tmp"
			' vc-watchdog "$VC_TMP" "${VC_KEEP_TMP:-0}" >/dev/null 2>&1
	)
	_VC_WATCHDOG=$!
}

_vc_exit_trap() {
	local rc=$?
	vc_cleanup
	exit "$rc"
}

# Stops every host still running, then removes $VC_TMP.  Idempotent; does
# nothing in subshells (command substitutions) of the test.
vc_cleanup() {
	[[ -n "$_VC_MAIN_PID" && "$BASHPID" == "$_VC_MAIN_PID" ]] || return 0
	[[ "$_VC_CLEANED" == 0 ]] || return 0
	local name rc=0
	for name in "${VC_HOSTS[@]}"; do
		( vc_host_stop "$name" ) || rc=1
	done
	VC_HOSTS=()
	if [[ -n "$VC_TMP" && -d "$VC_TMP" ]]; then
		if grep -qF -- "$VC_TMP" /proc/self/mountinfo; then
			vc_log "ERROR: mounts under $VC_TMP remain on the real host, not removing it"
			rc=1
		elif [[ "${VC_KEEP_TMP:-0}" == 1 ]]; then
			vc_log "keeping $VC_TMP (VC_KEEP_TMP=1)"
		else
			rm -rf --one-file-system -- "$VC_TMP" || rc=1
		fi
	fi
	if [[ -n "$_VC_WD_FD" ]]; then
		echo "done" >&"$_VC_WD_FD" || true
		exec {_VC_WD_FD}>&-
		_VC_WD_FD=""
		wait "$_VC_WATCHDOG" 2>/dev/null || true
		_VC_WATCHDOG=""
	fi
	_VC_CLEANED=1
	return "$rc"
}

# ----------------------------------------------------------------- hosts ---

_vc_hostdir() {
	printf '%s/hosts/%s' "$VC_TMP" "$1"
}

# vc_host_pid NAME: host PID of the namespace's init (tini); returns 1 if
# the host is not running.
vc_host_pid() {
	local f
	f="$(_vc_hostdir "$1")/init.pid"
	[[ -s "$f" ]] || return 1
	local pid
	pid=$(<"$f")
	kill -0 "$pid" 2>/dev/null || return 1
	printf '%s\n' "$pid"
}

# vc_host_procs NAME: host PIDs of all processes in NAME's PID namespace.
vc_host_procs() {
	local nsf ns p
	nsf="$(_vc_hostdir "$1")/pidns"
	[[ -s "$nsf" ]] || return 0
	ns=$(<"$nsf")
	for p in /proc/[0-9]*; do
		[[ "$(readlink "$p/ns/pid" 2>/dev/null)" == "$ns" ]] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# Recreate the directory tree (directories only, same owners and modes) of
# SRC under DST.  Files are not copied: /var/lib/libvirt may hold images.
_vc_copy_tree() {
	local src=$1 dst=$2 rel
	mkdir -p "$dst"
	chown --reference="$src" "$dst"
	chmod --reference="$src" "$dst"
	while IFS= read -r -d '' rel; do
		mkdir -p "$dst/$rel"
		chown --reference="$src/$rel" "$dst/$rel"
		chmod --reference="$src/$rel" "$dst/$rel"
	done < <(cd "$src" && find . -mindepth 1 -type d -printf '%P\0')
}

# Private /etc/libvirt: a full copy of the real one, minus anything that
# would make the private libvirtd start things by itself.
_vc_prepare_etc() {
	local etc=$1 name=$2
	cp -a /etc/libvirt/. "$etc/"
	# no autostarted networks/storage pools, no persistent domains
	find "$etc" -path '*/autostart/*' -delete
	find "$etc/qemu" -maxdepth 1 -type f -name '*.xml' -delete 2>/dev/null || true
	# a distinct host UUID per host (libvirt refuses migrating to itself)
	printf '\n# added by virtckpt test harness\nhost_uuid = "%s"\n' \
		"$(cat /proc/sys/kernel/random/uuid)" >>"$etc/libvirtd.conf"
	# cgroups are global on the machine: with libvirt's default cgroup
	# handling (no systemd) every private host creates and leaves
	# /sys/fs/cgroup/*/machine on the REAL host, all hosts would share
	# machine/qemu-ID-NAME.libvirt-qemu, and a killed host would leave its
	# cgroups behind.  qemu user, security and ownership settings stay at
	# their defaults.
	if [[ "${VC_LIBVIRT_CGROUPS:-0}" != 1 ]]; then
		printf '\n# added by virtckpt test harness\ncgroup_controllers = [ ]\n' \
			>>"$etc/qemu.conf"
	fi
	: "$name"
}

# Should /dev/kvm be hidden inside the hosts?  When it exists but the qemu
# user cannot use it, libvirt's caps probe still reports KVM enabled while
# its validity check (access() as libvirt-qemu) says KVM is unusable: the
# cached capabilities are thrown away and re-probed (~0.7 s, about ten times
# per domain start, ~6 s per "virsh create").  (The probe runs with
# CAP_DAC_OVERRIDE, domains do not.)  Each host gets a private /dev (a tmpfs
# with copies of the real device nodes), without kvm in that case.  A bind
# mount over /dev/kvm does not do: libvirt moves /dev submounts into qemu's
# own /dev namespace and fails on file mounts ("Unable to move ... mount"),
# and the real /dev must be unmounted (lazily, in the private namespace
# only) rather than covered, or libvirt also tries to move the hidden
# /dev/pts and fails ("Unable to move /dev/pts mount ...").
# VC_HIDE_KVM=1/0 forces it; default: auto.
_vc_hide_kvm() {
	case ${VC_HIDE_KVM:-auto} in
	1) return 0 ;;
	0) return 1 ;;
	esac
	[[ -e /dev/kvm ]] || return 1
	! setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --init-groups \
		sh -c 'test -r /dev/kvm && test -w /dev/kvm' 2>/dev/null
}

# _vc_host_prepare NAME [DIR]... : host NAME's directory: its private
# copies of the libvirt directories (_VC_PRIVATE_DIRS) and of each DIR,
# their list in private.dirs, etc/libvirt for this host.  The caller then
# writes root/etc/hosts (bind-mounted over /etc/hosts in the host) and
# anything else the host needs before _vc_host_spawn.
_vc_host_prepare() {
	local name=$1 dir root d
	shift
	[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || _vc_error "bad host name '$name'"
	dir=$(_vc_hostdir "$name")
	[[ ! -e "$dir" ]] || _vc_error "host $name already exists"
	root=$dir/root
	mkdir -p "$dir/log" "$dir/nbd" "$root/dev"
	chown libvirt-qemu:libvirt-qemu "$dir/nbd"
	chmod 0755 "$dir" "$dir/log" "$dir/nbd"
	printf '%s\n' "${_VC_PRIVATE_DIRS[@]}" "$@" >"$dir/private.dirs"
	while IFS= read -r d; do
		_vc_copy_tree "$d" "$root$d"
	done <"$dir/private.dirs"
	_vc_prepare_etc "$root/etc/libvirt" "$name"
	: >"$root/etc/hosts"
	chmod 0644 "$root/etc/hosts"
	if _vc_hide_kvm; then
		touch "$root/.hide-kvm"
	fi
}

# _vc_host_spawn NAME NET : starts host NAME's namespaces in the background
# (NET 1: a network namespace of its own too); _vc_host_ready waits.
_vc_host_spawn() {
	local name=$1 net=$2 dir root netopt=() dirs
	dir=$(_vc_hostdir "$name")
	root=$dir/root
	mapfile -t dirs <"$dir/private.dirs"
	if ((net)); then
		netopt=(--net)
		touch "$dir/netns"
	fi
	# The namespace's first process sets up the private mounts and hostname,
	# then becomes tini (PID 1, reaps zombies) holding the namespace open.
	local setup
	# shellcheck disable=SC2016  # expanded by the inner shell
	setup='set -e
		root=$1 name=$2; shift 2
		mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
		mkdir -m 1777 /run/lock
		mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
		cp -ax /dev/. "$root/dev/"
		if [ -e "$root/.hide-kvm" ]; then rm -f "$root/dev/kvm"; fi
		umount -R -l /dev
		mount --move "$root/dev" /dev
		mkdir -p /dev/pts /dev/shm
		mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
		mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
		for d in "$@"; do mount --bind "$root$d" "$d"; done
		mount --bind "$root/etc/hosts" /etc/hosts
		hostname "$name"
		if [ -e "$root/../netns" ]; then ip link set lo up; fi
		touch "$root/.ready"
		exec tini -s -- sleep infinity'
	VC_HOSTS+=("$name")
	setsid unshare --mount --uts --pid "${netopt[@]}" --fork --kill-child=SIGKILL \
		--propagation private --mount-proc \
		bash -c "$setup" vc-init "$root" "$name" "${dirs[@]}" \
		</dev/null >>"$dir/log/init.log" 2>&1 {_VC_WD_FD}>&- &
	echo "$!" >"$dir/unshare.pid"
}

# _vc_host_ready NAME : waits (10 s at most) until host NAME's namespaces
# are set up; writes init.pid and pidns.
_vc_host_ready() {
	local dir
	dir=$(_vc_hostdir "$1")
	_vc_ns_ready "$dir" "$dir/root/.ready" 200 "host $1"
}

# _vc_ns_ready DIR READY TRIES WHAT : waits (TRIES times 50 ms at most)
# for the init of the namespaces that unshare (DIR/unshare.pid) started,
# and for it to create READY once its setup is done; writes DIR/init.pid
# and DIR/pidns, by which vc_host_pid, vc_host_procs and the watchdog find
# it.  Hosts, cluster nodes and the cluster's hub all start so.
_vc_ns_ready() {
	local dir=$1 ready=$2 tries=$3 what=$4 upid ipid="" i
	upid=$(<"$dir/unshare.pid")
	for ((i = 0; i < tries; i++)); do
		[[ -n "$ipid" ]] || ipid=$(ps -o pid= --ppid "$upid" | tr -d ' ' || true)
		[[ -n "$ipid" && -e "$ready" ]] && break
		kill -0 "$upid" 2>/dev/null || break
		sleep 0.05
	done
	if [[ -z "$ipid" || ! -e "$ready" ]]; then
		cat "$dir/log/init.log" >&2 || true
		_vc_error "$what: namespace setup failed"
	fi
	echo "$ipid" >"$dir/init.pid"
	readlink "/proc/$ipid/ns/pid" >"$dir/pidns"
}

# vc_host_start NAME [--net]
# --net: also a new network namespace (only lo, up); plumb veths into it
# with "ip link set DEV netns $(vc_host_pid NAME)".  vc_on then enters it.
vc_host_start() {
	local name=${1:?vc_host_start NAME [--net]} net=0
	[[ -n "$VC_TMP" ]] || _vc_error "vc_init was not called"
	case ${2:-} in
	"") ;;
	--net) net=1 ;;
	*) _vc_error "vc_host_start: unknown option '$2'" ;;
	esac
	local dir root t0 t1 ipid
	t0=$(date +%s.%N)
	_vc_host_prepare "$name"
	dir=$(_vc_hostdir "$name")
	root=$dir/root
	# Private /etc/hosts naming this host (libvirt resolves its hostname).
	# Tests may append other hosts' names to it (edit in place: bind mount).
	{ cat /etc/hosts; printf '127.0.1.1\t%s\n' "$name"; } >"$root/etc/hosts"
	_vc_host_spawn "$name" "$net"
	_vc_host_ready "$name"
	ipid=$(<"$dir/init.pid")

	_vc_libvirtd_spawn "$name"
	_vc_libvirtd_wait "$name" "${VC_HOST_START_TIMEOUT:-30}"
	t1=$(date +%s.%N)
	VC_HOST_START_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	vc_log "host $name up (init pid $ipid) in ${VC_HOST_START_SECS}s"
}

# _vc_libvirtd_spawn NAME [LIBVIRTD-OPTION]... : virtlogd and libvirtd as
# daemons in host (or node) NAME, logs in its log/.  Apart from the wait
# (_vc_libvirtd_wait), so that a cluster starts all its nodes' libvirtd
# before it waits for the first.
_vc_libvirtd_spawn() {
	local name=$1 dir
	shift
	dir=$(_vc_hostdir "$name")
	vc_on "$name" virtlogd -d </dev/null >>"$dir/log/virtlogd.log" 2>&1 ||
		_vc_error "$name: virtlogd -d failed"
	vc_on "$name" libvirtd -d "$@" </dev/null >>"$dir/log/libvirtd.log" 2>&1 ||
		_vc_error "$name: libvirtd -d $* failed"
}

# _vc_libvirtd_wait NAME SECS : until libvirtd in NAME answers; a harness
# error after SECS, so that a libvirtd that never answers cannot hang the
# test.
_vc_libvirtd_wait() {
	local name=$1 secs=$2 dir deadline
	dir=$(_vc_hostdir "$name")
	deadline=$((SECONDS + secs))
	until vc_on "$name" timeout 10 virsh -q -c qemu:///system version \
		>"$dir/log/version.out" 2>&1; do
		if ((SECONDS >= deadline)); then
			cat "$dir/log/version.out" "$dir/log/libvirtd.log" >&2 || true
			_vc_error "$name: libvirtd did not answer within ${secs}s"
		fi
		sleep 0.2
	done
}

# Working directory to use inside a host: the caller's, unless it lies in a
# path that is private to the host.
_vc_wd() {
	local p
	for p in /run /dev /proc "${_VC_PRIVATE_DIRS[@]}"; do
		if [[ "$PWD" == "$p" || "$PWD" == "$p"/* ]]; then
			printf '/'
			return
		fi
	done
	printf '%s' "$PWD"
}

# vc_on NAME CMD... : run CMD in host NAME (mount, PID and UTS namespace).
vc_on() {
	local name=${1:?vc_on NAME CMD...} pid ns=(-m -p -u)
	shift
	pid=$(vc_host_pid "$name") || _vc_error "host $name is not running"
	[[ ! -e "$(_vc_hostdir "$name")/netns" ]] || ns+=(-n)
	if [[ -n "$_VC_WD_FD" ]]; then
		nsenter -t "$pid" "${ns[@]}" --wdns="$(_vc_wd)" -- "$@" {_VC_WD_FD}>&-
	else
		nsenter -t "$pid" "${ns[@]}" --wdns="$(_vc_wd)" -- "$@"
	fi
}

vc_virsh() {
	local name=${1:?vc_virsh NAME ARGS...}
	shift
	vc_on "$name" virsh -q -c qemu:///system "$@"
}

# Kill process PID (as seen inside host NAME) and wait up to SECS for it.
_vc_kill_wait_in() {
	local name=$1 pid=$2 secs=$3
	# shellcheck disable=SC2016
	vc_on "$name" sh -c 'kill -TERM "$1" 2>/dev/null || exit 0
		i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
			sleep 0.1; i=$((i + 1)); done' sh "$pid" "$secs" || true
}

# vc_host_stop NAME
vc_host_stop() {
	local name=${1:?vc_host_stop NAME} dir ipid upid dom d pid i rc=0
	dir=$(_vc_hostdir "$name")
	[[ -d "$dir" ]] || { vc_log "host $name unknown"; return 1; }
	for d in "${VC_STOP_HOOKS[@]}"; do
		$d || true
	done
	if ipid=$(vc_host_pid "$name"); then
		# Graceful first: destroyed domains write their bitmaps to the images
		# (qemu stores persistent bitmaps on close) and get their ownership
		# restored.  Bounded: a wedged libvirtd must not hang the test.
		while read -r dom; do
			[[ -n "$dom" ]] || continue
			vc_on "$name" timeout 30 virsh -q -c qemu:///system destroy "$dom" \
				>/dev/null 2>&1 || vc_log "host $name: destroy $dom failed"
		done < <(vc_on "$name" timeout 15 virsh -q -c qemu:///system list --name 2>/dev/null || true)
		for d in libvirtd virtlogd; do
			pid=$(vc_on "$name" cat "/run/$d.pid" 2>/dev/null) || continue
			[[ "$pid" =~ ^[0-9]+$ ]] && _vc_kill_wait_in "$name" "$pid" 10
		done
		# Killing PID 1 of the namespace kills everything left in it.
		kill -KILL "$ipid" 2>/dev/null || true
	fi
	upid=$(cat "$dir/unshare.pid" 2>/dev/null || true)
	# Zombies have no /proc/PID/ns: an empty list means the namespace is dead.
	# Once it is, never look again: the kernel may give its inode number to
	# a new namespace (another test's), whose processes are not ours.
	local left
	for ((i = 0; i < 150; i++)); do
		left=$(vc_host_procs "$name")
		[[ -n "$left" ]] || break
		sleep 0.1
	done
	# Reap unshare if it is our child (it is not in vc_cleanup's subshell).
	if [[ -n "$upid" ]]; then
		wait "$upid" 2>/dev/null || true
	fi
	if [[ -n "$left" ]]; then
		vc_log "host $name: processes left: $(ps -o pid=,stat=,comm= -p "$(tr '\n' ',' <<<"$left" | sed 's/,$//')" 2>/dev/null | tr '\n' ';')"
		rc=1
	fi
	if grep -qF -- "$dir" /proc/self/mountinfo; then
		vc_log "host $name: mounts of $dir left on the real host"
		rc=1
	fi
	rm -f "$dir/init.pid"
	local n kept=()
	for n in "${VC_HOSTS[@]}"; do
		[[ "$n" == "$name" ]] || kept+=("$n")
	done
	VC_HOSTS=("${kept[@]}")
	((rc == 0)) && vc_log "host $name stopped"
	return "$rc"
}

# ---------------------------------------------------------------- images ---

# vc_make_image PATH SIZE
vc_make_image() {
	local path=${1:?vc_make_image PATH SIZE} size=${2:?vc_make_image PATH SIZE}
	qemu-img create -q -f qcow2 "$path" "$size" || vc_fail "qemu-img create $path failed"
}

_vc_xml_escape() {
	local s=$1
	s=${s//&/&amp;}
	s=${s//</&lt;}
	s=${s//>/&gt;}
	s=${s//\'/&apos;}
	s=${s//\"/&quot;}
	printf '%s' "$s"
}

# vc_domain_xml NAME [--uuid UUID] IMAGE...
vc_domain_xml() {
	local name=${1:?vc_domain_xml NAME [--uuid UUID] IMAGE...} uuid="" img i=0 letters=abcdefghijklmnopqrstuvwxyz
	shift
	if [[ "${1:-}" == --uuid ]]; then
		uuid=${2:?--uuid needs a value}
		shift 2
	fi
	(($# > 0)) || vc_fail "vc_domain_xml: no image given"
	printf "<domain type='qemu'>\n  <name>%s</name>\n" "$(_vc_xml_escape "$name")"
	[[ -n "$uuid" ]] && printf '  <uuid>%s</uuid>\n' "$uuid"
	printf "  <memory unit='MiB'>128</memory>\n  <vcpu>1</vcpu>\n"
	printf "  <os><type arch='x86_64'>hvm</type></os>\n"
	printf "  <on_crash>destroy</on_crash>\n  <devices>\n"
	for img in "$@"; do
		[[ "$img" == /* ]] || img=$PWD/$img
		printf "    <disk type='file' device='disk'>\n"
		printf "      <driver name='qemu' type='qcow2' discard='unmap'/>\n"
		printf "      <source file='%s'/>\n" "$(_vc_xml_escape "$img")"
		printf "      <target dev='vd%s' bus='virtio'/>\n" "${letters:i:1}"
		printf "    </disk>\n"
		i=$((i + 1))
	done
	printf "    <controller type='usb' model='none'/>\n"
	printf "    <memballoon model='none'/>\n"
	printf "  </devices>\n</domain>\n"
}

# ---------------------------------------------------------- guest writes ---

# Alias (e.g. virtio-disk0) of disk TARGET of running domain DOM.
_vc_disk_alias() {
	local name=$1 dom=$2 target=$3 alias
	# virsh 9.0 --xpath prints nodes only (no string()): name="virtio-disk0"
	alias=$(vc_virsh "$name" dumpxml "$dom" \
		--xpath "/domain/devices/disk[target/@dev='$target']/alias/@name") ||
		vc_fail "dumpxml $dom failed"
	alias=$(sed -n 's/^[[:space:]]*name="\([^"]*\)".*/\1/p' <<<"$alias")
	[[ -n "$alias" ]] || vc_fail "no alias for disk $target of $dom (not running?)"
	printf '%s' "$alias"
}

# Run one qemu-io command on the virtio backend of DOM's disk TARGET.
# HMP qemu-io prints its result (and its errors: "write failed: ...") on
# qemu's stdout, i.e. in the domain log, not on the monitor; the monitor
# only answers HMP-level errors ("Error: Device ... not found") and virsh
# exits 0 either way.  So read both.
_vc_qemu_io() {
	local name=$1 dom=$2 target=$3 cmd=$4 alias out log off new i
	alias=$(_vc_disk_alias "$name" "$dom" "$target") || exit 1
	log="$(_vc_hostdir "$name")/root/var/log/libvirt/qemu/$dom.log"
	off=$(stat -c %s "$log" 2>/dev/null || echo 0)
	out=$(vc_virsh "$name" qemu-monitor-command "$dom" --hmp \
		"qemu-io -d /machine/peripheral/$alias/virtio-backend \"$cmd\"" 2>&1) ||
		vc_fail "qemu-io '$cmd' on $dom/$target: $out"
	[[ -z "${out//[[:space:]]/}" ]] ||
		vc_fail "qemu-io '$cmd' on $dom/$target: $out"
	for ((i = 0; i < 100; i++)); do
		new=$(tail -c +$((off + 1)) "$log" 2>/dev/null || true)
		if grep -qiE 'fail|error|not found|invalid|argument|denied' <<<"$new"; then
			vc_fail "qemu-io '$cmd' on $dom/$target: $new"
		fi
		if grep -qE '^(wrote|discard|read) [0-9]+/[0-9]+ bytes at offset' <<<"$new"; then
			return 0
		fi
		sleep 0.05
	done
	vc_fail "qemu-io '$cmd' on $dom/$target: no result in $log: $new"
}

# vc_guest_write NAME DOM TARGET PATTERN OFFSET LENGTH
# OFFSET and LENGTH as qemu-io takes them (bytes, or with k/M/G suffix).
vc_guest_write() {
	(($# == 6)) || vc_fail "usage: vc_guest_write NAME DOM TARGET PATTERN OFFSET LENGTH"
	_vc_qemu_io "$1" "$2" "$3" "write -P $4 $5 $6"
}

# vc_guest_zero NAME DOM TARGET OFFSET LENGTH
vc_guest_zero() {
	(($# == 5)) || vc_fail "usage: vc_guest_zero NAME DOM TARGET OFFSET LENGTH"
	_vc_qemu_io "$1" "$2" "$3" "write -z $4 $5"
}

# vc_guest_discard NAME DOM TARGET OFFSET LENGTH
vc_guest_discard() {
	(($# == 5)) || vc_fail "usage: vc_guest_discard NAME DOM TARGET OFFSET LENGTH"
	_vc_qemu_io "$1" "$2" "$3" "discard $4 $5"
}

# ---------------------------------------------------------- dirty extents ---

# Wait (bounded) until DOM on host NAME has no active job.
_vc_wait_no_job() {
	local name=$1 dom=$2 i
	for ((i = 0; i < 300; i++)); do
		if vc_virsh "$name" domjobinfo "$dom" 2>/dev/null |
			grep -qE '^Job type:[[:space:]]+None'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# vc_dirty_extents NAME DOM TARGET CHECKPOINT
# Prints the ranges of disk TARGET written since CHECKPOINT, one
# "OFFSET LENGTH" (bytes, adjacent ranges merged) per line.  Uses a
# pull-mode backup without checkpoint XML: creates no checkpoint.
vc_dirty_extents() {
	(($# == 4)) || vc_fail "usage: vc_dirty_extents NAME DOM TARGET CHECKPOINT"
	local name=$1 dom=$2 target=$3 ckpt=$4 dir work sock xml t disks map rc=0
	dir=$(_vc_hostdir "$name")
	work=$(mktemp -d "$dir/nbd/XXXXXX")
	chown libvirt-qemu:libvirt-qemu "$work"
	sock=$work/sock
	((${#sock} < 100)) || vc_fail "socket path too long: $sock (set TMPDIR shorter)"
	disks=$(vc_virsh "$name" domblklist "$dom" | awk '{print $1}') ||
		vc_fail "domblklist $dom failed"
	grep -qxF -- "$target" <<<"$disks" || vc_fail "$dom has no disk $target"
	xml=$work/backup.xml
	{
		printf "<domainbackup mode='pull'>\n"
		printf '  <incremental>%s</incremental>\n' "$(_vc_xml_escape "$ckpt")"
		printf "  <server transport='unix' socket='%s'/>\n" "$sock"
		printf '  <disks>\n'
		for t in $disks; do
			if [[ "$t" == "$target" ]]; then
				printf "    <disk name='%s' backup='yes' type='file'>\n" "$t"
				printf "      <scratch file='%s/scratch-%s.qcow2'/>\n    </disk>\n" "$work" "$t"
			else
				printf "    <disk name='%s' backup='no'/>\n" "$t"
			fi
		done
		printf '  </disks>\n</domainbackup>\n'
	} >"$xml"
	local err
	if ! err=$(vc_virsh "$name" backup-begin "$dom" "$xml" 2>&1); then
		rm -rf "$work"
		vc_fail "backup-begin $dom since $ckpt: $err"
	fi
	map=$(nbdinfo --map="qemu:dirty-bitmap:backup-$target" \
		"nbd+unix:///$target?socket=$sock" 2>&1) || rc=$?
	vc_virsh "$name" domjobabort "$dom" >/dev/null 2>&1 || rc=1
	_vc_wait_no_job "$name" "$dom" || rc=1
	rm -rf "$work"
	((rc == 0)) || vc_fail "dirty extents of $dom/$target since $ckpt: $map"
	# nbdinfo --map: OFFSET LENGTH TYPE DESCRIPTION; type bit 0 = dirty
	awk '
		($3 % 2) == 1 {
			if (have && $1 == start + len) { len += $2; next }
			if (have) print start, len
			start = $1; len = $2; have = 1
		}
		END { if (have) print start, len }' <<<"$map"
}
