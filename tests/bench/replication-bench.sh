#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark, not part of the test suite: run it by hand, as root, after make.
#
#   tests/bench/replication-bench.sh >report.md      (progress goes to stderr)
#
# virtckptd on a 3-node lab cluster (tests/lib/cluster.sh: corosync 3, knet,
# one network namespace per node on this machine), in one run:
#
#  1. Update latency.  VC_BENCH_UPDATES imports, submitted one after the
#     other on n1 (`virtckpt checkpoints import`, through nsenter as the lab
#     tests run it), of 30-checkpoint documents of VC_BENCH_LAT_DOMAINS
#     domains in turn.  Each is timed from just before the CLI process is
#     spawned until the document file on every node (n1, n2, n3) shows the
#     new generation: a python3 helper watches the three store directories
#     with inotify (IN_MOVED_TO of the document: the daemon writes a temp
#     file, fsyncs it and renames it; the directory fsync follows the
#     rename) and falls back to reading the files if no event comes for
#     50 ms.  The CLI round trip alone (spawn to exit) is timed in the same
#     runs, and the cost of spawning alone (nsenter + `virtckpt --version`,
#     and nsenter + `virtckpt status`) separately.  Then the same number of
#     updates as PUTs over one IPC connection to n1's daemon, opened once
#     (python3 ctypes on libqb, inside n1's namespaces): the replication
#     latency proper, without the CLI's process start-up and connection.
#  2. Full sync of a fresh node.  VC_BENCH_DOMAINS documents of
#     VC_BENCH_CHECKPOINTS checkpoints each (made from make_doc's output:
#     distinct names and uuids) are written straight into n1's store before
#     its daemon starts; n2 starts with an empty store and syncs from n1
#     (timed too); then n3 starts with an empty store, timed from just
#     before its daemon is spawned until `virtckpt status` on n3 says
#     synced, 3 members and all the domains.  The three stores must then
#     have the same digest (store_digest_of).
#  3. Peak RSS (VmHWM of /proc/PID/status) of virtckptd on each node at that
#     size; then, with the big store: the cost of `virtckpt status`, a few
#     more updates (latency at size), and VC_BENCH_CONCURRENT CLIs importing
#     at the same time on n1 (VmHWM of n1 after them: every client
#     connection maps its own libqb shared-memory rings into the daemon).
#
# It prints one markdown table with the machine, the versions and the
# targets (p99 replication latency under 10 ms, p99 update latency through
# the CLI under 100 ms, full sync under 10 s, daemon RSS under 100 MiB).
#
# Environment:
#   VC_BENCH_UPDATES=N        updates of step 1 (default 1000)
#   VC_BENCH_LAT_DOMAINS=N    domains updated round-robin in step 1 (default 10)
#   VC_BENCH_DOMAINS=N        domains of step 2 (default 1000)
#   VC_BENCH_CHECKPOINTS=N    checkpoints per document (default 30)
#   VC_BENCH_BIG_UPDATES=N    updates with the big store (default 200; 0: none)
#   VC_BENCH_BASELINE_RUNS=N  runs of each spawn-cost baseline (default 200)
#   VC_BENCH_CONCURRENT=N     concurrent importing CLIs in step 3 (default 4;
#                             0: skip)
#   VC_BENCH_SYNC_TIMEOUT=S   limit for each full sync (default 300 s)
#   VC_BENCH_LOGDIR=DIR       keep the raw timings (CSV) and daemon logs
#   VC_BENCH_LATENCY_ONLY=1   step 1 only, no report (for tests/bench/run.sh)
#   VC_BENCH_SUMMARY=FILE     write the update latencies there, two lines:
#                             "replication P50 P99 FAILED CPU" (IPC PUTs; CPU:
#                             ms of the 3 daemons per update) and
#                             "cli P50 P99 FAILED" (CLI imports), in ms
# and those of tests/lib/functions.sh and cluster.sh (VC_KEEP_TMP=1, ...).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

UPDATES=${VC_BENCH_UPDATES:-1000}
LAT_DOMAINS=${VC_BENCH_LAT_DOMAINS:-10}
DOMAINS=${VC_BENCH_DOMAINS:-1000}
CKPTS=${VC_BENCH_CHECKPOINTS:-30}
BIG_UPDATES=${VC_BENCH_BIG_UPDATES:-200}
BASE_RUNS=${VC_BENCH_BASELINE_RUNS:-200}
CONCURRENT=${VC_BENCH_CONCURRENT:-4}
SYNC_TIMEOUT=${VC_BENCH_SYNC_TIMEOUT:-300}
VC_BENCH_LOGDIR=${VC_BENCH_LOGDIR:-}
LATENCY_ONLY=${VC_BENCH_LATENCY_ONLY:-0}
SUMMARY=${VC_BENCH_SUMMARY:-}
for v in UPDATES LAT_DOMAINS DOMAINS CKPTS BASE_RUNS SYNC_TIMEOUT; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "$v must be a positive integer" >&2; exit 2; }
done
[[ "$BIG_UPDATES" =~ ^[0-9]+$ ]] || { echo "VC_BENCH_BIG_UPDATES must be an integer" >&2; exit 2; }
[[ "$CONCURRENT" =~ ^[0-9]+$ ]] || { echo "VC_BENCH_CONCURRENT must be an integer" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 77; }

# Targets.
TARGET_P99_MS=100
TARGET_REPL_P99_MS=10
TARGET_SYNC_S=10
TARGET_RSS_MIB=100

log() { vc_log "$*"; }

vc_init
vc_cluster_init 3
nodes=(n1 n2 n3)
# Other engineers may rebuild helper/ during the run: use copies.
mkdir -p "$VC_TMP/bin"
cp "$VIRTCKPT" "$VIRTCKPTD" "$VC_TMP/bin/"
VIRTCKPT=$VC_TMP/bin/virtckpt
VIRTCKPTD=$VC_TMP/bin/virtckptd
[[ -z "$VC_BENCH_LOGDIR" ]] || mkdir -p "$VC_BENCH_LOGDIR"

# ------------------------------------------------------------ the helper --
HELPER=$(cd "$(dirname "$0")" && pwd)/replication-helper.py

bench() { python3 "$HELPER" "$@" {_VC_WD_FD}>&-; }
# bench_on NODE ARGS... : the helper inside NODE's namespaces (its IPC).
bench_on() {
	local n=$1
	shift
	nsenter -t "$(vc_host_pid "$n")" -m -n --wdns=/ -- python3 "$HELPER" "$@" {_VC_WD_FD}>&-
}

# node_cmd NODE : (in $node_cmd) the argv prefix of vnck NODE, for the
# helper, which spawns it itself.
node_cmd() {
	node_cmd=(nsenter -t "$(vc_host_pid "$1")" -m -p -u -n --wdns=/ --
		"$VIRTCKPT" --store "$(node_store "$1")")
}

status_of() { vnck "$1" status | sed -n "s/^$2: //p"; }

# daemons_cpu : user + system seconds the 3 virtckptd have used so far.
daemons_cpu() {
	local n hz
	hz=$(getconf CLK_TCK)
	for n in "${nodes[@]}"; do
		vc_node_on "$n" cat "/proc/$(vc_daemon_pid "$n")/stat"
	done | awk -v hz="$hz" '{ sub(/^.*\) /, ""); s += $12 + $13 } END { printf "%.2f", s / hz }'
}

# daemon_mem NODE FIELD : FIELD (VmHWM, VmRSS) of NODE's virtckptd, in MiB.
daemon_mem() {
	vc_node_on "$1" cat "/proc/$(vc_daemon_pid "$1")/status" |
		awk -v k="$2" '$1 == k ":" { printf "%.1f", $2 / 1024 }'
}

# "p50 p90 p99 max mean" -> "p50 X, p90 X, p99 X, max X ms"
fmt_pct() {
	local p50 p90 p99 max mean
	read -r p50 p90 p99 max mean <<<"$1"
	printf 'p50 %s, p90 %s, p99 %s, max %s ms (mean %s)' "$p50" "$p90" "$p99" "$max" "$mean"
}
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
yesno() { if lt "$1" "$2"; then echo yes; else echo "**no**"; fi; }

start_time=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for n in "${nodes[@]}"; do vc_corosync_start "$n"; done
vc_wait_members n1 3

# ------------------------------------------------- 1. update latency ----
for n in "${nodes[@]}"; do vc_daemon_start "$n"; done
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
pairs=()
mkdir -p "$VC_TMP/docs"
for ((i = 1; i <= LAT_DOMAINS; i++)); do
	make_doc "lat$i" "$CKPTS" "$VC_TMP/docs/lat$i.xml"
	vnck n1 -q checkpoints import "$VC_TMP/docs/lat$i.xml"   # first version
	pairs+=("$VC_TMP/docs/lat$i.xml=lat$i.xml")
done
doc_bytes=$(stat -c %s "$(node_store n1)/lat1.xml")
dirs="$(node_store n1),$(node_store n2),$(node_store n3)"

log "baselines: spawn costs ($BASE_RUNS runs each)"
node_cmd n1
base_nsenter=$(bench runs "$BASE_RUNS" -- "${node_cmd[@]:0:9}" true)
base_version=$(bench runs "$BASE_RUNS" -- "${node_cmd[@]}" --version)
base_status=$(bench runs "$BASE_RUNS" -- "${node_cmd[@]}" status)

log "update latency: $UPDATES imports on n1, $LAT_DOMAINS domains round-robin, $doc_bytes-byte documents"
csv=$VC_TMP/latency.csv
lat_t0=$EPOCHREALTIME
fails=$(bench latency "$csv" "$UPDATES" 10 "$dirs" "$(IFS=,; echo "${pairs[*]}")" -- \
	"${node_cmd[@]}" -q checkpoints import '{}')
lat_secs=$(vc_elapsed "$lat_t0")
lat_all=$(bench stats "$csv" 8)
lat_cli=$(bench stats "$csv" 4)
lat_n1=$(bench stats "$csv" 5)
lat_n2=$(bench stats "$csv" 6)
lat_n3=$(bench stats "$csv" 7)
# how often the CLI returned before n2 or n3 had the update
cli_first=$(awk -F, '$5 != "" && $9 != "" && $5 + 0 < $9 + 0 { n++ } END { print n + 0 }' "$csv")
log "latency: all nodes $(fmt_pct "$lat_all"); CLI $(fmt_pct "$lat_cli"); $fails failed"
log "replication latency: $UPDATES PUTs over one IPC connection on n1"
csv_ipc=$VC_TMP/latency-ipc.csv
cpu0=$(daemons_cpu)
ipc_fails=$(bench_on n1 latency "$csv_ipc" "$UPDATES" 10 "$dirs" "$(IFS=,; echo "${pairs[*]}")" -- @ipc)
ipc_cpu=$(awk -v a="$cpu0" -v b="$(daemons_cpu)" -v n="$UPDATES" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
lat_ipc=$(bench stats "$csv_ipc" 8)
lat_ipc_n1=$(bench stats "$csv_ipc" 4)
log "replication latency: all nodes $(fmt_pct "$lat_ipc"); $ipc_fails failed"
for n in "${nodes[@]}"; do
	[[ "$(status_of "$n" state)" == synced ]] || vc_fail "$n not synced after the updates"
done
upd_applied=$(status_of n2 updates-applied)
d1=$(store_digest_of n1) d2=$(store_digest_of n2) d3=$(store_digest_of n3)
[[ "$d1" == "$d2" && "$d2" == "$d3" ]] || vc_fail "stores differ after the updates"

if [[ -n "$SUMMARY" ]]; then
	printf 'replication %s %s %s %s\ncli %s %s %s\n' \
		"$(field "$lat_ipc" 1)" "$(field "$lat_ipc" 3)" "$ipc_fails" "$ipc_cpu" \
		"$(field "$lat_all" 1)" "$(field "$lat_all" 3)" "$fails" >"$SUMMARY"
fi
if [[ "$LATENCY_ONLY" == 1 ]]; then
	[[ -z "$VC_BENCH_LOGDIR" ]] || cp "$VC_TMP"/latency*.csv "$VC_BENCH_LOGDIR/"
	log "done (latency only)"
	exit 0
fi

# ---------------------------------------------- 2. full sync of a fresh node
for n in "${nodes[@]}"; do vc_daemon_stop "$n"; done
for n in "${nodes[@]}"; do rm -rf "$(node_store "$n")"; done
mkdir -p "$(node_store n1)"
chmod 0700 "$(node_store n1)"
make_doc template "$CKPTS" "$VC_TMP/template.xml"
gen_t0=$EPOCHREALTIME
bench gen "$VC_TMP/template.xml" "$(node_store n1)" "$DOMAINS" vm
log "$DOMAINS documents written into n1's store in $(vc_elapsed "$gen_t0")s"
store_mib=$(du -sm "$(node_store n1)" | cut -f1)
store_bytes=$(find "$(node_store n1)" -maxdepth 1 -name '*.xml' -printf '%s\n' | awk '{ s += $1 } END { print s }')

vc_daemon_start n1
vc_wait_synced n1 1 60
t0=$EPOCHREALTIME
vc_daemon_start n2
node_cmd n2
read -r n2_files n2_sync _ < <(bench syncwait "$t0" "$(node_store n2)" "$DOMAINS" 2 "$SYNC_TIMEOUT" -- \
	"${node_cmd[@]}" status)
log "n2 (empty) synced from n1: all files after ${n2_files}s, synced after ${n2_sync}s"
vc_wait_synced n1 2 60

log "full sync of n3 (empty store) with n1 and n2 holding $DOMAINS domains"
t0=$EPOCHREALTIME
vc_daemon_start n3
node_cmd n3
read -r n3_files n3_sync n3_calls < <(bench syncwait "$t0" "$(node_store n3)" "$DOMAINS" 3 "$SYNC_TIMEOUT" -- \
	"${node_cmd[@]}" status)
log "n3 synced: all files after ${n3_files}s, synced after ${n3_sync}s ($n3_calls status calls)"
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
d1=$(store_digest_of n1) d2=$(store_digest_of n2) d3=$(store_digest_of n3)
if [[ "$d1" == "$d2" && "$d2" == "$d3" ]]; then
	digests="identical (${d1:0:12})"
else
	digests="**differ**: n1 ${d1:0:12} n2 ${d2:0:12} n3 ${d3:0:12}"
fi
log "store digests: $digests"
n3_domains=$(status_of n3 domains)
n3_ckpts=$(status_of n3 checkpoints)

# ------------------------------------------------------------- 3. memory --
rss=() hwm=()
for n in "${nodes[@]}"; do
	hwm+=("$(daemon_mem "$n" VmHWM)")
	rss+=("$(daemon_mem "$n" VmRSS)")
done
rss_max=$(printf '%s\n' "${hwm[@]}" | sort -g | tail -1)
log "virtckptd VmHWM: n1 ${hwm[0]} n2 ${hwm[1]} n3 ${hwm[2]} MiB"

log "virtckpt status with $DOMAINS domains stored (20 runs)"
node_cmd n1
big_status=$(bench runs 20 -- "${node_cmd[@]}" status)

big=""
if ((BIG_UPDATES > 0)); then
	log "update latency with $DOMAINS domains stored: $BIG_UPDATES imports"
	big_pairs=()
	for i in 1 2 3 4 5 6 7 8 9 10; do
		f=$(printf 'vm%04d.xml' "$i")
		cp "$(node_store n1)/$f" "$VC_TMP/docs/big-$f"
		big_pairs+=("$VC_TMP/docs/big-$f=$f")
	done
	node_cmd n1
	big_csv=$VC_TMP/latency-big.csv
	big_fails=$(bench latency "$big_csv" "$BIG_UPDATES" 10 "$dirs" "$(IFS=,; echo "${big_pairs[*]}")" -- \
		"${node_cmd[@]}" -q checkpoints import '{}')
	big=$(bench stats "$big_csv" 8)
	big_cli=$(bench stats "$big_csv" 4)
	hwm_end=()
	for n in "${nodes[@]}"; do hwm_end+=("$(daemon_mem "$n" VmHWM)"); done
fi

conc_hwm=""
if ((CONCURRENT > 0)); then
	log "$CONCURRENT CLIs importing at the same time on n1 (25 imports each)"
	conc_t0=$EPOCHREALTIME
	pids=()
	for ((k = 1; k <= CONCURRENT; k++)); do
		f=$(printf 'vm%04d.xml' $((100 + k)))
		cp "$(node_store n1)/$f" "$VC_TMP/docs/conc-$f"
		(for ((i = 0; i < 25; i++)); do
			vnck n1 -q checkpoints import "$VC_TMP/docs/conc-$f"
		done) &
		pids+=($!)
	done
	conc_fail=0
	for p in "${pids[@]}"; do wait "$p" || conc_fail=$((conc_fail + 1)); done
	conc_secs=$(vc_elapsed "$conc_t0")
	conc_hwm=$(daemon_mem n1 VmHWM)
	conc_rss=$(daemon_mem n1 VmRSS)
	log "after $CONCURRENT concurrent CLIs: n1 VmHWM $conc_hwm MiB ($conc_fail loops failed)"
fi

if [[ -n "$VC_BENCH_LOGDIR" ]]; then
	cp "$VC_TMP"/latency*.csv "$VC_BENCH_LOGDIR/"
	for n in "${nodes[@]}"; do
		cp "$VC_TMP/hosts/$n/log/virtckptd.log" "$VC_BENCH_LOGDIR/virtckptd-$n.log"
		cp "$VC_TMP/hosts/$n/log/corosync.log" "$VC_BENCH_LOGDIR/corosync-$n.log" 2>/dev/null || true
	done
fi

# ---------------------------------------------------------------- report --
end_time=$(date -u '+%H:%M:%S UTC')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_mib=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
fs=$(df -PT "$VC_TMP" | awk 'NR == 2 { print $2 " on " $1 }')
corosync_v=$(corosync -v 2>/dev/null | sed -n "s/.*version '\([^']*\)'.*/\1/p" | head -1)
libqb_v=$(dpkg-query -W -f '${Version}' libqb100 2>/dev/null || echo '?')
knet_v=$(dpkg-query -W -f '${Version}' libknet1 2>/dev/null || echo '?')
vck_v=$("$VIRTCKPT" --version 2>/dev/null | head -1)
rev=$(GIT_OPTIONAL_LOCKS=0 git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')
p99=$(field "$lat_all" 3)

cat <<EOF
Run: $start_time - $end_time, \`tests/bench/replication-bench.sh\` (load average at the start: $load_start, at the end: $load_end).

- Machine: $(nproc) CPUs (\`nproc\`, $cpu), $mem_mib MiB RAM, kernel $(uname -r), stores on $fs.
- Versions: corosync $corosync_v (knet $knet_v, crypto none), libqb $libqb_v, $vck_v ($rev).
- Cluster: 3 nodes in network namespaces of this machine (tests/lib/cluster.sh), corosync defaults.
- Documents: $CKPTS checkpoints each ($doc_bytes bytes as the daemon writes them).

| measure | result | target | met |
|---|---|---|---|
| update latency: import on n1 until the new version is on all 3 nodes ($UPDATES updates, $LAT_DOMAINS domains round-robin) | $(fmt_pct "$lat_all") | p99 < $TARGET_P99_MS ms | $(yesno "$p99" "$TARGET_P99_MS") |
| replication latency: a PUT over an open IPC connection on n1 until the new version is on all 3 nodes ($UPDATES updates; no process start-up, no connect) | $(fmt_pct "$lat_ipc"); reply on n1: $(fmt_pct "$lat_ipc_n1"); $ipc_fails failed; CPU of the 3 daemons: $ipc_cpu ms per update | p99 < $TARGET_REPL_P99_MS ms | $(yesno "$(field "$lat_ipc" 3)" "$TARGET_REPL_P99_MS") |
| CLI round trip alone (spawn nsenter + \`virtckpt checkpoints import\` until it exits; same runs) | $(fmt_pct "$lat_cli") | - | - |
| ... new version on n1 / n2 / n3 (p50, p99) | n1 $(field "$lat_n1" 1) / $(field "$lat_n1" 3), n2 $(field "$lat_n2" 1) / $(field "$lat_n2" 3), n3 $(field "$lat_n3" 1) / $(field "$lat_n3" 3) ms; CLI returned before n2 or n3 had it in $cli_first of $UPDATES | - | - |
| spawn cost: nsenter + \`true\` ($BASE_RUNS runs) | $(fmt_pct "$base_nsenter") | - | - |
| spawn cost: nsenter + \`virtckpt --version\` | $(fmt_pct "$base_version") | - | - |
| nsenter + \`virtckpt status\` (connect to the daemon, one request; $LAT_DOMAINS domains) | $(fmt_pct "$base_status") | - | - |
| full sync of a fresh n3 (empty store) from n1 + n2 holding $DOMAINS domains x $CKPTS checkpoints ($store_mib MiB on disk, $store_bytes bytes of documents), daemon spawn until \`status\` on n3 says synced, 3 members, $n3_domains domains | ${n3_sync} s (all $DOMAINS files present after ${n3_files} s) | < $TARGET_SYNC_S s | $(yesno "$n3_sync" "$TARGET_SYNC_S") |
| ... same for n2 joining n1 alone (2 members) | ${n2_sync} s (files after ${n2_files} s) | - | - |
| store digests of n1, n2, n3 after the sync | $digests; n3: $n3_domains domains, $n3_ckpts checkpoints | identical | $([[ "$digests" == identical* ]] && echo yes || echo "**no**") |
| virtckptd peak RSS (VmHWM) n1 / n2 / n3 at $DOMAINS domains | ${hwm[0]} / ${hwm[1]} / ${hwm[2]} MiB (VmRSS ${rss[0]} / ${rss[1]} / ${rss[2]}) | < $TARGET_RSS_MIB MiB | $(yesno "$rss_max" "$TARGET_RSS_MIB") |
| nsenter + \`virtckpt status\` with $DOMAINS domains stored (20 runs; the daemon counts them from its scan of the store) | $(fmt_pct "$big_status") | - | - |
EOF
if [[ -n "$big" ]]; then
	cat <<EOF
| update latency with $DOMAINS domains stored ($BIG_UPDATES updates, 10 domains round-robin) | $(fmt_pct "$big"); CLI $(fmt_pct "$big_cli"); $big_fails failed; VmHWM after: ${hwm_end[0]} / ${hwm_end[1]} / ${hwm_end[2]} MiB | p99 < $TARGET_P99_MS ms | $(yesno "$(field "$big" 3)" "$TARGET_P99_MS") |
EOF
fi
if [[ -n "$conc_hwm" ]]; then
	cat <<EOF
| virtckptd peak RSS (VmHWM) on n1 after $CONCURRENT CLIs importing at the same time (25 imports each, ${conc_secs} s, $conc_fail loops failed) | $conc_hwm MiB (VmRSS $conc_rss) | < $TARGET_RSS_MIB MiB | $(yesno "$conc_hwm" "$TARGET_RSS_MIB") |
EOF
fi
cat <<EOF

Notes: $fails of $UPDATES updates failed or timed out (10 s); step 1 took ${lat_secs} s in all; n2 applied $upd_applied updates. Percentiles are nearest-rank. "On a node" = the document file there was renamed into place with the new generation (seen by inotify; the daemon has fsynced the file, the directory fsync follows). Times include spawning the CLI through nsenter, as \`vnck\` in the lab tests does.
EOF
log "done"
