#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What a Pacemaker Remote node pays to use the store through a full node
# (doc/scale.md, section 5), not part of the test suite: as root, after
# make, `make scale MODE=remote N="1000 10000"` or
#
#   VC_SCALE_SIZES="1000 10000" tests/bench/remote-scale.sh >report.md
#
# The 3-node lab (tests/lib/cluster.sh) plus n4, a host on the lab's
# network with no corosync and no virtckptd, Pacemaker's authkey on all
# four.  For each size N: N documents (scale-helper.py gen, as scale.sh)
# in the three replicas, the daemons synced; then, on n4 through n1's
# relay and on n1 itself for comparison:
#   - `virtckpt status`, `checkpoints show DOMAIN`, `checkpoints import`:
#     p50 / p99 of whole commands (a TLS handshake each on n4);
#   - the remote protocol alone (tests/remote/remote-client): a session
#     that connects and asks STATUS, and one that then GETs a document 100
#     times more: the difference gives the time and the bytes received on
#     n4's interfaces per GET;
#   - memory: VmRSS of the relay's listener and of one connection's
#     process on n1;
#   - `checkpoints list` (every document through the relay on n4).
# Every figure is measured; a failed measurement stops the run.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

SIZES=${VC_SCALE_SIZES:-1000}
CKPTS=${VC_SCALE_CHECKPOINTS:-10}
RUNS=${VC_SCALE_RUNS:-20}
read -r -a sizes <<<"$SIZES"
((${#sizes[@]} > 0)) || { echo "VC_SCALE_SIZES is empty" >&2; exit 2; }
for v in "${sizes[@]}" "$CKPTS" "$RUNS"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive integer: $v" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 77; }
RC=${abs_top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/remote/remote-client
[[ -x "$RC" ]] || { echo "$RC not built (make check builds it)" >&2; exit 77; }

log() { vc_log "$*"; }
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

vc_init
vc_corosync_cluster 3
vc_cluster_add_host n4
nodes=(n1 n2 n3)
# Other engineers may rebuild helper/ during the run: use copies.
mkdir -p "$VC_TMP/bin"
cp "$VIRTCKPT" "$VC_TMP/bin/virtckpt"
cp "$VIRTCKPTD" "$VC_TMP/bin/virtckptd"
cp "$RC" "$VC_TMP/bin/remote-client"
VIRTCKPT=$VC_TMP/bin/virtckpt
VIRTCKPTD=$VC_TMP/bin/virtckptd
RC=$VC_TMP/bin/remote-client
rm -f "$VC_TMP/hosts/n4/root/etc/corosync/corosync.conf"
head -c 4096 /dev/urandom >"$VC_TMP/key"
for n in n1 n2 n3 n4; do
	install -m 0640 -o root -g haclient "$VC_TMP/key" "$VC_TMP/hosts/$n/root/etc/pacemaker/authkey"
done
a1=$(vc_node_addr n1)
mkdir -m 0700 "$VC_TMP/n4tmp"

BENCH=$(cd "$(dirname "$0")" && pwd)/replication-helper.py
GEN=$(cd "$(dirname "$0")" && pwd)/scale-helper.py
bench() { python3 "$BENCH" "$@" {_VC_WD_FD}>&-; }
on() { # NODE CMD... : CMD in NODE's namespaces, as the CLI runs there
	local n=$1
	shift
	on=(nsenter -t "$(vc_host_pid "$n")" -m -p -u -n --wdns=/ -- "$@")
}
num() {
	[[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || vc_fail "measurement failed: $2 is '$1'"
	printf '%s' "$1"
}
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }
p50p99() { printf '%s / %s' "$(num "$(field "$1" 1)" "$2 p50")" "$(num "$(field "$1" 3)" "$2 p99")"; }
rx_bytes() { # bytes received so far on n4's interfaces but lo
	vc_node_on n4 cat /proc/net/dev | awk -F'[: ]+' 'NR > 2 && $2 != "lo" { s += $3 } END { print s }'
}
# shellcheck disable=SC2016 # awk's fields
rss_kib() { vc_node_on n1 awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

declare -A R
rows=()
put() {
	[[ -n "${R["$1|order"]:-}" ]] || { rows+=("$1"); R["$1|order"]=1; }
	R["$1|$2"]=$3
}

remote_env=(env TMPDIR="$VC_TMP/n4tmp" VIRTCKPT_SERVERS="$a1")
for size in "${sizes[@]}"; do
	log "=== $size domains"
	if [[ -n "${started:-}" ]]; then
		for n in "${nodes[@]}"; do vc_daemon_stop "$n"; done
	fi
	started=1
	for n in "${nodes[@]}"; do rm -rf "$(node_store "$n")"; done
	mkdir -m 0700 "$(node_store n1)"
	doc_avg=$(python3 "$GEN" gen "$(node_store n1)" "$size" vm "$CKPTS")
	cp -a "$(node_store n1)" "$(node_store n2)"
	cp -a "$(node_store n1)" "$(node_store n3)"
	for n in "${nodes[@]}"; do vc_daemon_start "$n"; done
	for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 600; done
	doc=vm00001
	docfile=$(node_store n1)/$doc.xml
	[[ -s "$docfile" ]] || vc_fail "no $docfile"
	put "document bytes (one, as stored)" "$size" "$(stat -c %s "$docfile")"

	on n1 "$VIRTCKPT" --store "$(node_store n1)"
	local_cmd=("${on[@]}")
	on n4 "${remote_env[@]}" "$VIRTCKPT"
	remote_cmd=("${on[@]}")
	put "\`virtckpt status\` p50 / p99, ms: full node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${local_cmd[@]}" status)" status)"
	put "\`virtckpt status\` p50 / p99, ms: remote node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${remote_cmd[@]}" status)" "remote status")"
	put "\`checkpoints show\` p50 / p99, ms: full node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${local_cmd[@]}" checkpoints show "$doc")" show)"
	put "\`checkpoints show\` p50 / p99, ms: remote node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${remote_cmd[@]}" checkpoints show "$doc")" "remote show")"
	cp "$docfile" "$VC_TMP/imp.xml"
	put "\`checkpoints import\` p50 / p99, ms: full node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${local_cmd[@]}" -q checkpoints import "$VC_TMP/imp.xml")" import)"
	put "\`checkpoints import\` p50 / p99, ms: remote node" "$size" "$(p50p99 "$(bench runs "$RUNS" -- "${remote_cmd[@]}" -q checkpoints import "$VC_TMP/imp.xml")" "remote import")"
	[[ -z "$(ls -A "$VC_TMP/n4tmp")" ]] || vc_fail "n4 kept documents"

	# The protocol alone: a session of STATUS, and one of STATUS + 100 GETs.
	on n4 "$RC" "$a1"
	gets=()
	for ((i = 0; i < 100; i++)); do gets+=(get "$doc.xml"); done
	one=$(bench runs "$RUNS" -- "${on[@]}" status)
	many=$(bench runs 5 -- "${on[@]}" status "${gets[@]}")
	per=$(awk -v a="$(field "$many" 1)" -v b="$(field "$one" 1)" 'BEGIN { printf "%.3f", (a - b) / 100 }')
	put "one GET in a session, ms" "$size" "$(num "$per" "per GET")"
	b0=$(rx_bytes)
	"${on[@]}" status >/dev/null
	b1=$(rx_bytes)
	"${on[@]}" status "${gets[@]}" >/dev/null
	b2=$(rx_bytes)
	put "bytes received by n4 per GET (document + frame + TLS); per session" "$size" \
		"$(( (b2 - b1 - (b1 - b0)) / 100 )); $((b1 - b0))"

	# Memory of the relay: its listener, and one connection's process.
	rm -f "$VC_TMP/go"
	"${on[@]}" status "wait:$VC_TMP/go" >/dev/null &
	client=$!
	for ((i = 0; i < 100; i++)); do
		[[ $(vc_node_on n1 pgrep -c -x virtckptd-relay || true) -ge 2 ]] && break
		sleep 0.1
	done
	listener=$(vc_node_on n1 pgrep -o -x virtckptd-relay)
	conn=$(vc_node_on n1 pgrep -n -x virtckptd-relay)
	[[ "$listener" != "$conn" ]] || vc_fail "no connection process on n1"
	put "relay VmRSS, KiB: listener; one connection" "$size" "$(num "$(rss_kib "$listener")" listener); $(num "$(rss_kib "$conn")" connection)"
	touch "$VC_TMP/go"
	wait "$client"

	lst=$(bench runs 1 -- "${local_cmd[@]}" checkpoints list)
	put "\`checkpoints list\`, ms: full node" "$size" "$(num "$(field "$lst" 1)" list)"
	lst=$(bench runs 1 -- "${remote_cmd[@]}" checkpoints list)
	put "\`checkpoints list\`, ms: remote node (every document through the relay)" "$size" "$(num "$(field "$lst" 1)" "remote list")"
done
for n in "${nodes[@]}"; do vc_daemon_stop "$n"; done

cat <<EOF
Run: $start_time, \`tests/bench/remote-scale.sh\` ($(GIT_OPTIONAL_LOCKS=0 git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?'); load average at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)).

- Machine: $(nproc) CPUs, kernel $(uname -r); 3 full nodes (corosync, virtckptd) and a remote host n4 in network namespaces on it; the remote commands go to n1's relay.
- Documents: $CKPTS checkpoints each ($doc_avg bytes on average as generated); $RUNS runs per p50 / p99.

EOF
header="| measure"
sep="|---"
for col in "${sizes[@]}"; do header+=" | $col"; sep+="|---"; done
echo "$header |"
echo "$sep|"
for row in "${rows[@]}"; do
	line="| $row"
	for col in "${sizes[@]}"; do line+=" | ${R["$row|$col"]:--}"; done
	echo "$line |"
done
log "done"
