# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/daemon.sh - virtckptd on the nodes of a lab cluster (cluster.sh).

# shellcheck source-path=SCRIPTDIR source=virtckpt.sh
. "$(dirname "${BASH_SOURCE[0]}")/virtckpt.sh"
# shellcheck source-path=SCRIPTDIR source=cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

: "${VIRTCKPTD:=$(dirname "$VIRTCKPT")/virtckptd}"

# Each node's replica lives in the node's own directory.
node_store() { printf '%s/hosts/%s/store' "$VC_TMP" "$1"; }

# vc_daemon_spawn NODE : virtckptd in the foreground, adopted by the
# node's tini, logging to hosts/NODE/log/virtckptd.log; does not wait.
#
# With VC_DAEMON_VALGRIND=1 the daemon runs under valgrind memcheck, its
# report in hosts/NODE/log/valgrind-PID.log, checked by vc_daemon_memcheck
# after vc_daemon_stop (make memcheck-long).  Else under the command
# VC_DAEMON_WRAP (an array, e.g. an strace) if set.
vc_daemon_spawn() {
	local n=$1 dir vg=()
	dir="$VC_TMP/hosts/$n"
	if [[ "${VC_DAEMON_VALGRIND:-0}" == 1 ]]; then
		vg=(valgrind --quiet --leak-check=full --show-leak-kinds=definite
			--errors-for-leak-kinds=definite --child-silent-after-fork=yes --vgdb=no
			--log-file="$dir/log/valgrind-%p.log")
	elif [[ -n "${VC_DAEMON_WRAP[*]+set}" ]]; then
		vg=("${VC_DAEMON_WRAP[@]}")
	fi
	# shellcheck disable=SC2016
	vc_node_on "$n" sh -c 'log=$1; shift; "$@" >>"$log" 2>&1 &' sh "$dir/log/virtckptd.log" \
		${vg[@]+"${vg[@]}"} "$VIRTCKPTD" -f -v -s "$(node_store "$n")" -p "$dir/virtckptd.pid"
}

# vc_daemon_start NODE : vc_daemon_spawn, then waits until it answers.
vc_daemon_start() {
	local n=$1 dir
	dir="$VC_TMP/hosts/$n"
	vc_daemon_spawn "$n"
	local i tries=100
	[[ "${VC_DAEMON_VALGRIND:-0}" != 1 ]] || tries=600
	for ((i = 0; i < tries; i++)); do
		[[ -s "$dir/virtckptd.pid" ]] && vnck "$n" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$dir/log/virtckptd.log" >&2
	vc_fail "virtckptd did not start on $n"
}

vc_daemon_pid() { cat "$VC_TMP/hosts/$1/virtckptd.pid"; }

vc_daemon_stop() {
	local pid tries=50
	pid=$(vc_daemon_pid "$1") || return 0
	vc_node_on "$1" kill -TERM "$pid" 2>/dev/null || true
	local i
	[[ "${VC_DAEMON_VALGRIND:-0}" != 1 ]] || tries=600
	for ((i = 0; i < tries; i++)); do
		vc_node_on "$1" kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	vc_fail "virtckptd on $1 did not stop"
}

# vc_daemon_memcheck NODE : after vc_daemon_stop, with VC_DAEMON_VALGRIND=1,
# fails on any memory error or definite leak valgrind reported.
vc_daemon_memcheck() {
	local f bad=0
	[[ "${VC_DAEMON_VALGRIND:-0}" == 1 ]] || return 0
	for f in "$VC_TMP/hosts/$1"/log/valgrind-*.log; do
		[[ -e "$f" ]] || vc_fail "no valgrind report of virtckptd on $1"
		if [[ -s "$f" ]]; then
			cat "$f" >&2
			bad=1
		fi
	done
	((bad == 0)) || vc_fail "valgrind found errors in virtckptd on $1"
	vc_log "ok: virtckptd on $1 ran clean under valgrind"
}

vc_daemon_kill() {
	local pid i
	pid=$(vc_daemon_pid "$1") || return 0
	vc_node_on "$1" kill -KILL "$pid" 2>/dev/null || true
	# Gone, and its store lock with it, before anyone starts another.
	for ((i = 0; i < 100; i++)); do
		vc_node_on "$1" kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$VC_TMP/hosts/$1/virtckptd.pid"
}

# vnck NODE ARGS... : virtckpt on NODE, through its daemon (same store).
# On a Pacemaker Remote node (cluster.sh's rI), without --store: there
# virtckpt reaches the cluster's store through a full node by itself.
vnck() {
	local n=$1
	shift
	if vc_node_is_remote "$n"; then
		vc_node_on "$n" "${VC_VALGRIND[@]}" "$VIRTCKPT" "$@"
	else
		vc_node_on "$n" "${VC_VALGRIND[@]}" "$VIRTCKPT" --store "$(node_store "$n")" "$@"
	fi
}

# vc_wait_synced NODE MEMBERS [TIMEOUT] : the daemon is synced with MEMBERS
# members.
vc_wait_synced() {
	local n=$1 want=$2 timeout=${3:-30} i out
	for ((i = 0; i < timeout * 10; i++)); do
		out=$(vnck "$n" status 2>/dev/null || true)
		if grep -q '^state: synced$' <<<"$out" &&
			[[ $(sed -n 's/^members://p' <<<"$out" | wc -w) == "$want" ]]; then
			return 0
		fi
		sleep 0.1
	done
	vc_log "status of $n: $out"
	vc_fail "virtckptd on $n not synced with $want members after ${timeout}s"
}

# store_digest_of NODE : digest of the node's replica (documents only).
store_digest_of() {
	(cd "$(node_store "$1")" && find . -maxdepth 1 -type f -name '*.xml' -print0 |
		sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# make_doc DOMAIN N FILE : a store document for DOMAIN with N checkpoints.
make_doc() {
	local dom=$1 n=$2 file=$3 i parent=""
	{
		printf '<?xml version="1.0"?>\n<virtckpt-domain format="1">\n'
		printf '  <name>%s</name>\n  <uuid>%s</uuid>\n' "$dom" "$(cat /proc/sys/kernel/random/uuid)"
		printf '  <version generation="1" node="0"/>\n  <updated>%s</updated>\n' "$(date +%s)"
		printf '  <checkpoints>\n'
		for ((i = 1; i <= n; i++)); do
			printf '    <checkpoint name="c%d"%s created="%d">\n' "$i" \
				"${parent:+ parent=\"$parent\"}" "$((1700000000 + i))"
			printf '      <disk name="vda" checkpoint="bitmap" bitmap="c%d"/>\n' "$i"
			printf '      <xml>&lt;domaincheckpoint&gt;&lt;name&gt;c%d&lt;/name&gt;%s&lt;creationTime&gt;%d&lt;/creationTime&gt;&lt;disks&gt;&lt;disk name="vda" checkpoint="bitmap" bitmap="c%d"/&gt;&lt;/disks&gt;&lt;/domaincheckpoint&gt;</xml>\n' \
				"$i" "${parent:+&lt;parent&gt;&lt;name&gt;$parent&lt;/name&gt;&lt;/parent&gt;}" "$((1700000000 + i))" "$i"
			printf '    </checkpoint>\n'
			parent=c$i
		done
		printf '  </checkpoints>\n</virtckpt-domain>\n'
	} >"$file"
}

# vc_wait_lease NODE DOMAIN HOLDER [TIMEOUT] : until NODE's daemon shows
# DOMAIN's cluster-wide lease held by node id HOLDER (0: by nobody).
vc_wait_lease() {
	local n=$1 dom=$2 holder=$3 timeout=${4:-30} i out
	for ((i = 0; i < timeout * 10; i++)); do
		out=$(vnck "$n" status 2>/dev/null | grep "^lease: $dom " || true)
		if [[ "$holder" == 0 && -z "$out" ]] ||
			[[ "$holder" != 0 && "$out" == "lease: $dom node $holder job "* ]]; then
			return 0
		fi
		sleep 0.1
	done
	vc_fail "lease of $dom not held by node $holder on $n after ${timeout}s: ${out:-none}"
}
