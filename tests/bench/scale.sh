#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Scale measurement, not part of the test suite (doc/scale.md): run it by
# hand, as root, after make, or as `make scale N="1000 10000"`.
#
#   tests/bench/scale.sh >report.md      (progress goes to stderr)
#
# virtckptd on the 3-node lab cluster (tests/lib/cluster.sh: corosync,
# knet, one network namespace per node on this machine), the per-node
# costs of the replicated store at each size of VC_SCALE_SIZES:
#
#  0. Baseline at 10 domains: update fan-out (bytes on the wire per update
#     from the status counters bytes-sent / bytes-received) and replication
#     latency (PUTs over one IPC connection on n1 until the new version is
#     on all 3 nodes: tests/bench/replication-helper.py latency @ipc).
#  1. N documents (scale-helper.py gen: chains of VC_SCALE_CHECKPOINTS
#     checkpoints whose XML holds the whole <domain>) written into n1's
#     store and copied to n2 and n3 before their daemons start; disk bytes
#     and inodes of a store.
#  2. The three daemons start and sync; then idle for VC_SCALE_IDLE
#     seconds: VmRSS and CPU of each daemon over that time.
#  3. `virtckpt status` and `virtckpt checkpoints list` latency (through
#     nsenter, as the lab tests run them); the update fan-out and latency
#     again, now with N documents stored.
#  4. n3's daemon restarts with its store unchanged while n1 imports a
#     document in a loop: the longest import (writes wait while the members
#     sync).  Then n3's daemon restarts with its store (a) unchanged, (b) 1% stale
#     (N/100 domains updated on n1 while n3 is down), (c) empty: time from
#     the daemon's spawn until `status` on n3 says synced, 3 members and
#     N domains; bytes and messages on the wire (sum of bytes-sent of the
#     3 daemons over the sync); CPU of each daemon over it.  The stores'
#     digests must then be identical.
#
# With VC_SCALE_MODE=scheduler (`make scale MODE=scheduler N=1000`), instead
# of 0-4, the cost of virtckptd's scheduler (doc/virtckptd.pod, "Schedules"),
# for each size, libvirtd running on every node with no domain:
#  5. N documents with no schedule, then the same N documents each with a
#     <schedule every="3600"> (none of those domains runs anywhere): time
#     from the daemons' spawn until `status` on all 3 counts the schedules;
#     the child processes of n1's daemon (each tick that finds a window to
#     settle forks one that lists libvirt's running domains): how many, how
#     long each lives, when the first ends; then idle for VC_SCALE_IDLE
#     seconds: CPU of each daemon (own, and of its children), of each
#     libvirtd, VmRSS; `virtckpt status` latency over VC_SCALE_STATUS_RUNS
#     calls on n1.
#
# Every figure comes from a measurement; any failed measurement stops the
# run with an error (vc_fail) rather than print a made-up number.
#
# Environment:
#   VC_SCALE_SIZES="1000 10000 50000"   domain counts (one pass each)
#   VC_SCALE_CHECKPOINTS=10             checkpoints per document
#   VC_SCALE_UPDATES=200                updates for each latency figure
#   VC_SCALE_IDLE=20                    seconds of idle CPU sampling (120
#                                       with VC_SCALE_MODE=scheduler)
#   VC_SCALE_MODE=store                 or scheduler (step 5 only)
#   VC_SCALE_STATUS_RUNS=200            `status` calls (scheduler mode)
#   VC_SCALE_SYNC_TIMEOUT=1800          limit for each sync, seconds
#   VC_SCALE_LOGDIR=DIR                 keep the daemon logs and CSVs
# and those of tests/lib/functions.sh and cluster.sh (VC_KEEP_TMP=1, ...).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

SIZES=${VC_SCALE_SIZES:-1000 10000 50000}
CKPTS=${VC_SCALE_CHECKPOINTS:-10}
UPDATES=${VC_SCALE_UPDATES:-200}
MODE=${VC_SCALE_MODE:-store}
case $MODE in
store) IDLE=${VC_SCALE_IDLE:-20} ;;
scheduler) IDLE=${VC_SCALE_IDLE:-120} ;;
*) echo "VC_SCALE_MODE is store or scheduler, not '$MODE'" >&2; exit 2 ;;
esac
STATUS_RUNS=${VC_SCALE_STATUS_RUNS:-200}
SYNC_TIMEOUT=${VC_SCALE_SYNC_TIMEOUT:-1800}
LOGDIR=${VC_SCALE_LOGDIR:-}
read -r -a sizes <<<"$SIZES"
((${#sizes[@]} > 0)) || { echo "VC_SCALE_SIZES is empty" >&2; exit 2; }
for v in "${sizes[@]}" "$CKPTS" "$UPDATES" "$IDLE" "$SYNC_TIMEOUT" "$STATUS_RUNS"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive integer: $v" >&2; exit 2; }
done
for v in "${sizes[@]}"; do
	((v >= 100)) || { echo "sizes must be at least 100 (1% stale)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 77; }

log() { vc_log "$*"; }

vc_init
vc_cluster_init 3
nodes=(n1 n2 n3)
# Other engineers may rebuild helper/ during the run: use copies.
mkdir -p "$VC_TMP/bin" "$VC_TMP/docs"
cp "$VIRTCKPT" "$VC_TMP/bin/virtckpt"
cp "$VIRTCKPTD" "$VC_TMP/bin/virtckptd"
VIRTCKPT=$VC_TMP/bin/virtckpt
VIRTCKPTD=$VC_TMP/bin/virtckptd
[[ -z "$LOGDIR" ]] || mkdir -p "$LOGDIR"

BENCH=$(cd "$(dirname "$0")" && pwd)/replication-helper.py
GEN=$(cd "$(dirname "$0")" && pwd)/scale-helper.py
bench() { python3 "$BENCH" "$@" {_VC_WD_FD}>&-; }
bench_on() {
	local n=$1
	shift
	nsenter -t "$(vc_host_pid "$n")" -m -n --wdns=/ -- python3 "$BENCH" "$@" {_VC_WD_FD}>&-
}
node_cmd() {
	node_cmd=(nsenter -t "$(vc_host_pid "$1")" -m -p -u -n --wdns=/ --
		"$VIRTCKPT" --store "$(node_store "$1")")
}

# num VALUE WHAT : VALUE, which must be a number, else the run fails.
num() {
	[[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || vc_fail "measurement failed: $2 is '$1'"
	printf '%s' "$1"
}
# counter NODE KEY : an integer of NODE's status.
counter() {
	local v
	v=$(vnck "$1" status | sed -n "s/^$2: //p")
	[[ "$v" =~ ^[0-9]+$ ]] || vc_fail "status of $1 has no $2 (got '$v')"
	printf '%s' "$v"
}
# cpu_of NODE : user + system seconds of NODE's virtckptd so far.
cpu_of() {
	local v
	v=$(vc_node_on "$1" cat "/proc/$(vc_daemon_pid "$1")/stat" |
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }')
	num "$v" "CPU of virtckptd on $1"
}
# rss_of NODE : VmRSS of NODE's virtckptd, MiB.
rss_of() {
	local v
	v=$(vc_node_on "$1" cat "/proc/$(vc_daemon_pid "$1")/status" |
		awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }')
	num "$v" "VmRSS of virtckptd on $1"
}
# cpu_pid NODE PID : user + system seconds of process PID of NODE, then
# those of its children it waited for.
cpu_pid() {
	local v
	v=$(vc_node_on "$1" cat "/proc/$2/stat" |
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f %.2f", ($12 + $13) / hz, ($14 + $15) / hz }')
	num "${v% *}" "CPU of process $2 on $1" >/dev/null
	num "${v#* }" "CPU of the children of process $2 on $1" >/dev/null
	printf '%s' "$v"
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }

# The results: R[row|size] and the rows in order.
declare -A R
rows=()
put() {
	local row=$1 size=$2 val=$3
	[[ -n "${R["$row|order"]:-}" ]] || { rows+=("$row"); R["$row|order"]=1; }
	R["$row|$size"]=$val
}

# fanout SIZE DOCS... : UPDATES PUTs over IPC on n1, round-robin over the
# documents DOCS (files in n1's store, copied as the submitted text);
# records latency and bytes per update.
fanout() {
	local size=$1 f csv fails lat s1 r2 r3 m1 c0 c1 i
	shift
	local pairs=()
	for f in "$@"; do
		cp "$(node_store n1)/$f" "$VC_TMP/docs/$size-$f"
		pairs+=("$VC_TMP/docs/$size-$f=$f")
	done
	s1=$(counter n1 bytes-sent) r2=$(counter n2 bytes-received)
	r3=$(counter n3 bytes-received) m1=$(counter n1 messages-sent)
	c0=0
	for i in "${nodes[@]}"; do c0=$(awk -v a="$c0" -v b="$(cpu_of "$i")" 'BEGIN { print a + b }'); done
	csv=$VC_TMP/fanout-$size.csv
	fails=$(bench_on n1 latency "$csv" "$UPDATES" 10 \
		"$(node_store n1),$(node_store n2),$(node_store n3)" \
		"$(IFS=,; echo "${pairs[*]}")" -- @ipc)
	[[ "$fails" == 0 ]] || vc_fail "$fails of $UPDATES updates failed at $size domains (see $csv)"
	c1=0
	for i in "${nodes[@]}"; do c1=$(awk -v a="$c1" -v b="$(cpu_of "$i")" 'BEGIN { print a + b }'); done
	lat=$(bench stats "$csv" 8)
	put "document size (bytes, as stored)" "$size" "$(stat -c %s "$(node_store n1)/$1")"
	put "update: bytes sent by n1 per update (payload + 40-byte headers)" "$size" \
		"$(div "$(($(counter n1 bytes-sent) - s1))" "$UPDATES")"
	put "update: CPG messages per update" "$size" \
		"$(awk -v a="$(($(counter n1 messages-sent) - m1))" -v n="$UPDATES" 'BEGIN { printf "%.2f", a / n }')"
	put "update: bytes received per update, n2 / n3" "$size" \
		"$(div "$(($(counter n2 bytes-received) - r2))" "$UPDATES") / $(div "$(($(counter n3 bytes-received) - r3))" "$UPDATES")"
	put "update latency p50 / p99, ms (PUT on n1 until on all 3)" "$size" \
		"$(num "$(field "$lat" 1)" "p50") / $(num "$(field "$lat" 3)" "p99")"
	put "update: CPU of the 3 daemons per update, ms" "$size" \
		"$(awk -v a="$c0" -v b="$c1" -v n="$UPDATES" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')"
}

# restart_n3 SIZE CASE : restarts n3's daemon (already stopped, its store
# prepared) and records the sync.
restart_n3() {
	local size=$1 case=$2 i t0 files synced calls sent=0 msgs=0 out n
	declare -A s0 m0 c0
	for n in n1 n2; do
		s0[$n]=$(counter "$n" bytes-sent)
		m0[$n]=$(counter "$n" messages-sent)
		c0[$n]=$(cpu_of "$n")
	done
	t0=$EPOCHREALTIME
	vc_daemon_start n3
	node_cmd n3
	read -r files synced calls < <(bench syncwait "$t0" "$(node_store n3)" "$size" 3 \
		"$SYNC_TIMEOUT" -- "${node_cmd[@]}" status) ||
		vc_fail "n3 did not sync ($case, $size domains)"
	num "$synced" "time to synced" >/dev/null
	for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 120; done
	for n in n1 n2; do
		sent=$((sent + $(counter "$n" bytes-sent) - s0[$n]))
		msgs=$((msgs + $(counter "$n" messages-sent) - m0[$n]))
	done
	sent=$((sent + $(counter n3 bytes-sent)))
	msgs=$((msgs + $(counter n3 messages-sent)))
	out="$synced s; $(mib "$sent") MiB in $msgs messages"
	out+="; CPU n1 $(sub "$(cpu_of n1)" "${c0[n1]}") / n2 $(sub "$(cpu_of n2)" "${c0[n2]}") / n3 $(cpu_of n3) s"
	put "restart of n3, store $case: time to synced; bytes on the wire (all 3); CPU" "$size" "$out"
	log "$size domains, n3 restarted ($case): $out ($calls status calls, files after ${files}s)"
	local d1 d2 d3
	d1=$(store_digest_of n1) d2=$(store_digest_of n2) d3=$(store_digest_of n3)
	[[ "$d1" == "$d2" && "$d2" == "$d3" ]] || vc_fail "stores differ after the restart ($case, $size)"
}

# stall_probe OUT DOC : imports DOC on n1, one import after the other,
# until OUT.stop exists; then writes the longest import (ms) to OUT, or
# "failed".
stall_probe() {
	local out=$1 doc=$2 max=0 t0 ms
	while [[ ! -e "$out.stop" ]]; do
		t0=$EPOCHREALTIME
		if ! vnck n1 -q checkpoints import "$doc" 2>>"$out.err"; then
			echo failed >"$out"
			return 0
		fi
		ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
		((ms <= max)) || max=$ms
	done
	echo "$max" >"$out"
}

# write_stall SIZE : n3 restarts (store unchanged) while n1 imports a
# document over and over: the longest import is how long writes wait
# for the sync (the members are in SYNCING until n3 sent its summary).
write_stall() {
	local size=$1 out=$VC_TMP/stall-$1 pid t0 synced v
	cp "$(node_store n1)/vm00001.xml" "$VC_TMP/docs/stall.xml"
	vc_daemon_stop n3
	rm -f "$out" "$out.stop"
	stall_probe "$out" "$VC_TMP/docs/stall.xml" &
	pid=$!
	sleep 1
	t0=$EPOCHREALTIME
	vc_daemon_start n3
	node_cmd n3
	read -r _ synced _ < <(bench syncwait "$t0" "$(node_store n3)" "$size" 3 \
		"$SYNC_TIMEOUT" -- "${node_cmd[@]}" status) || vc_fail "n3 did not sync (write stall, $size domains)"
	sleep 1
	touch "$out.stop"
	wait "$pid"
	v=$(cat "$out")
	num "$v" "the longest import on n1 while n3 restarted" >/dev/null
	put "restart of n3 (store unchanged) while n1 imports in a loop: n3 synced after, s; longest import on n1, ms" \
		"$size" "$(num "$synced" "time to synced"); $v"
	log "$size domains: longest import on n1 while n3 restarted: $v ms"
	for n in n1 n2 n3; do vc_wait_synced "$n" 3 120; done
}

# forks_of TRACE PID : the children process PID forked, "CHILD FORKED
# EXITED" (scale-helper.py forks), from TRACE, its strace.
forks_of() {
	[[ -s "$1" ]] || vc_fail "no trace of the daemon ($1)"
	python3 "$GEN" forks "$1" "$2" || vc_fail "cannot read the trace $1"
}

# wait_scheduler NODE COUNT : until NODE's status says the scheduler runs
# with COUNT schedules (bounded).
wait_scheduler() {
	local i st
	for ((i = 0; i < 1200; i++)); do
		st=$(vnck "$1" status)
		grep -q '^scheduler: running$' <<<"$st" && grep -q "^schedules: $2\$" <<<"$st" && return 0
		sleep 0.1
	done
	vc_fail "the scheduler of $1 does not run with $2 schedules: $st"
}

# scheduler_pass SIZE : step 5 at SIZE documents, first with no schedule,
# then each with one; a column each.
scheduler_pass() {
	local size=$1 every col t0 i0 i1 n v f synced st lat ran life
	declare -A c0 c1 l0 l1 lv dp
	for n in "${nodes[@]}"; do lv[$n]=$(vc_node_on "$n" pgrep -x libvirtd | head -n 1); done
	for every in 0 3600; do
		if ((every)); then col="$size, each with a schedule"; else col="$size, no schedule"; fi
		cols+=("$col")
		log "=== scheduler: $col"
		for n in "${nodes[@]}"; do
			[[ ! -e "$VC_TMP/hosts/$n/virtckptd.pid" ]] || vc_daemon_stop "$n"
		done
		for n in "${nodes[@]}"; do rm -rf "$(node_store "$n")"; done
		mkdir -p "$(node_store n1)"
		chmod 0700 "$(node_store n1)"
		doc_avg=$(python3 "$GEN" gen "$(node_store n1)" "$size" vm "$CKPTS" "$every")
		cp -a "$(node_store n1)" "$(node_store n2)"
		cp -a "$(node_store n1)" "$(node_store n3)"
		sync

		# Each daemon under an strace that stops only at forks
		# (seccomp): when each child is forked and when it exits.
		t0=$EPOCHREALTIME
		for n in "${nodes[@]}"; do
			VC_DAEMON_WRAP=(strace -f --seccomp-bpf -ttt -e 'trace=clone,clone3,fork,vfork'
				-o "$VC_TMP/trace-$size-$every-$n")
			vc_daemon_start "$n"
		done
		unset VC_DAEMON_WRAP
		node_cmd n1
		read -r _ synced _ < <(bench syncwait "$t0" "$(node_store n1)" "$size" 3 \
			"$SYNC_TIMEOUT" -- "${node_cmd[@]}" status) || vc_fail "no sync at $size domains"
		for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 120; done
		for n in "${nodes[@]}"; do wait_scheduler "$n" $((every ? size : 0)); done
		put "from the daemons' spawn: synced, s; the scheduler running with every schedule counted on all 3, s" \
			"$col" "$(num "$synced" "time to synced"); $(vc_elapsed "$t0")"
		sleep 5

		# idle
		i0=$EPOCHREALTIME
		for n in "${nodes[@]}"; do
			c0[$n]=$(cpu_pid "$n" "$(vc_daemon_pid "$n")")
			l0[$n]=$(cpu_pid "$n" "${lv[$n]}")
		done
		sleep "$IDLE"
		for n in "${nodes[@]}"; do
			c1[$n]=$(cpu_pid "$n" "$(vc_daemon_pid "$n")")
			l1[$n]=$(cpu_pid "$n" "${lv[$n]}")
		done
		i1=$EPOCHREALTIME
		v=""
		for n in "${nodes[@]}"; do
			v+="${v:+ / }$(sub "${c1[$n]% *}" "${c0[$n]% *}") ($(sub "${c1[$n]#* }" "${c0[$n]#* }"))"
		done
		put "idle ${IDLE} s: CPU of virtckptd (of its children), n1 / n2 / n3, s" "$col" "$v"
		put "idle ${IDLE} s: CPU of libvirtd, n1 / n2 / n3, s" "$col" \
			"$(sub "${l1[n1]% *}" "${l0[n1]% *}") / $(sub "${l1[n2]% *}" "${l0[n2]% *}") / $(sub "${l1[n3]% *}" "${l0[n3]% *}")"
		put "virtckptd VmRSS n1 / n2 / n3, MiB (idle)" "$col" "$(rss_of n1) / $(rss_of n2) / $(rss_of n3)"

		# status
		node_cmd n1
		lat=$(bench runs "$STATUS_RUNS" -- "${node_cmd[@]}" status)
		put "\`virtckpt status\` on n1 p50 / p99, ms ($STATUS_RUNS runs)" "$col" \
			"$(num "$(field "$lat" 1)" status) / $(num "$(field "$lat" 3)" status)"
		st=$(vnck n1 status)
		ran=$(sed -n 's/^scheduled-runs: //p' <<<"$st")
		[[ "$ran" == 0 ]] || vc_fail "n1's scheduler ran jobs for domains that do not run: $st"
		put "n1's status: schedules; scheduler; scheduled-runs" "$col" \
			"$(sed -n 's/^schedules: //p' <<<"$st"); $(sed -n 's/^scheduler: //p' <<<"$st"); $ran"

		# The children, from the traces, complete once the daemons are gone.
		for n in "${nodes[@]}"; do dp[$n]=$(vc_daemon_pid "$n"); done
		for n in "${nodes[@]}"; do vc_daemon_stop "$n"; done
		sleep 1
		for n in "${nodes[@]}"; do
			forks_of "$VC_TMP/trace-$size-$every-$n" "${dp[$n]}" >"$VC_TMP/forks-$size-$every-$n"
		done
		f=$VC_TMP/forks-$size-$every
		v=$(awk -v t0="$t0" '$3 != "-" { printf "%.2f s; %.0f ms", $3 - t0, ($3 - $2) * 1000; exit }' "$f-n1")
		put "first tick: n1's daemon's first child ended after (from spawn), s; it lived, ms" "$col" \
			"${v:-no child}"
		v=""
		for n in "${nodes[@]}"; do
			v+="${v:+ / }$(awk -v a="$i0" -v b="$i1" '$2 >= a && $2 < b' "$f-$n" | wc -l)"
		done
		life=$(cat "$f"-n? | awk -v a="$i0" -v b="$i1" '$2 >= a && $2 < b && $3 != "-" { print ($3 - $2) * 1000 }' |
			sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f / %.1f / %.1f", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)], v[NR]; else print "-" }')
		put "idle ${IDLE} s: children forked, n1 / n2 / n3; their lifetime p50 / p99 / max, ms" "$col" "$v; $life"
		log "$col: status $lat"
		if [[ -n "$LOGDIR" ]]; then
			cp "$VC_TMP/trace-$size-$every"-* "$LOGDIR/"
			for n in "${nodes[@]}"; do
				cp "$VC_TMP/hosts/$n/log/virtckptd.log" "$LOGDIR/virtckptd-$n-$size-$every.log"
			done
		fi
	done
}

start_time=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for n in "${nodes[@]}"; do vc_corosync_start "$n"; done
vc_wait_members n1 3

cols=()
if [[ $MODE == scheduler ]]; then
	for n in "${nodes[@]}"; do vc_node_libvirtd_start "$n"; done
	for size in "${sizes[@]}"; do scheduler_pass "$size"; done
else
# (Steps 0 to 4, not indented.)
cols=(10 "${sizes[@]}")

# ------------------------------------------------ 0. baseline: 10 domains --
for n in "${nodes[@]}"; do vc_daemon_start "$n"; done
for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 60; done
mkdir -p "$VC_TMP/gen10"
doc_avg=$(python3 "$GEN" gen "$VC_TMP/gen10" 10 base "$CKPTS")
base_docs=()
for f in "$VC_TMP"/gen10/*.xml; do
	vnck n1 -q checkpoints import "$f"
	base_docs+=("$(basename "$f")")
done
log "baseline: $UPDATES updates at 10 domains ($doc_avg-byte documents generated)"
fanout 10 "${base_docs[@]}"
node_cmd n1
st=$(bench runs 20 -- "${node_cmd[@]}" status)
put "\`virtckpt status\` p50 / p99, ms (20 runs)" 10 "$(num "$(field "$st" 1)" status) / $(field "$st" 3)"
lst=$(bench runs 10 -- "${node_cmd[@]}" checkpoints list)
put "\`virtckpt checkpoints list\` p50 / max, ms" 10 "$(field "$lst" 1) / $(field "$lst" 4)"
put "virtckptd VmRSS n1 / n2 / n3, MiB (idle)" 10 "$(rss_of n1) / $(rss_of n2) / $(rss_of n3)"

for size in "${sizes[@]}"; do
	log "=== $size domains"
	for n in "${nodes[@]}"; do vc_daemon_stop "$n"; done
	for n in "${nodes[@]}"; do rm -rf "$(node_store "$n")"; done
	mkdir -p "$(node_store n1)"
	chmod 0700 "$(node_store n1)"
	t0=$EPOCHREALTIME
	python3 "$GEN" gen "$(node_store n1)" "$size" vm "$CKPTS" >/dev/null
	cp -a "$(node_store n1)" "$(node_store n2)"
	cp -a "$(node_store n1)" "$(node_store n3)"
	sync
	log "$size documents generated and copied to the 3 stores in $(vc_elapsed "$t0")s"
	put "store on disk per node: MiB allocated (du) / document bytes / inodes" "$size" \
		"$(mib "$(du -s --block-size=1 "$(node_store n1)" | cut -f1)") / $(find "$(node_store n1)" -maxdepth 1 -name '*.xml' -printf '%s\n' | awk '{ s += $1 } END { print s }') / $(find "$(node_store n1)" | wc -l)"

	# 2. start, sync, idle
	t0=$EPOCHREALTIME
	for n in "${nodes[@]}"; do vc_daemon_start "$n"; done
	node_cmd n1
	read -r _ synced _ < <(bench syncwait "$t0" "$(node_store n1)" "$size" 3 \
		"$SYNC_TIMEOUT" -- "${node_cmd[@]}" status) || vc_fail "no sync at $size domains"
	for n in "${nodes[@]}"; do vc_wait_synced "$n" 3 120; done
	put "cold start of all 3 daemons (identical stores) to synced, s; CPU n1 / n2 / n3, s" "$size" \
		"$(num "$synced" "start time"); $(cpu_of n1) / $(cpu_of n2) / $(cpu_of n3)"
	put "cold start: bytes sent by n1 (its summary, DONE)" "$size" "$(counter n1 bytes-sent)"
	declare -A idle0
	for n in "${nodes[@]}"; do idle0[$n]=$(cpu_of "$n"); done
	sleep "$IDLE"
	put "idle CPU over ${IDLE} s, n1 / n2 / n3, s" "$size" \
		"$(sub "$(cpu_of n1)" "${idle0[n1]}") / $(sub "$(cpu_of n2)" "${idle0[n2]}") / $(sub "$(cpu_of n3)" "${idle0[n3]}")"
	put "virtckptd VmRSS n1 / n2 / n3, MiB (idle)" "$size" "$(rss_of n1) / $(rss_of n2) / $(rss_of n3)"

	# 3. status, list, fan-out
	node_cmd n1
	st=$(bench runs 20 -- "${node_cmd[@]}" status)
	put "\`virtckpt status\` p50 / p99, ms (20 runs)" "$size" "$(num "$(field "$st" 1)" status) / $(field "$st" 3)"
	# It parses every document: one run at 10 000 and more.
	lst=$(bench runs $((size < 10000 ? 3 : 1)) -- "${node_cmd[@]}" checkpoints list)
	put "\`virtckpt checkpoints list\` p50 / max, ms" "$size" "$(num "$(field "$lst" 1)" list) / $(field "$lst" 4)"
	fanout "$size" vm00001.xml vm00002.xml vm00003.xml vm00004.xml vm00005.xml \
		vm00006.xml vm00007.xml vm00008.xml vm00009.xml vm00010.xml

	# 4. restarts of n3
	write_stall "$size"
	vc_daemon_stop n3
	restart_n3 "$size" unchanged
	vc_daemon_stop n3
	stale=$((size / 100))
	stale_docs=()
	for ((i = 1; i <= stale; i++)); do
		f=$(printf 'vm%05d.xml' $((size - i + 1)))
		cp "$(node_store n1)/$f" "$VC_TMP/docs/stale-$f"
		stale_docs+=("$VC_TMP/docs/stale-$f=$f")
	done
	fails=$(bench_on n1 latency "$VC_TMP/stale-$size.csv" "$stale" 30 \
		"$(node_store n1),$(node_store n2)" "$(IFS=,; echo "${stale_docs[*]}")" -- @ipc)
	[[ "$fails" == 0 ]] || vc_fail "$fails of the $stale updates failed while n3 was down"
	restart_n3 "$size" "1% stale"
	vc_daemon_stop n3
	rm -rf "$(node_store n3)"
	restart_n3 "$size" empty
	put "virtckptd VmRSS n1 / n2 / n3 after the syncs, MiB" "$size" "$(rss_of n1) / $(rss_of n2) / $(rss_of n3)"
	if [[ -n "$LOGDIR" ]]; then
		cp "$VC_TMP"/*.csv "$LOGDIR/" 2>/dev/null || true
		for n in "${nodes[@]}"; do
			cp "$VC_TMP/hosts/$n/log/virtckptd.log" "$LOGDIR/virtckptd-$n-$size.log"
		done
	fi
done
fi

# ---------------------------------------------------------------- report --
end_time=$(date -u '+%H:%M:%S UTC')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_mib=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
fs=$(df -PT "$VC_TMP" | awk 'NR == 2 { print $2 " on " $1 }')
corosync_v=$(corosync -v 2>/dev/null | sed -n "s/.*version '\([^']*\)'.*/\1/p" | head -1)
rev=$(GIT_OPTIONAL_LOCKS=0 git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')

cat <<EOF
Run: $start_time - $end_time, \`$([[ $MODE == store ]] || echo "VC_SCALE_MODE=$MODE ")tests/bench/scale.sh\` ($rev; load average at the start: $load_start, at the end: $load_end).

- Machine: $(nproc) CPUs ($cpu), $mem_mib MiB RAM, kernel $(uname -r), stores on $fs; the 3 nodes share it.
- corosync $corosync_v (knet, crypto none, defaults), 3 nodes in network namespaces (tests/lib/cluster.sh).
$([[ $MODE == store ]] || echo "- libvirtd $(libvirtd --version | awk '{ print $NF }') running on every node, no domain defined.")
- Documents: $CKPTS checkpoints each, every checkpoint's XML with the whole <domain> (scale-helper.py; $doc_avg bytes on average before the daemon rewrites them).

EOF
header="| measure"
sep="|---"
for col in "${cols[@]}"; do header+=" | $col"; sep+="|---"; done
echo "$header |"
echo "$sep|"
for row in "${rows[@]}"; do
	line="| $row"
	for col in "${cols[@]}"; do line+=" | ${R["$row|$col"]:--}"; done
	echo "$line |"
done
log "done"
