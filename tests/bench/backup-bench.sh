#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark, not part of the test suite: run it by hand, as root, after make.
#
#   tests/bench/backup-bench.sh >report.md      (progress goes to stderr)
#
# One private libvirt host (tests/lib/functions.sh), one running TCG domain
# whose 4 GiB qcow2 disk holds 3 GiB of random data, and then, one row each:
#   - full backups: virtckpt (-l copy and -l full with default settings, and
#     a small matrix of --connections / --in-flight / --request-size),
#     virtnbdbackup -l full, qemu-img convert and nbdcopy (to null:) from a
#     pull-mode export started here, and dd as the write ceiling;
#   - incrementals after 1 % and 10 % of the disk changed: virtckpt -l inc
#     and virtnbdbackup -l inc, each on its own chain, one chain after the
#     other (virtnbdbackup refuses to run while the domain has checkpoints
#     it did not make), with the same guest writes;
# and prints one markdown table (seconds, MiB/s, peak RSS) with the machine,
# the versions and the project's targets.  Each row is wall-clock time of
# the whole command (libvirt job included for virtckpt and virtnbdbackup;
# not for qemu-img and nbdcopy, whose export is started beforehand: its
# cost is in the notes), plus an fsync of every file the row wrote (a no-op
# for tools that sync themselves; virtnbdbackup does not).  Outputs are
# deleted after each row.  Peak RSS is /usr/bin/time's %M (the largest
# process of the row).
#
# Environment:
#   VC_BENCH_RUNS=N          runs of each full-backup row, best one kept
#                            (default 2; all runs are listed in the notes)
#   VC_BENCH_LOGDIR=DIR      keep each row's output (stdout+stderr) in DIR
#   VC_BENCH_ROW_TIMEOUT=S   limit for one row (default 300 s)
#   VC_BENCH_SKIP_VNBD=1     leave virtnbdbackup out
#   VC_BENCH_DATA_MIB=M      random data in the image (default 3072; the disk
#                            is 4/3 of it); smaller for a quick trial
#   TMPDIR                   where the image and all outputs go (~12 GiB)
# and those of tests/lib/functions.sh (VC_KEEP_TMP=1, ...).
#
# The source image is read once (cat) before every row, so every row starts
# warm; the script drops no cache, but reports when something else did
# during a row (the image is then partly read from the disk).

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

RUNS=${VC_BENCH_RUNS:-2}
VC_BENCH_LOGDIR=${VC_BENCH_LOGDIR:-}
ROW_TIMEOUT=${VC_BENCH_ROW_TIMEOUT:-300}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "VC_BENCH_RUNS must be a positive integer" >&2; exit 2; }

for tool in /usr/bin/time nbdcopy fincore qemu-io; do
	command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install time libnbd-bin util-linux qemu-utils)" >&2; exit 77; }
done

# random data in the image (MiB/s = SIZE_MIB / seconds); the disk is 4/3 of it
SIZE_MIB=${VC_BENCH_DATA_MIB:-3072}
if [[ ! "$SIZE_MIB" =~ ^[1-9][0-9]*$ ]] || ((SIZE_MIB % 3 != 0)); then
	echo "VC_BENCH_DATA_MIB must be a positive multiple of 3" >&2
	exit 2
fi
DISK_MIB=$((SIZE_MIB * 4 / 3))
DISK_SIZE=${DISK_MIB}M
# The guest writes: 41 of DIRTY_K KiB (1 % of the disk: 41 x 1 MiB of the
# 4 GiB disk), then 41 of 10 x DIRTY_K KiB (10 %), spread over the disk.
DIRTY_K=$((DISK_MIB / 4))
DIRTY_STEP_K=$((DISK_MIB * 1024 / 41))
INC1_MIB=$(awk -v k="$DIRTY_K" 'BEGIN { printf "%g", 41 * k / 1024 }')
INC10_MIB=$(awk -v k="$DIRTY_K" 'BEGIN { printf "%g", 410 * k / 1024 }')
H=bench
DOM=bench

vc_init
vc_host_start "$H"
VC_STORE=$VC_TMP/store
LOGS=$VC_TMP/logs
OUT=$VC_TMP/out         # every row writes below here, deleted after it
mkdir -p "$LOGS" "$OUT"
[[ -z "$VC_BENCH_LOGDIR" ]] || mkdir -p "$VC_BENCH_LOGDIR"
# The other engineer may rebuild helper/virtckpt during the run: use a copy.
cp "$VIRTCKPT" "$VC_TMP/virtckpt"
VIRTCKPT=$VC_TMP/virtckpt
IMG=$VC_TMP/bench.qcow2

# ------------------------------------------------------------ versions ---

first_line() { "$@" 2>&1 | head -n 1 || true; }
V_QEMU=$(first_line qemu-system-x86_64 --version)
V_LIBVIRT=$(first_line libvirtd --version)
V_LIBNBD=$(nbdinfo --version 2>&1 | grep -m1 '^libnbd' || true)
V_VIRTCKPT=$(first_line "$VIRTCKPT" --version)
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
V_GIT=$(git -C "$SRCDIR" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "?")
if [[ -n "$(git -C "$SRCDIR" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
	V_GIT="$V_GIT + local changes"
fi
VNBD=""
if [[ "${VC_BENCH_SKIP_VNBD:-0}" == 1 ]]; then
	VNBD_WHY="skipped (VC_BENCH_SKIP_VNBD=1)"
elif command -v virtnbdbackup >/dev/null; then
	VNBD=virtnbdbackup
	VNBD_WHY=""
else
	VNBD_WHY="not installed (apt-get install virtnbdbackup)"
fi
V_VNBD=${VNBD:+$(first_line virtnbdbackup -V)}
V_VNBD=${V_VNBD:-$VNBD_WHY}

# ---------------------------------------------------------------- image ---

vc_log "writing $SIZE_MIB MiB of random data into a $DISK_SIZE qcow2"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$VC_TMP/fill.raw"
qemu-img convert -q -f raw -O qcow2 "$VC_TMP/fill.raw" "$IMG"
rm -f "$VC_TMP/fill.raw"
qemu-img resize -q "$IMG" "$DISK_SIZE"
sync "$IMG"
vc_domain_xml "$DOM" "$IMG" >"$VC_TMP/dom.xml"
vc_virsh "$H" create "$VC_TMP/dom.xml" >/dev/null

# Percentage of the image in the page cache.
resident_pct() {
	fincore -b -n -o RES,SIZE "$IMG" | awk '{ printf "%d", ($2 > 0) ? 100 * $1 / $2 : 0 }'
}

# Every row starts with the image read once (cat): warm.  Does it stay in
# the page cache here?  Watch it for 15 s (another job dropping caches or
# proactive reclaim would show), and after each row (see run_timed).
cat "$IMG" >/dev/null
PCT_AFTER_READ=$(resident_pct)
for ((i = 0; i < 30; i++)); do
	(($(resident_pct) >= 90)) || break
	sleep 0.5
done
PCT_LATER=$(resident_pct)
SOURCE_NOTE="warm: read once (cat) before every row, no cache dropped by this script; ${PCT_AFTER_READ} % of it cached right after a read, ${PCT_LATER} % $((i / 2)) s later"
((PCT_LATER >= 90)) ||
	SOURCE_NOTE+=" (something else on the machine dropped the page cache meanwhile; where the image was read from the disk again, the row's disk reads show it, and a row after which it was no longer cached says so)"
vc_log "source image: $SOURCE_NOTE"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Reads and writes of the disk holding $VC_TMP, in MiB, from /proc/diskstats
# (empty if the device is not listed there): whatever else the machine
# does during a row shows up as more than the row itself moves.
DISK_DEV=$(basename "$(findmnt -no SOURCE -T "$VC_TMP")")
disk_mib() {
	awk -v d="$DISK_DEV" '$3 == d { printf "%d %d", $6 / 2048, $10 / 2048 }' /proc/diskstats
}

# CPU seconds (user + system) used so far by the domain's qemu: the NBD
# server side of a row, which shares the machine's CPUs with the client.
qemu_cpu() {
	local pid
	pid=$(pgrep -f -- "\"filename\":\"$IMG\"" | head -n 1 || true)
	[[ -n "$pid" && -r /proc/$pid/stat ]] || return 0
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$pid/stat"
}

# Brings the source image into the state every row starts from, after
# flushing what earlier rows left dirty.
settle() {
	sync
	cat "$IMG" >/dev/null
}

# ----------------------------------------------------------------- rows ---

R_TOOL=() R_LEVEL=() R_SECS=() R_MIBS=() R_RSS=() R_NOTES=()
add_row() {
	R_TOOL+=("$1") R_LEVEL+=("$2") R_SECS+=("$3") R_MIBS+=("$4") R_RSS+=("$5") R_NOTES+=("$6")
	vc_log "row: $1 | $2 | $3 s | $4 MiB/s | $5 MiB | $6"
}

mibs() { awk -v m="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", m / s; else print "-" }'; }

# join A B... : the non-empty arguments, separated by "; ".
join() {
	local out="" a
	for a in "$@"; do
		[[ -z "$a" ]] || out=${out:+$out; }$a
	done
	printf '%s' "$out"
}

# run_timed NAME DIR CMD... : CMD inside the host under /usr/bin/time, then
# fsync of every file below DIR.  Sets T_RC, T_SECS, T_RSS (MiB), T_CPU
# (user+system seconds), T_IO (disk traffic during the row), T_EVICTED
# (the warm source left the cache), T_LOG.
ROWN=0
run_timed() {
	local name=$1 dir=$2 tf=$VC_TMP/time.out f=() io0=() io1=() q0 q1
	shift 2
	ROWN=$((ROWN + 1))
	T_LOG=$LOGS/$(printf '%02d' "$ROWN")-$name.log
	settle
	rm -f "$tf"
	T_RC=0
	read -r -a io0 < <(disk_mib)
	q0=$(qemu_cpu)
	# shellcheck disable=SC2016  # expanded by the inner shell
	vc_on "$H" /usr/bin/time -f '%e %M %U %S' -o "$tf" timeout -k 10 "$ROW_TIMEOUT" \
		sh -c 'dir=$1; shift; "$@" || exit $?
			[ ! -d "$dir" ] || find "$dir" -type f -exec sync -- {} +' sh "$dir" "$@" \
		</dev/null >"$T_LOG" 2>&1 || T_RC=$?
	read -r -a io1 < <(disk_mib)
	q1=$(qemu_cpu)
	T_IO=""
	if ((${#io0[@]} == 2 && ${#io1[@]} == 2)); then
		T_IO="disk read $((io1[0] - io0[0])) MiB, wrote $((io1[1] - io0[1])) MiB"
	fi
	read -r -a f < <(tail -n 1 "$tf" 2>/dev/null || true)
	T_SECS="" T_RSS=0 T_CPU=""
	if ((${#f[@]} == 4)) && [[ "${f[0]}" =~ ^[0-9.]+$ && "${f[1]}" =~ ^[0-9]+$ ]]; then
		T_SECS=${f[0]}
		T_RSS=$(((f[1] + 512) / 1024))
		T_CPU=$(awk -v u="${f[2]}" -v s="${f[3]}" 'BEGIN { printf "%.1f", u + s }')
	fi
	if [[ -n "$T_CPU" ]]; then
		T_CPU="cpu $T_CPU s"
		[[ -z "$q0" || -z "$q1" ]] ||
			T_CPU+=" (qemu $(awk -v a="$q0" -v b="$q1" 'BEGIN { printf "%.1f", b - a }') s)"
	fi
	local pct
	pct=$(resident_pct)
	T_EVICTED=""
	((pct >= 90)) || T_EVICTED="source image left the page cache during the row ($pct % cached after it)"
	[[ -z "$VC_BENCH_LOGDIR" ]] || cp "$T_LOG" "$VC_BENCH_LOGDIR/"
}

# The reason a row failed: the last meaningful line of its output.
why_failed() {
	local msg
	msg=$(grep -v '^[[:space:]]*$' "$T_LOG" | grep -iE 'error|fail|denied|cannot|unable|refus' | tail -n 1 || true)
	[[ -n "$msg" ]] || msg=$(grep -v '^[[:space:]]*$' "$T_LOG" | tail -n 1 || true)
	[[ "$T_RC" != 124 ]] || msg="timed out after ${ROW_TIMEOUT}s; $msg"
	msg=${msg//|/\\|}
	printf 'FAILED (exit %s): %s' "$T_RC" "${msg:0:200}"
}

# virtckpt's own summary of a run: connections used, requests in flight if
# it cut them down (its buffer budget), bytes read/written.
vck_summary() {
	local conn cut done_line
	conn=$(grep -oE '[0-9]+ connections?' "$T_LOG" | head -n 1 || true)
	cut=$(grep -oE 'in flight would use [0-9]+ MiB: using [0-9]+' "$T_LOG" | head -n 1 || true)
	[[ -z "$cut" ]] || cut="virtckpt cut in-flight to ${cut##* } (buffer budget)"
	done_line=$(grep -oE 'read [0-9.]+ MiB, wrote [0-9.]+ MiB' "$T_LOG" | tail -n 1 || true)
	join "$conn" "$cut" "$done_line"
}

# row_runs TOOL LEVEL MIB NOTES SUMMARY_FN CLEAN_CMD NAME DIR CMD...
# Runs CMD $RUNS times, CLEAN_CMD before each run but the first and after
# the last (unless ROW_KEEP=keep: the last output stays); records the best
# time and the largest RSS.
row_runs() {
	local tool=$1 level=$2 mib=$3 notes=$4 summary=$5 clean=$6 name=$7 dir=$8
	shift 8
	local keep=${ROW_KEEP:-no}
	local r best="" best_cpu="" best_io="" rss=0 all=() extra="" fail="" warn=()
	for ((r = 1; r <= RUNS; r++)); do
		((r == 1)) || eval "$clean"
		run_timed "$name" "$dir" "$@"
		if [[ "$T_RC" != 0 || -z "$T_SECS" ]]; then
			fail=$(why_failed)
			break
		fi
		[[ -z "$summary" ]] || extra=$($summary)
		[[ -z "$T_EVICTED" ]] || warn+=("run $r: $T_EVICTED")
		all+=("$T_SECS")
		((T_RSS > rss)) && rss=$T_RSS
		if [[ -z "$best" ]] || awk -v a="$T_SECS" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$T_SECS best_cpu=$T_CPU best_io=$T_IO
		fi
	done
	[[ "$keep" == keep ]] || eval "$clean"
	if [[ -n "$fail" ]]; then
		add_row "$tool" "$level" "-" "-" "-" "$(join "$notes" "$fail")"
		return 1
	fi
	local runs=""
	((RUNS == 1)) || runs="runs: ${all[*]} s"
	add_row "$tool" "$level" "$best" "$(mibs "$mib" "$best")" "$rss" \
		"$(join "$notes" "$extra" "$best_cpu" "$best_io" "$runs" "${warn[@]}")"
	LAST_SECS=$best LAST_RSS=$rss
}

# vck_row TOOL LEVEL MIB NOTES DIR KEEP ARGS... : a virtckpt backup into DIR
# (a path inside the host), deleted between runs and afterwards unless
# KEEP=keep.
vck_row() {
	local tool=$1 level=$2 mib=$3 notes=$4 dir=$5 keep=$6
	shift 6
	ROW_KEEP=$keep row_runs "$tool" "$level" "$mib" "$notes" vck_summary \
		"vc_on \"\$H\" rm -rf -- '$dir'" "virtckpt-$level" "$dir" \
		"$VIRTCKPT" -vv --store "$VC_STORE" backup "$DOM" -o "$dir" -l "$level" "$@"
}

# vnbd_row TOOL LEVEL MIB NOTES DIR KEEP
vnbd_row() {
	local tool=$1 level=$2 mib=$3 notes=$4 dir=$5 keep=$6
	ROW_KEEP=$keep row_runs "$tool" "$level" "$mib" "$notes" "" \
		"vc_on \"\$H\" rm -rf -- '$dir'" "virtnbdbackup-$level" "$dir" \
		virtnbdbackup -U qemu:///system -d "$DOM" -l "$level" -o "$dir" -n
}

# ------------------------------------------------- pull-mode export -----

wait_no_job() {
	local i
	for ((i = 0; i < 300; i++)); do
		vc_virsh "$H" domjobinfo "$DOM" 2>/dev/null |
			grep -qE '^Job type:[[:space:]]+None' && return 0
		sleep 0.1
	done
	vc_fail "the job of $DOM did not end"
}

# A full pull-mode backup job of vda, as virtckpt starts it, without a
# checkpoint.  Sets EXPORT_URI and EXPORT_SECS (time of backup-begin).
EXPORT_DIR=""
export_begin() {
	local t0 xml
	EXPORT_DIR=$(mktemp -d "$VC_TMP/hosts/$H/nbd/XXXXXX")
	chown libvirt-qemu:libvirt-qemu "$EXPORT_DIR"
	xml=$EXPORT_DIR/backup.xml
	cat >"$xml" <<-EOF
		<domainbackup mode='pull'>
		  <server transport='unix' socket='$EXPORT_DIR/sock'/>
		  <disks>
		    <disk name='vda' backup='yes' type='file'>
		      <scratch file='$EXPORT_DIR/scratch.qcow2'/>
		    </disk>
		  </disks>
		</domainbackup>
	EOF
	t0=$EPOCHREALTIME
	vc_virsh "$H" backup-begin "$DOM" "$xml" >/dev/null
	EXPORT_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	EXPORT_URI="nbd+unix:///vda?socket=$EXPORT_DIR/sock"
}

# Ends it; sets EXPORT_END_SECS.
export_end() {
	local t0=$EPOCHREALTIME
	vc_virsh "$H" domjobabort "$DOM" >/dev/null 2>&1 || true
	wait_no_job
	EXPORT_END_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	rm -rf -- "$EXPORT_DIR"
	EXPORT_DIR=""
}

# export_row TOOL NOTES NAME DIR CMD... : CMD (may use @URI@) on an export.
export_row() {
	local tool=$1 notes=$2 name=$3 dir=$4 a args=() rc=0
	shift 4
	export_begin
	for a in "$@"; do args+=("${a//@URI@/$EXPORT_URI}"); done
	row_runs "$tool" full "$SIZE_MIB" "${notes:+$notes; }export started beforehand (backup-begin $EXPORT_SECS s, not counted)" \
		"" "rm -rf -- '$dir'" "$name" "$dir" "${args[@]}" || rc=$?
	export_end
	R_NOTES[-1]+="; domjobabort $EXPORT_END_SECS s"
	return "$rc"
}

# ------------------------------------------------------ guest writes ----

# dirty LENGTH_K SKEW_K PATTERN : 41 writes of LENGTH_K KiB at offsets
# k * DIRTY_STEP_K + SKEW_K KiB (k = 0..40), spread over the whole disk.
dirty() {
	local len=$1 skew=$2 pat=$3 k t0=$EPOCHREALTIME
	for ((k = 0; k < 41; k++)); do
		vc_guest_write "$H" "$DOM" vda "$pat" "$((k * DIRTY_STEP_K + skew))k" "${len}k"
	done
	vc_log "dirtied $((41 * len / 1024)) MiB in 41 writes in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

# drop_checkpoints PREFIX : deletes DOM's checkpoints named PREFIX*,
# children first.
drop_checkpoints() {
	local names name
	names=$(vc_virsh "$H" checkpoint-list "$DOM" --name --topological | sed '/^$/d' | tac)
	for name in $names; do
		[[ "$name" == "$1"* ]] || continue
		vc_virsh "$H" checkpoint-delete "$DOM" "$name" >/dev/null
	done
}

# ============================================================= runs =====

CHECKS=()
T0_ALL=$EPOCHREALTIME

# --- ceilings -------------------------------------------------------------
# shellcheck disable=SC2016  # expanded by sh -c
DD_SH='mkdir -p "$1" && dd if=/dev/zero of="$1/file" bs=1M count="$2" conv=fdatasync status=none'
# shellcheck disable=SC2016
QEMU_IMG_SH='mkdir -p "$1" && exec qemu-img convert -W -m 16 -f raw -O qcow2 "$2" "$1/vda.qcow2"'
row_runs "dd if=/dev/zero bs=1M count=$SIZE_MIB conv=fdatasync" write "$SIZE_MIB" \
	"write ceiling: same filesystem" "" "rm -rf -- '$OUT/dd'" dd "$OUT/dd" \
	sh -c "$DD_SH" sh "$OUT/dd" "$SIZE_MIB" || true

export_row "nbdcopy export -> null:" "read ceiling (nbdcopy defaults)" nbdcopy "$OUT/none" \
	nbdcopy @URI@ null: || true

export_row "qemu-img convert -W -m 16 -O qcow2" "" qemu-img "$OUT/qemu-img" \
	sh -c "$QEMU_IMG_SH" sh "$OUT/qemu-img" @URI@ || true

# --- virtckpt, default settings ----------------------------------------------
D="$OUT/virtckpt"
VCK_DEF_RSS=()
if vck_row "virtckpt (default: c=1 if=16 rs=1M)" copy "$SIZE_MIB" "" "$D" keep; then
	VCK_DEF_RSS+=("$LAST_RSS")
	# Does the copy hold what the disk holds?  (No guest write so far: the
	# image is consistent on disk.)
	copy_img=$(find "$D" -name vda.qcow2 | head -n 1)
	if [[ -n "$copy_img" ]] && qemu-img compare -q -U "$copy_img" "$IMG" 2>"$VC_TMP/compare.err"; then
		CHECKS+=("virtckpt copy (default settings) = source image (qemu-img compare): yes")
	else
		CHECKS+=("virtckpt copy (default settings) = source image (qemu-img compare): NO $(head -c 200 "$VC_TMP/compare.err")")
	fi
fi
rm -rf -- "$D"

# --- virtnbdbackup full ---------------------------------------------------------
# virtnbdbackup refuses full and inc backups while the domain has any
# checkpoint it did not create ("checkForeign"), so it runs before virtckpt
# makes one, and its own checkpoints are deleted after it.
VNBD_FULL_SECS=""
if [[ -n "$VNBD" ]]; then
	if vnbd_row "virtnbdbackup $V_VNBD" full "$SIZE_MIB" "its stream format; does not fsync (the row does)" "$OUT/vnbd" no; then
		VNBD_FULL_SECS=$LAST_SECS
	else
		VNBD=""
		VNBD_WHY=${R_NOTES[-1]}
	fi
	drop_checkpoints virtnbdbackup.
else
	add_row "virtnbdbackup" full "-" "-" "-" "$VNBD_WHY"
fi

VCK_FULL_SECS=""
if vck_row "virtckpt (default: c=1 if=16 rs=1M)" full "$SIZE_MIB" "" "$D" no; then
	VCK_FULL_SECS=$LAST_SECS
	VCK_DEF_RSS+=("$LAST_RSS")
fi

# --- virtckpt matrix (copy: no checkpoint left behind) ------------------------
# connections in-flight request-MiB
MATRIX=("1 16 2" "2 16 2" "4 8 2" "4 32 2" "4 16 1" "4 16 4" "1 8 1" "4 32 4")
for m in "${MATRIX[@]}"; do
	read -r m_conn m_flight m_req <<<"$m"
	vck_row "virtckpt c=$m_conn if=$m_flight rs=${m_req}M" copy "$SIZE_MIB" "" "$D" no \
		--connections "$m_conn" --in-flight "$m_flight" \
		--request-size "$((m_req * 1048576))" || true
done

# Same settings as the default row, but writing to a tmpfs inside the host:
# what the read side and the pipeline can do without the disk writes.
vck_row "virtckpt (default), output on tmpfs" copy "$SIZE_MIB" "no disk writes" \
	/dev/shm/bench-out no || true

# --- repeats, to show the drift over the run --------------------------------------
if vck_row "virtckpt (default: c=1 if=16 rs=1M)" copy "$SIZE_MIB" "same row again, at the end of the full rows" "$D" no; then
	VCK_DEF_RSS+=("$LAST_RSS")
fi
row_runs "dd if=/dev/zero bs=1M count=$SIZE_MIB conv=fdatasync" write "$SIZE_MIB" \
	"write ceiling (second time)" "" "rm -rf -- '$OUT/dd'" dd "$OUT/dd" \
	sh -c "$DD_SH" sh "$OUT/dd" "$SIZE_MIB" || true

# --- incrementals -------------------------------------------------------------------
# Each tool gets its own chain in turn (see checkForeign above), with the
# same writes: 41 x 1 MiB (1 % of the disk), then 41 x 10 MiB (10 %), at
# the same offsets for both tools.
RUNS_SAVED=$RUNS
RUNS=1          # a chain cannot repeat a link
drop_checkpoints virtckpt.

if [[ -n "$VNBD" ]]; then
	VNBD_CHAIN=$OUT/vnbd-chain
	if vnbd_row "virtnbdbackup $V_VNBD" full "$SIZE_MIB" "base of its inc chain" "$VNBD_CHAIN" keep; then
		dirty "$DIRTY_K" 0 0x11
		if vnbd_row "virtnbdbackup $V_VNBD" inc "$INC1_MIB" "1 % of the disk changed (41 writes); MiB/s of changed data" "$VNBD_CHAIN" keep; then
			dirty "$((10 * DIRTY_K))" "$((DIRTY_STEP_K / 2))" 0x22
			vnbd_row "virtnbdbackup $V_VNBD" inc "$INC10_MIB" "10 % of the disk changed (41 writes)" "$VNBD_CHAIN" keep || true
		fi
	fi
	drop_checkpoints virtnbdbackup.
	rm -rf -- "$VNBD_CHAIN"
fi

CHAIN=$OUT/chain
VC_STORE=$VC_TMP/store-chain    # the first store lists checkpoints deleted above
VCK_INC1_SECS=""
CHAIN_OK=0
if vck_row "virtckpt (default)" full "$SIZE_MIB" "base of its inc chain" "$CHAIN" keep; then
	VCK_DEF_RSS+=("$LAST_RSS")
	dirty "$DIRTY_K" 0 0x33
	if vck_row "virtckpt (default)" inc "$INC1_MIB" "1 % of the disk changed (41 writes); MiB/s of changed data" "$CHAIN" keep; then
		VCK_INC1_SECS=$LAST_SECS
		VCK_DEF_RSS+=("$LAST_RSS")
		dirty "$((10 * DIRTY_K))" "$((DIRTY_STEP_K / 2))" 0x44
		if vck_row "virtckpt (default)" inc "$INC10_MIB" "10 % of the disk changed (41 writes)" "$CHAIN" keep; then
			VCK_DEF_RSS+=("$LAST_RSS")
			CHAIN_OK=1
		fi
	fi
fi
RUNS=$RUNS_SAVED

# --- is the chain right?  verify, then restore the newest and compare -----------
if ((CHAIN_OK)); then
	if vc_on "$H" "$VIRTCKPT" -q verify "$CHAIN" >"$VC_TMP/verify.out" 2>&1; then
		CHECKS+=("virtckpt verify of its chain (full + 2 inc): ok")
	else
		CHECKS+=("virtckpt verify of its chain: FAILED: $(tail -n 1 "$VC_TMP/verify.out")")
	fi
	# Destroying the domain makes qemu write everything to the image.
	vc_virsh "$H" destroy "$DOM" >/dev/null
	if vc_on "$H" "$VIRTCKPT" -q restore "$CHAIN" -o "$OUT/restored" --no-verify \
		>"$VC_TMP/restore.out" 2>&1; then
		if qemu-img compare -q "$OUT/restored/vda.qcow2" "$IMG" 2>"$VC_TMP/compare.err"; then
			CHECKS+=("restore of virtckpt's newest inc = source image after all writes (qemu-img compare): yes")
		else
			CHECKS+=("restore of virtckpt's newest inc = source image (qemu-img compare): NO $(head -c 200 "$VC_TMP/compare.err")")
		fi
	else
		CHECKS+=("virtckpt restore of its chain: FAILED: $(tail -n 1 "$VC_TMP/restore.out")")
	fi
	rm -rf -- "$OUT/restored"
fi
TOTAL_SECS=$(awk -v a="$T0_ALL" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ============================================================ report ====

ok() { if "$@"; then printf 'met'; else printf '**not met**'; fi; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

{
	printf '## Backup benchmark, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf -- '- machine: %s, %s CPUs (nproc), %s MiB RAM, kernel %s, %s on %s\n' \
		"$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)" \
		"$(nproc)" "$(free -m | awk '/^Mem:/ { print $2 }')" "$(uname -r)" \
		"$(findmnt -no FSTYPE -T "$VC_TMP")" "$(findmnt -no SOURCE -T "$VC_TMP")"
	printf -- '- versions: %s; %s; %s; virtnbdbackup %s; %s (%s)\n' \
		"$V_QEMU" "$V_LIBVIRT" "$V_LIBNBD" "$V_VNBD" "$V_VIRTCKPT" "$V_GIT"
	printf -- '- disk: %s qcow2, %s MiB of random data (the rest unallocated), idle TCG guest; pull-mode NBD export over a unix socket\n' \
		"$DISK_SIZE" "$SIZE_MIB"
	printf -- '- source image: %s\n' "$SOURCE_NOTE"
	printf -- '- every row: wall clock of the whole command plus an fsync of what it wrote; outputs deleted after each row; runs per full-backup row: %s (best time and largest RSS kept; incrementals run once); MiB/s = MiB copied / seconds; cpu = user + system seconds of the row (in brackets: of the qemu process, the NBD server, during the row); disk read/wrote = traffic of the whole disk %s during the row (more than the row moves = someone else)\n' "$RUNS" "$DISK_DEV"
	printf -- '- incrementals: each tool on its own chain, one after the other, after the same guest writes (virtnbdbackup refuses to back up a domain with checkpoints it did not create, so the two chains cannot share the domain)\n'
	printf -- '- load average at start %s, at end %s; whole run %s s\n\n' "$LOAD_START" "$LOAD_END" "$TOTAL_SECS"
	printf '| tool / settings | level | seconds | MiB/s | peak RSS MiB | notes |\n'
	printf '|---|---|---:|---:|---:|---|\n'
	for i in "${!R_TOOL[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s |\n' "${R_TOOL[i]}" "${R_LEVEL[i]}" \
			"${R_SECS[i]}" "${R_MIBS[i]}" "${R_RSS[i]}" "${R_NOTES[i]}"
	done
	printf '\n### Targets\n\n'
	QEMU_SECS=""
	for i in "${!R_TOOL[@]}"; do
		[[ "${R_TOOL[i]}" == qemu-img* ]] && QEMU_SECS=${R_SECS[i]}
	done
	if [[ -n "$VCK_FULL_SECS" && -n "$VNBD_FULL_SECS" ]]; then
		ratio=$(awk -v a="$VNBD_FULL_SECS" -v b="$VCK_FULL_SECS" 'BEGIN { printf "%.1f", a / b }')
		printf -- '- full backup >= 3x faster than virtnbdbackup: %s (%s s vs %s s: %sx)\n' \
			"$(ok awk -v r="$ratio" 'BEGIN { exit !(r >= 3) }')" "$VCK_FULL_SECS" "$VNBD_FULL_SECS" "$ratio"
	else
		printf -- '- full backup >= 3x faster than virtnbdbackup: not measured (virtckpt full: %s; virtnbdbackup: %s)\n' \
			"${VCK_FULL_SECS:-failed}" "${VNBD_FULL_SECS:-${VNBD_WHY:-failed}}"
	fi
	if [[ -n "$VCK_FULL_SECS" && "$QEMU_SECS" =~ ^[0-9.]+$ ]]; then
		printf -- '- full backup faster than qemu-img convert: %s (%s s vs %s s; qemu-img without the libvirt job start)\n' \
			"$(ok lt "$VCK_FULL_SECS" "$QEMU_SECS")" "$VCK_FULL_SECS" "$QEMU_SECS"
	else
		printf -- '- full backup faster than qemu-img convert: not measured\n'
	fi
	if [[ -n "$VCK_INC1_SECS" ]]; then
		printf -- '- 1 %% incremental < 1 s including the libvirt job: %s (%s s)\n' \
			"$(ok lt "$VCK_INC1_SECS" 1)" "$VCK_INC1_SECS"
	else
		printf -- '- 1 %% incremental < 1 s: not measured (failed)\n'
	fi
	if ((${#VCK_DEF_RSS[@]})); then
		max=$(printf '%s\n' "${VCK_DEF_RSS[@]}" | sort -n | tail -n 1)
		printf -- '- peak RSS < 64 MiB (virtckpt, default settings, all levels): %s (max %s MiB)\n' \
			"$(ok lt "$max" 64)" "$max"
		over=()
		for i in "${!R_TOOL[@]}"; do
			[[ "${R_TOOL[i]}" == virtckpt* && "${R_RSS[i]}" =~ ^[0-9]+$ ]] || continue
			((R_RSS[i] < 64)) || over+=("${R_TOOL[i]} (${R_RSS[i]} MiB)")
		done
		((${#over[@]} == 0)) || printf '  - virtckpt rows at or above 64 MiB: %s\n' "$(join "${over[@]}")"
	fi
	if ((${#CHECKS[@]})); then
		printf '\n### Checks\n\n'
		printf -- '- %s\n' "${CHECKS[@]}"
	fi
}
