# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/cluster.sh - an N-node corosync 3 (knet) + Pacemaker lab on one
# machine, for virtckpt's cluster tests.  Source it AFTER functions.sh:
#
#     #!/bin/bash
#     set -eu -o pipefail
#     . "$(dirname "$0")/../lib/functions.sh"
#     . "$(dirname "$0")/../lib/cluster.sh"
#     vc_init
#     vc_cluster_init 3
#     for n in n1 n2 n3; do vc_corosync_start "$n"; done
#     vc_wait_members n1 3
#
# Layout.  A hub network namespace holds a bridge (br0).  Node nI (I = 1..N)
# is a "host" of functions.sh's kind - own mount, PID (tini as PID 1) and UTS
# (hostname nI) namespace - plus its own network namespace: lo and eth0, a
# veth whose peer vc-nI sits on the hub's bridge, address 198.18.0.(10+I)/24
# (n1 = 198.18.0.11).  Nothing is created in the real host's network
# namespace: veths are created inside the hub and moved straight into the
# node, so killing the namespaces' processes removes every netns, veth and
# bridge, and no named netns (/run/netns) is ever made.
#
# Inside a node, private: /run, /dev, /dev/shm (as in functions.sh), the
# libvirt directories of functions.sh (so libvirtd can run there later, see
# vc_node_libvirtd_start), /etc/hosts (names every node), /etc/corosync
# (generated corosync.conf), /var/lib/corosync, and when Pacemaker is
# installed /var/lib/pacemaker, /var/log/pacemaker and /etc/pacemaker
# (directory trees recreated with the packaged owners and modes, no files:
# a test puts each node's authkey in hosts/NAME/root/etc/pacemaker/).
#
# Per node, under $VC_TMP/hosts/NAME/ (besides functions.sh's files):
# root/etc/corosync/corosync.conf, log/corosync.log (corosync's own log),
# log/corosync.out (its stdout/stderr), log/pacemakerd.out,
# root/var/log/pacemaker/pacemaker.log, corosync.pid and pacemakerd.pid
# (PIDs as seen inside the node).
#
# Remote nodes: with M > 0 (vc_cluster_init N M), nodes r1..rM
# (198.18.0.(100+I)) are made the same way but get no corosync.conf (their
# /etc/corosync stays empty): Pacemaker Remote nodes, started by
# pacemaker-remote.sh.
#
# Cleanup: nodes are in VC_HOSTS, so vc_cleanup stops them; vc_cluster_init
# replaces the EXIT trap of vc_init by one that also stops the hub.  The hub
# keeps its init.pid in $VC_TMP/hosts/_hub/, where the watchdog of vc_init
# finds it if the test is SIGKILLed.  Tests that call vc_cleanup themselves
# call vc_cluster_stop first.
#
# Functions:
#   vc_cluster_init N [M]             build hub + nodes n1..nN (no daemons),
#                                     and M nodes r1..rM that are not
#                                     corosync members (Pacemaker Remote
#                                     nodes, see pacemaker-remote.sh)
#   vc_corosync_cluster N             the same, corosync started, N members
#   vc_cluster_stop                   kill all nodes and the hub
#   vc_cluster_add_host nI            one more node on the network, outside
#                                     corosync's node list (I > N): no
#                                     corosync there, as on a Pacemaker
#                                     Remote node
#   vc_node_on NAME CMD...            run CMD in all of NAME's namespaces
#   vc_node_addr NAME                 print NAME's address
#   vc_node_is_remote NAME            true for r1..rM
#   vc_corosync_start NAME            start corosync -f (waits for its IPC)
#   vc_corosync_stop NAME             SIGTERM, wait (bounded) for the exit
#   vc_corosync_kill NAME             SIGKILL
#   vc_corosync_members NAME          print member names seen by NAME
#   vc_wait_members NAME COUNT [TIMEOUT]   COUNT members + matching quorum
#   vc_wait_quorate NAME yes|no [TIMEOUT]
#   vc_partition "GROUP1" "GROUP2"    drop all traffic between the groups
#   vc_heal                           remove every partition
#   vc_pacemaker_start NAME           start pacemakerd (corosync must run)
#   vc_pacemaker_stop NAME            clean Pacemaker shutdown (bounded)
#   vc_wait_online NAME COUNT [TIMEOUT]    COUNT nodes online in crm_mon;
#                                     sets stonith-enabled=false once
#   vc_node_libvirtd_start NAME       virtlogd + libvirtd in the node
#   vc_elapsed T0                     seconds since EPOCHREALTIME value T0
# The vc_wait_* functions set VC_WAIT_SECS to the time they waited.
#
# Environment knobs:
#   VC_COROSYNC_TOKEN=MS       totem token timeout (default: corosync's)
#   VC_CLUSTER_WAIT_TIMEOUT=60 default TIMEOUT of the vc_wait_* functions
#   VC_COROSYNC_STOP_TIMEOUT=30, VC_PACEMAKER_STOP_TIMEOUT=60 (seconds)
#   VC_PACEMAKER_DC_DEADTIME=2s  seed each node's CIB with this dc-deadtime
#                              (and stonith-enabled=false): all online in
#                              ~5 s instead of ~23 s.  Default: Pacemaker's
#                              20s (the lab then waits it out once).
#   VC_CLUSTER_NET=198.18.0    first three octets of the nodes' /24 (keep it
#                              in the reserved test range 198.18.0.0/15)

VC_CLUSTER_SIZE=0
VC_CLUSTER_REMOTE=0
VC_NODES=()             # n1..nN, then r1..rM
VC_REMOTE_NODES=()      # r1..rM: in VC_NODES too, never corosync members
VC_WAIT_SECS=""
VC_CLUSTER_NET=${VC_CLUSTER_NET:-198.18.0}
_VC_HUB=_hub            # not a valid host name: cannot collide with a host

# ------------------------------------------------------------------ utils --

vc_elapsed() {
	awk -v a="${1:?vc_elapsed T0}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

_vc_is_node() {
	local n
	for n in "${VC_NODES[@]}"; do
		[[ "$n" == "$1" ]] && return 0
	done
	return 1
}

_vc_need_node() {
	_vc_is_node "$1" || _vc_error "no cluster node '$1' (nodes: ${VC_NODES[*]:-none})"
}

# vc_node_addr NAME : nI is .(10+I), rI is .(100+I).
vc_node_addr() {
	local name=${1:?vc_node_addr NAME}
	_vc_need_node "$name"
	_vc_addr_of "$name"
}

_vc_addr_of() {
	case $1 in
	r*) printf '%s.%d\n' "$VC_CLUSTER_NET" $((100 + ${1#r})) ;;
	*) printf '%s.%d\n' "$VC_CLUSTER_NET" $((10 + ${1#n})) ;;
	esac
}

# vc_node_is_remote NAME
vc_node_is_remote() {
	local n
	for n in "${VC_REMOTE_NODES[@]}"; do
		[[ "$n" == "$1" ]] && return 0
	done
	return 1
}

# vc_node_on NAME CMD... : CMD in NAME's mount, network, PID and UTS
# namespaces (functions.sh's vc_on; the node's netns marker adds -n).
vc_node_on() {
	local name=${1:?vc_node_on NAME CMD...}
	_vc_need_node "$name"
	vc_on "$@"
}

# Run CMD in the hub's network namespace only.
_vc_hub_on() {
	local pid
	pid=$(vc_host_pid "$_VC_HUB") || _vc_error "cluster hub is not running"
	nsenter -t "$pid" -n -- "$@"
}

# Start PROG (with ARGS) in the background inside NAME, detached: its parent
# becomes the node's tini.  Prints its PID as seen inside the node.
# Usage: _vc_node_spawn NAME OUTFILE [VAR=VALUE...] PROG ARGS...
_vc_node_spawn() {
	local name=$1 out=$2
	shift 2
	# shellcheck disable=SC2016  # expanded by the inner shell
	vc_node_on "$name" sh -c 'out=$1; shift
		env -- "$@" </dev/null >>"$out" 2>&1 &
		echo $!' vc-spawn "$out" "$@"
}

# Is PID (inside NAME) alive and not a zombie?
_vc_node_alive() {
	local name=$1 pid=$2
	# shellcheck disable=SC2016
	vc_node_on "$name" sh -c '[ -d "/proc/$1" ] &&
		! grep -q "^State:[[:space:]]*Z" "/proc/$1/status" 2>/dev/null' sh "$pid"
}

# Send SIG to the daemon recorded in DIR/WHAT.pid inside NAME and wait up to
# SECS for it to go.  Returns 1 if it is still there.
_vc_node_signal_wait() {
	local name=$1 what=$2 sig=$3 secs=$4 dir pid deadline
	dir=$(_vc_hostdir "$name")
	pid=$(cat "$dir/$what.pid" 2>/dev/null) || return 0
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	vc_node_on "$name" kill "-$sig" "$pid" 2>/dev/null || true
	deadline=$((SECONDS + secs))
	while _vc_node_alive "$name" "$pid"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
	rm -f "$dir/$what.pid"
}

# _vc_node_term NAME WHAT SECS : a clean stop of the daemon in DIR/WHAT.pid
# (SIGTERM).  One that is still there after SECS fails the test, and is
# killed first so that it does not outlive it.
_vc_node_term() {
	local name=$1 what=$2 secs=$3
	if ! _vc_node_signal_wait "$name" "$what" TERM "$secs"; then
		_vc_node_signal_wait "$name" "$what" KILL 5 || true
		vc_fail "node $name: $what did not stop within ${secs}s of SIGTERM"
	fi
}

# ---------------------------------------------------------------- network --

_vc_hub_start() {
	local dir
	dir=$(_vc_hostdir "$_VC_HUB")
	mkdir -p "$dir/log"
	# shellcheck disable=SC2016
	setsid unshare --net --mount --pid --fork --kill-child=SIGKILL \
		--propagation private --mount-proc \
		sh -c 'set -e
			ip link set lo up
			ip link add br0 type bridge
			ip link set br0 up
			touch "$1/.ready"
			exec tini -s -- sleep infinity' vc-hub "$dir" \
		</dev/null >>"$dir/log/init.log" 2>&1 {_VC_WD_FD}>&- &
	echo "$!" >"$dir/unshare.pid"
	_vc_ns_ready "$dir" "$dir/.ready" 100 "cluster hub"
}

_vc_hub_stop() {
	local dir ipid upid i
	dir=$(_vc_hostdir "$_VC_HUB")
	[[ -d "$dir" ]] || return 0
	if ipid=$(vc_host_pid "$_VC_HUB"); then
		kill -KILL "$ipid" 2>/dev/null || true
	fi
	upid=$(cat "$dir/unshare.pid" 2>/dev/null || true)
	for ((i = 0; i < 100; i++)); do
		[[ -n "$(vc_host_procs "$_VC_HUB")" ]] || break
		sleep 0.05
	done
	[[ -z "$upid" ]] || wait "$upid" 2>/dev/null || true
	rm -f "$dir/init.pid"
	if [[ -n "$(vc_host_procs "$_VC_HUB")" ]]; then
		vc_log "cluster hub: processes left: $(vc_host_procs "$_VC_HUB" | tr '\n' ' ')"
		return 1
	fi
}

# ------------------------------------------------------------------ nodes --

# Directories private to each node, besides functions.sh's libvirt ones.
# Only those that exist on the real host (they are mount points).
_vc_cluster_dirs() {
	local d
	for d in /etc/corosync /var/lib/corosync /var/lib/pacemaker /var/log/pacemaker /etc/pacemaker; do
		[[ -d "$d" ]] && printf '%s\n' "$d"
	done
	return 0
}

_vc_corosync_conf() {
	local i
	printf 'totem {\n\tversion: 2\n\tcluster_name: virtckpt-lab\n'
	printf '\ttransport: knet\n\tcrypto_cipher: none\n\tcrypto_hash: none\n'
	[[ -z "${VC_COROSYNC_TOKEN:-}" ]] || printf '\ttoken: %d\n' "$VC_COROSYNC_TOKEN"
	printf '}\n\nnodelist {\n'
	for ((i = 1; i <= VC_CLUSTER_SIZE; i++)); do
		printf '\tnode {\n\t\tring0_addr: %s.%d\n\t\tname: n%d\n\t\tnodeid: %d\n\t}\n' \
			"$VC_CLUSTER_NET" $((10 + i)) "$i" "$i"
	done
	printf '}\n\nquorum {\n\tprovider: corosync_votequorum\n}\n\n'
	printf 'logging {\n\tto_logfile: yes\n\tlogfile: %s\n' "$1"
	printf '\tto_syslog: no\n\tto_stderr: no\n\ttimestamp: hires\n\tfileline: off\n}\n'
}

# Prepare node NAME's directory and start its namespaces (no daemons):
# a host of functions.sh's kind with its own network namespace, the
# cluster's private directories, corosync.conf (not on a remote node rI:
# its private /etc/corosync stays empty) and an /etc/hosts naming every
# node.
_vc_node_spawn_ns() {
	local name=$1 dir root d dirs
	mapfile -t dirs < <(_vc_cluster_dirs)
	_vc_host_prepare "$name" "${dirs[@]}"
	dir=$(_vc_hostdir "$name")
	root=$dir/root
	if [[ -d "$root/etc/corosync" && "$name" == n* ]]; then
		_vc_corosync_conf "$dir/log/corosync.log" >"$root/etc/corosync/corosync.conf"
	fi
	{
		grep -vE '^[[:space:]]*127\.0\.1\.1[[:space:]]' /etc/hosts || true
		for ((d = 1; d <= VC_CLUSTER_SIZE; d++)); do
			printf '%s.%d\tn%d\n' "$VC_CLUSTER_NET" $((10 + d)) "$d"
		done
		for ((d = 1; d <= VC_CLUSTER_REMOTE; d++)); do
			printf '%s.%d\tr%d\n' "$VC_CLUSTER_NET" $((100 + d)) "$d"
		done
	} >"$root/etc/hosts"
	_vc_host_spawn "$name" 1
}

# Wait for node NAME's namespaces, then plumb its veth and address.
_vc_node_finish() {
	local name=$1 ipid addr
	_vc_host_ready "$name"
	ipid=$(<"$(_vc_hostdir "$name")/init.pid")
	addr=$(_vc_addr_of "$name")
	# Created in the hub, the node end moved straight into the node's netns.
	_vc_hub_on ip link add "vc-$name" type veth peer name eth0 netns "$ipid" ||
		_vc_error "node $name: cannot create its veth"
	_vc_hub_on ip link set "vc-$name" master br0 up ||
		_vc_error "node $name: cannot attach vc-$name to the bridge"
	vc_on "$name" ip addr add "$addr/24" dev eth0 ||
		_vc_error "node $name: cannot set address $addr"
	vc_on "$name" ip link set eth0 up ||
		_vc_error "node $name: cannot bring eth0 up"
	VC_NODES+=("$name")
	[[ "$name" != r* ]] || VC_REMOTE_NODES+=("$name")
}

_vc_cluster_exit_trap() {
	local rc=$?
	vc_cluster_stop || true
	vc_cleanup || true
	exit "$rc"
}

# vc_cluster_init N [M]
vc_cluster_init() {
	local n=${1:?vc_cluster_init N [M]} m=${2:-0} i t0 tool
	[[ -n "$VC_TMP" ]] || _vc_error "vc_init was not called"
	if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > 32)); then
		_vc_error "vc_cluster_init: N must be 1..32"
	fi
	if ! [[ "$m" =~ ^[0-9]+$ ]] || ((m > 32)); then
		_vc_error "vc_cluster_init: M must be 0..32"
	fi
	((VC_CLUSTER_SIZE == 0)) || _vc_error "vc_cluster_init: a cluster exists already"
	for tool in corosync corosync-quorumtool corosync-cmapctl ip iptables ps; do
		command -v "$tool" >/dev/null 2>&1 || _vc_skip "$tool not found"
	done
	[[ -d /etc/corosync && -d /var/lib/corosync ]] ||
		_vc_skip "/etc/corosync or /var/lib/corosync missing (corosync not installed?)"
	t0=$EPOCHREALTIME
	trap '_vc_cluster_exit_trap' EXIT
	VC_CLUSTER_SIZE=$n
	VC_CLUSTER_REMOTE=$m
	VC_NODES=()
	VC_REMOTE_NODES=()
	_vc_hub_start
	for ((i = 1; i <= n; i++)); do
		_vc_node_spawn_ns "n$i"
	done
	for ((i = 1; i <= m; i++)); do
		_vc_node_spawn_ns "r$i"
	done
	for ((i = 1; i <= n; i++)); do
		_vc_node_finish "n$i"
	done
	for ((i = 1; i <= m; i++)); do
		_vc_node_finish "r$i"
	done
	# Every bridge port up (both veth ends up) and forwarding, bounded.
	local deadline=$((SECONDS + 10)) ports
	while :; do
		ports=$(_vc_hub_on bridge link show 2>/dev/null |
			grep -c 'master br0 .*state forwarding' || true)
		((ports == n + m)) && break
		((SECONDS < deadline)) ||
			_vc_error "bridge: $ports of $((n + m)) ports forwarding: $(_vc_hub_on bridge link show 2>&1)"
		sleep 0.05
	done
	VC_CLUSTER_INIT_SECS=$(vc_elapsed "$t0")
	vc_log "cluster of $n nodes (${VC_NODES[*]}) set up in ${VC_CLUSTER_INIT_SECS}s"
}

# vc_cluster_add_host nI : after vc_cluster_init N (I > N), a node on the
# cluster's network (address as vc_node_addr says) with its private
# directories, but outside corosync's node list: it has no corosync.conf
# and counts for no vote.
vc_cluster_add_host() {
	local name=${1:?vc_cluster_add_host nI} idx dirs deadline ports
	[[ "$name" =~ ^n([0-9]+)$ ]] || _vc_error "vc_cluster_add_host: name must be nI"
	idx=${BASH_REMATCH[1]}
	((idx > VC_CLUSTER_SIZE && idx <= 200)) ||
		_vc_error "vc_cluster_add_host: $name is in the cluster's node list"
	! _vc_is_node "$name" || _vc_error "vc_cluster_add_host: $name exists"
	mapfile -t dirs < <(_vc_cluster_dirs)
	_vc_host_prepare "$name" "${dirs[@]}"
	cp "$(_vc_hostdir "${VC_NODES[0]}")/root/etc/hosts" "$(_vc_hostdir "$name")/root/etc/hosts"
	_vc_host_spawn "$name" 1
	_vc_node_finish "$name" "$idx"
	deadline=$((SECONDS + 10))
	while :; do
		ports=$(_vc_hub_on bridge link show 2>/dev/null |
			grep -c "vc-$name.*master br0 .*state forwarding" || true)
		((ports == 1)) && break
		((SECONDS < deadline)) || _vc_error "bridge: vc-$name not forwarding"
		sleep 0.05
	done
	vc_log "host $name on the cluster's network, outside corosync"
}

# vc_corosync_cluster N : vc_cluster_init N, corosync on every node, and
# all N members seen: where tests of what runs on top of corosync start.
vc_corosync_cluster() {
	local n=${1:?vc_corosync_cluster N} node
	vc_cluster_init "$n"
	for node in "${VC_NODES[@]}"; do
		vc_corosync_start "$node"
	done
	vc_wait_members "${VC_NODES[0]}" "$n"
}

# vc_cluster_stop: kill every node (PID 1 of each namespace) and the hub.
# Idempotent.  Returns 1 if something was left behind.
vc_cluster_stop() {
	[[ -n "$_VC_MAIN_PID" && "$BASHPID" == "$_VC_MAIN_PID" ]] || return 0
	local name rc=0
	for name in "${VC_NODES[@]}"; do
		if [[ -s "$(_vc_hostdir "$name")/init.pid" ]]; then
			vc_host_stop "$name" || rc=1
		fi
	done
	VC_NODES=()
	VC_REMOTE_NODES=()
	_vc_hub_stop || rc=1
	VC_CLUSTER_SIZE=0
	VC_CLUSTER_REMOTE=0
	return "$rc"
}

# --------------------------------------------------------------- corosync --

# vc_corosync_start NAME: start corosync in the foreground (detached, child
# of the node's tini) and wait until its IPC answers.
vc_corosync_start() {
	local name=${1:?vc_corosync_start NAME} dir pid deadline
	_vc_need_node "$name"
	dir=$(_vc_hostdir "$name")
	if [[ -s "$dir/corosync.pid" ]] && _vc_node_alive "$name" "$(<"$dir/corosync.pid")"; then
		vc_fail "node $name: corosync is already running"
	fi
	pid=$(_vc_node_spawn "$name" "$dir/log/corosync.out" \
		corosync -f -c /etc/corosync/corosync.conf) ||
		_vc_error "node $name: cannot spawn corosync"
	echo "$pid" >"$dir/corosync.pid"
	deadline=$((SECONDS + 15))
	until vc_on "$name" corosync-cmapctl -g totem.cluster_name \
		>/dev/null 2>&1; do
		if ! _vc_node_alive "$name" "$pid"; then
			tail -n 20 "$dir/log/corosync.out" "$dir/log/corosync.log" >&2 2>/dev/null || true
			vc_fail "node $name: corosync exited at start"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 20 "$dir/log/corosync.log" >&2 2>/dev/null || true
			vc_fail "node $name: corosync IPC did not answer within 15s"
		fi
		sleep 0.05
	done
	vc_log "node $name: corosync running (pid $pid in the node)"
}

# vc_corosync_stop NAME: clean stop (SIGTERM), bounded wait.
vc_corosync_stop() {
	local name=${1:?vc_corosync_stop NAME}
	_vc_need_node "$name"
	_vc_node_term "$name" corosync "${VC_COROSYNC_STOP_TIMEOUT:-30}"
	vc_log "node $name: corosync stopped"
}

# vc_corosync_kill NAME: SIGKILL, wait until it is gone.
vc_corosync_kill() {
	local name=${1:?vc_corosync_kill NAME}
	_vc_need_node "$name"
	_vc_node_signal_wait "$name" corosync KILL 10 ||
		vc_fail "node $name: corosync survived SIGKILL"
	vc_log "node $name: corosync killed"
}

# Quorum view of NAME: "NODES QUORATE" (e.g. "3 Yes"), or nothing if
# corosync does not answer.  corosync-quorumtool exits non-zero when not
# quorate: read its output either way.
_vc_quorum_view() {
	local out
	out=$(vc_on "$1" timeout 5 corosync-quorumtool -s 2>/dev/null) || true
	awk -F: '
		/^Nodes:/   { gsub(/[[:space:]]/, "", $2); n = $2 }
		/^Quorate:/ { gsub(/[[:space:]]/, "", $2); q = $2 }
		END { if (n != "" && q != "") print n, q }' <<<"$out"
}

# vc_corosync_members NAME: names of the members NAME sees, sorted, one line.
vc_corosync_members() {
	local name=${1:?vc_corosync_members NAME}
	_vc_need_node "$name"
	vc_on "$name" timeout 5 corosync-quorumtool -l 2>/dev/null |
		awk '$1 ~ /^[0-9]+$/ && NF >= 3 { print $3 }' | sort | tr '\n' ' ' | sed 's/ $//'
	echo
}

# vc_wait_members NAME COUNT [TIMEOUT]: until NAME sees COUNT members and is
# quorate exactly when COUNT is a majority of the cluster's votes.
vc_wait_members() {
	local name=${1:?vc_wait_members NAME COUNT [TIMEOUT]} count=${2:?vc_wait_members NAME COUNT [TIMEOUT]}
	local timeout=${3:-${VC_CLUSTER_WAIT_TIMEOUT:-60}} want t0 view=""
	_vc_need_node "$name"
	want=No
	((count * 2 > VC_CLUSTER_SIZE)) && want=Yes
	t0=$EPOCHREALTIME
	while :; do
		view=$(_vc_quorum_view "$name")
		[[ "$view" == "$count $want" ]] && break
		if (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { print (b - a >= t) }'))); then
			vc_on "$name" corosync-quorumtool -s >&2 || true
			vc_fail "node $name: not $count members / quorate=$want within ${timeout}s (last: ${view:-no answer})"
		fi
		sleep 0.1
	done
	VC_WAIT_SECS=$(vc_elapsed "$t0")
	vc_log "node $name: $count members, quorate=$want (waited ${VC_WAIT_SECS}s)"
}

# vc_wait_quorate NAME yes|no [TIMEOUT]
vc_wait_quorate() {
	local name=${1:?vc_wait_quorate NAME yes|no [TIMEOUT]} want
	local timeout=${3:-${VC_CLUSTER_WAIT_TIMEOUT:-60}} t0 view=""
	_vc_need_node "$name"
	case ${2:-} in
	yes) want=Yes ;;
	no) want=No ;;
	*) _vc_error "vc_wait_quorate: second argument must be yes or no" ;;
	esac
	t0=$EPOCHREALTIME
	while :; do
		view=$(_vc_quorum_view "$name")
		[[ "${view#* }" == "$want" && -n "$view" ]] && break
		if (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { print (b - a >= t) }'))); then
			vc_fail "node $name: quorate is not $want within ${timeout}s (last: ${view:-no answer})"
		fi
		sleep 0.1
	done
	VC_WAIT_SECS=$(vc_elapsed "$t0")
	vc_log "node $name: quorate=$want (${view%% *} members, waited ${VC_WAIT_SECS}s)"
}

# ------------------------------------------------------------- partitions --

# Rules live in chain vc-partition of each node's filter table (INPUT and
# OUTPUT jump to it), so vc_heal only flushes that chain.
_vc_ipt() {
	vc_on "$1" iptables -w 5 "${@:2}"
}

_vc_partition_chain() {
	local name=$1
	_vc_ipt "$name" -n -L vc-partition >/dev/null 2>&1 && return 0
	if ! { _vc_ipt "$name" -N vc-partition &&
		_vc_ipt "$name" -I INPUT -j vc-partition &&
		_vc_ipt "$name" -I OUTPUT -j vc-partition; }; then
		_vc_error "node $name: cannot set up iptables chain vc-partition"
	fi
}

# vc_partition "GROUP1" "GROUP2": drop all traffic between every node of
# GROUP1 and every node of GROUP2 (both directions, in both nodes).
# Partitions add up; vc_heal removes them all.
vc_partition() {
	local g1=${1:?vc_partition \"GROUP1\" \"GROUP2\"} g2=${2:?vc_partition \"GROUP1\" \"GROUP2\"} a b
	local -a l1 l2
	read -r -a l1 <<<"$g1"
	read -r -a l2 <<<"$g2"
	for a in "${l1[@]}" "${l2[@]}"; do
		_vc_need_node "$a"
		_vc_partition_chain "$a"
	done
	for a in "${l1[@]}"; do
		for b in "${l2[@]}"; do
			[[ "$a" != "$b" ]] || _vc_error "vc_partition: $a is in both groups"
			if ! { _vc_ipt "$a" -A vc-partition -s "$(vc_node_addr "$b")" -j DROP &&
				_vc_ipt "$a" -A vc-partition -d "$(vc_node_addr "$b")" -j DROP &&
				_vc_ipt "$b" -A vc-partition -s "$(vc_node_addr "$a")" -j DROP &&
				_vc_ipt "$b" -A vc-partition -d "$(vc_node_addr "$a")" -j DROP; }; then
				_vc_error "cannot partition $a from $b"
			fi
		done
	done
	vc_log "partition: [${l1[*]}] | [${l2[*]}]"
}

# vc_heal: remove every partition.
vc_heal() {
	local name
	for name in "${VC_NODES[@]}"; do
		if _vc_ipt "$name" -n -L vc-partition >/dev/null 2>&1; then
			_vc_ipt "$name" -F vc-partition || _vc_error "node $name: cannot flush vc-partition"
		fi
	done
	vc_log "partitions healed"
}

# -------------------------------------------------------------- pacemaker --

# With VC_PACEMAKER_DC_DEADTIME set, a node without a CIB yet gets an
# initial one (made offline with CIB_file) with that dc-deadtime and
# stonith-enabled=false: Pacemaker's default dc-deadtime (20s) is most of
# the time a fresh lab cluster takes to come online.
_vc_seed_cib() {
	local name=$1 cib
	cib="$(_vc_hostdir "$name")/root/var/lib/pacemaker/cib/cib.xml"
	[[ ! -e "$cib" ]] || return 0
	if ! { cibadmin --empty >"$cib" &&
		CIB_file=$cib crm_attribute --type crm_config --name dc-deadtime \
			--update "$VC_PACEMAKER_DC_DEADTIME" &&
		CIB_file=$cib crm_attribute --type crm_config --name stonith-enabled \
			--update false; }; then
		_vc_error "node $name: cannot seed the CIB"
	fi
	chown hacluster:haclient "$cib"
	chmod 0600 "$cib"
}

# vc_pacemaker_start NAME: start pacemakerd (foreground, detached) in NAME;
# corosync must be running there.  Logs: root/var/log/pacemaker/pacemaker.log
# and log/pacemakerd.out in the node's directory.
vc_pacemaker_start() {
	local name=${1:?vc_pacemaker_start NAME} dir pid
	_vc_need_node "$name"
	command -v pacemakerd >/dev/null 2>&1 || _vc_skip "pacemakerd not found"
	command -v crm_mon >/dev/null 2>&1 || _vc_skip "crm_mon not found (pacemaker-cli-utils)"
	[[ -d /var/lib/pacemaker && -d /var/log/pacemaker ]] ||
		_vc_skip "/var/lib/pacemaker or /var/log/pacemaker missing"
	dir=$(_vc_hostdir "$name")
	[[ -z "${VC_PACEMAKER_DC_DEADTIME:-}" ]] || _vc_seed_cib "$name"
	if [[ -s "$dir/pacemakerd.pid" ]] && _vc_node_alive "$name" "$(<"$dir/pacemakerd.pid")"; then
		vc_fail "node $name: pacemakerd is already running"
	fi
	pid=$(_vc_node_spawn "$name" "$dir/log/pacemakerd.out" \
		PCMK_logfacility=none PCMK_logfile=/var/log/pacemaker/pacemaker.log \
		pacemakerd) || _vc_error "node $name: cannot spawn pacemakerd"
	echo "$pid" >"$dir/pacemakerd.pid"
	sleep 0.2
	if ! _vc_node_alive "$name" "$pid"; then
		tail -n 20 "$dir/log/pacemakerd.out" "$dir/root/var/log/pacemaker/pacemaker.log" >&2 2>/dev/null || true
		vc_fail "node $name: pacemakerd exited at start"
	fi
	vc_log "node $name: pacemakerd running (pid $pid in the node)"
}

# vc_pacemaker_stop NAME: clean shutdown (SIGTERM to pacemakerd), bounded.
vc_pacemaker_stop() {
	local name=${1:?vc_pacemaker_stop NAME}
	_vc_need_node "$name"
	_vc_node_term "$name" pacemakerd "${VC_PACEMAKER_STOP_TIMEOUT:-60}"
	# pacemakerd stops its daemons before it exits; make sure.
	local left i
	for ((i = 0; i < 50; i++)); do
		left=$(vc_on "$name" pgrep -l '^pacemaker' || true)
		[[ -n "$left" ]] || break
		sleep 0.1
	done
	[[ -z "$left" ]] || vc_fail "node $name: Pacemaker daemons left after pacemakerd: $left"
	vc_log "node $name: pacemaker stopped"
}

# "ONLINE DC_PRESENT WITH_QUORUM" as crm_mon in NAME sees it.
_vc_crm_view() {
	local out
	out=$(vc_on "$1" timeout 10 crm_mon -1 --output-as=xml 2>/dev/null) || return 0
	awk '
		/<current_dc / {
			dc = ($0 ~ /present="true"/) ? "dc" : "nodc"
			q = ($0 ~ /with_quorum="true"/) ? "quorum" : "noquorum"
		}
		/<node name=/ && /online="true"/ { n++ }
		END { if (dc != "") print n + 0, dc, q }' <<<"$out"
}

# vc_wait_online NAME COUNT [TIMEOUT]: until crm_mon -1 in NAME shows COUNT
# nodes online and a DC.  The first time it succeeds in a cluster, it sets
# stonith-enabled=false (the lab has no fencing).
vc_wait_online() {
	local name=${1:?vc_wait_online NAME COUNT [TIMEOUT]} count=${2:?vc_wait_online NAME COUNT [TIMEOUT]}
	local timeout=${3:-${VC_CLUSTER_WAIT_TIMEOUT:-60}} t0 view="" flag
	_vc_need_node "$name"
	t0=$EPOCHREALTIME
	while :; do
		view=$(_vc_crm_view "$name")
		[[ "$view" == "$count dc "* ]] && break
		if (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { print (b - a >= t) }'))); then
			vc_on "$name" crm_mon -1 >&2 || true
			vc_fail "node $name: not $count nodes online within ${timeout}s (last: ${view:-no answer})"
		fi
		sleep 0.5
	done
	VC_WAIT_SECS=$(vc_elapsed "$t0")
	vc_log "node $name: $count nodes online (${view#* }, waited ${VC_WAIT_SECS}s)"
	flag=$VC_TMP/hosts/$_VC_HUB/stonith-disabled
	if [[ ! -e "$flag" ]]; then
		vc_on "$name" crm_attribute --type crm_config --name stonith-enabled \
			--update false >/dev/null ||
			vc_fail "node $name: cannot set stonith-enabled=false"
		touch "$flag"
		vc_log "stonith-enabled=false set"
	fi
}

# ---------------------------------------------------------------- libvirt --

# vc_node_libvirtd_start NAME: virtlogd and libvirtd in node NAME, as
# functions.sh's vc_host_start does (vc_host_stop stops them).
vc_node_libvirtd_start() {
	local name=${1:?vc_node_libvirtd_start NAME}
	_vc_need_node "$name"
	_vc_libvirtd_spawn "$name"
	_vc_libvirtd_wait "$name" "${VC_HOST_START_TIMEOUT:-30}"
	vc_log "node $name: libvirtd up"
}
