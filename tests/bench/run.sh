#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark, not part of the test suite: `make bench` (or this script, as
# root, after make).  One run prints one markdown table: the machine's
# ceilings, full backups, restores and an incremental, virtckpt against its
# peers, and the replication latency of virtckptd, with the ratios the
# project's targets are stated in.  Progress goes to stderr.
#
#   make bench                        # SIZE=2G, RUNS=2
#   make bench SIZE=8G RUNS=3
#   tests/bench/run.sh >report.md     # the same, SIZE and RUNS from the environment
#
# Rows (each one: wall clock of the whole command, then an fsync of every
# file it wrote, so that a tool that does not sync is not favoured; best
# of RUNS; outputs deleted between runs):
#   - write ceiling: dd of SIZE from /dev/zero with conv=fdatasync, to the
#     filesystem every row writes to;
#   - NBD read ceiling: nbdcopy from a pull-mode backup export to null:;
#   - full backup: virtckpt (-l full), virtnbdbackup (-l full), and
#     qemu-img convert from the same kind of export (its start not counted);
#   - restore: virtckpt restore and virtnbdrestore, each from its own full
#     backup; `virtckpt restore --instant` too when its --help lists it;
#     virtckpt restore again from a cold backup (its files dropped from the
#     page cache), after the cold read of those files (cat), and that
#     read with a dd of SIZE with O_DIRECT at once (read + write ceiling);
#   - incremental with 64 KiB dirty (the fixed cost of one), virtckpt; the
#     same, and restore --instant, on a second domain whose sparse disk is
#     1 TiB (the fixed cost must not grow with the disk);
#   - a second table: a full backup interrupted K times (cancel, as before a
#     live migration), then finished: resumed against started over (bytes
#     read over NBD by all runs, seconds of the finishing run; see
#     resume-rows.sh);
#   - replication: tests/bench/replication-bench.sh, step 1 only (3-node
#     lab): p50 and p99 of a PUT over an open connection until the new
#     version is on all 3 nodes, and of a whole CLI import.
# The domain is a TCG guest with no OS whose qcow2 disk (1.5 x SIZE) holds
# SIZE of random data.  Every backup row starts with the source image read
# once (warm), every restore row with its backup read once (but the cold
# ones).
#
# Environment:
#   SIZE=2G          data in the disk: a number with K, M, G or T (MiB if none)
#   RUNS=2           runs per row, best kept (all listed in the notes)
#   REPL_UPDATES=300 updates of the replication rows (0: no replication rows)
#   INTERRUPTS="1 2" interruption counts K of the resume rows (0: no resume rows)
#   VC_BENCH_LOGDIR  keep each row's output there
#   TMPDIR           where the image and the outputs go (about 5 x SIZE free)
# and those of tests/lib/functions.sh (VC_KEEP_TMP=1, ...).  Needs what the
# integration tests need, plus /usr/bin/time, nbdcopy and, for its rows,
# virtnbdbackup (Debian: apt-get install virtnbdbackup; without it the rows
# say "not installed").  A benchmark: it asserts nothing about times.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

SIZE=${SIZE:-2G}
RUNS=${RUNS:-2}
REPL_UPDATES=${REPL_UPDATES:-300}
INTERRUPTS=${INTERRUPTS:-1 2}
VC_BENCH_LOGDIR=${VC_BENCH_LOGDIR:-}
usage() { echo "run.sh: $*" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || usage "RUNS must be a positive integer"
[[ "$REPL_UPDATES" =~ ^[0-9]+$ ]] || usage "REPL_UPDATES must be an integer"
[[ "$INTERRUPTS" =~ ^[[:space:]]*([0-9]+[[:space:]]*)+$ ]] || usage "INTERRUPTS must be integers (0: no resume rows)"
case $SIZE in
*[0-9]) SIZE_MIB=$SIZE ;;
*[kK]) SIZE_MIB=$((${SIZE%?} / 1024)) ;;
*[mM]) SIZE_MIB=${SIZE%?} ;;
*[gG]) SIZE_MIB=$((${SIZE%?} * 1024)) ;;
*[tT]) SIZE_MIB=$((${SIZE%?} * 1048576)) ;;
*) usage "SIZE must be a number with K, M, G or T" ;;
esac
if [[ ! "$SIZE_MIB" =~ ^[0-9]+$ ]] || ((SIZE_MIB < 16)); then usage "SIZE must be at least 16M"; fi
DISK_MIB=$((SIZE_MIB * 3 / 2))
for tool in /usr/bin/time nbdcopy; do
	command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install time libnbd-bin)" >&2; exit 77; }
done

H=bench
DOM=bench
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')

# --------------------------------------------------- replication first ---
# Its own 3-node lab, before the VM exists (it shares the CPUs otherwise).
REPL=""
if ((REPL_UPDATES > 0)); then
	echo "run.sh: replication (tests/bench/replication-bench.sh, $REPL_UPDATES updates)" >&2
	REPL_SUM=$(mktemp)
	if VC_BENCH_LATENCY_ONLY=1 VC_BENCH_SUMMARY=$REPL_SUM VC_BENCH_UPDATES=$REPL_UPDATES \
		VC_BENCH_BASELINE_RUNS=1 "$(dirname "$0")/replication-bench.sh" >/dev/null; then
		REPL=$(cat "$REPL_SUM")
	else
		REPL="failed"
	fi
	rm -f "$REPL_SUM"
fi

vc_init
vc_host_start "$H"
VC_STORE=$VC_TMP/store
LOGS=$VC_TMP/logs
OUT=$VC_TMP/out
mkdir -p "$LOGS" "$OUT"
[[ -z "$VC_BENCH_LOGDIR" ]] || mkdir -p "$VC_BENCH_LOGDIR"
# Others may rebuild helper/virtckpt during the run: use a copy.
cp "$VIRTCKPT" "$VC_TMP/virtckpt"
VIRTCKPT=$VC_TMP/virtckpt
IMG=$VC_TMP/bench.qcow2

VNBD=""
if command -v virtnbdbackup >/dev/null && command -v virtnbdrestore >/dev/null; then
	VNBD=$(virtnbdbackup -V 2>&1 | head -n 1)
fi
INSTANT=""
if "$VIRTCKPT" restore --help 2>&1 | grep -q -- '--instant'; then
	INSTANT=yes
fi

vc_log "writing $SIZE_MIB MiB of random data into a ${DISK_MIB}M qcow2"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$VC_TMP/fill.raw"
qemu-img convert -q -f raw -O qcow2 "$VC_TMP/fill.raw" "$IMG"
rm -f "$VC_TMP/fill.raw"
qemu-img resize -q "$IMG" "${DISK_MIB}M"
sync "$IMG"
vc_domain_xml "$DOM" "$IMG" >"$VC_TMP/dom.xml"
vc_virsh "$H" create "$VC_TMP/dom.xml" >/dev/null

# ---------------------------------------------------------------- timing --

# timed NAME DIR CMD... : CMD inside the host, then an fsync of every file
# below DIR; T_SECS (empty if it failed: T_WHY says why).
ROWN=0
timed() {
	local name=$1 dir=$2 tf=$VC_TMP/time.out rc=0
	shift 2
	ROWN=$((ROWN + 1))
	T_LOG=$LOGS/$(printf '%02d' "$ROWN")-$name.log
	rm -f "$tf"
	# shellcheck disable=SC2016  # expanded by the inner shell
	vc_on "$H" /usr/bin/time -f '%e' -o "$tf" timeout -k 10 600 \
		sh -c 'dir=$1; shift; "$@" || exit $?
			[ ! -d "$dir" ] || find "$dir" -type f -exec sync -- {} +' sh "$dir" "$@" \
		</dev/null >"$T_LOG" 2>&1 || rc=$?
	[[ -z "$VC_BENCH_LOGDIR" ]] || cp "$T_LOG" "$VC_BENCH_LOGDIR/"
	T_SECS=$(tail -n 1 "$tf" 2>/dev/null || true)
	if ((rc != 0)) || [[ ! "$T_SECS" =~ ^[0-9.]+$ ]]; then
		T_SECS=""
		T_WHY="failed (exit $rc): $(grep -v '^[[:space:]]*$' "$T_LOG" | tail -n 1 | tr '|' '/' | cut -c1-160)"
	fi
}

# best NAME DIR PREP CMD... : RUNS runs of timed, PREP (shell code) before
# each, DIR deleted after each but the last.  B_SECS = best (empty: failed,
# B_WHY says why), B_ALL = all times.
best() {
	local name=$1 dir=$2 prep=$3 r
	shift 3
	B_SECS="" B_ALL="" B_WHY=""
	for ((r = 1; r <= RUNS; r++)); do
		eval "$prep"
		timed "$name" "$dir" "$@"
		if [[ -z "$T_SECS" ]]; then
			B_SECS="" B_WHY=$T_WHY
			return 1
		fi
		B_ALL+="${B_ALL:+ }$T_SECS"
		if [[ -z "$B_SECS" ]] || lt "$T_SECS" "$B_SECS"; then B_SECS=$T_SECS; fi
		((r == RUNS)) || vc_on "$H" rm -rf -- "$dir"
	done
	vc_log "$name: best $B_SECS s (runs: $B_ALL)"
}

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b }'; }
mibs() { awk -v m="$SIZE_MIB" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", m / s }'; }

# Warm starts: the source image (backups) or a backup (restores) read once.
warm_source() { sync; cat "$IMG" >/dev/null; }
warm_dir() { sync; find "$1" -type f -exec cat {} + >/dev/null; }
# Cold: DIR's files dropped from the page cache (theirs only, unlike
# drop_caches, which other jobs on the machine would feel).
cold_dir() {
	sync
	find "$1" -type f -exec sh -c 'for f; do dd if="$f" iflag=nocache count=0 status=none; done' sh {} +
}

ROWS=()
# row WHAT SECONDS NOTES [OF_CEILING] [X_PEER]
row() {
	local mb="-"
	[[ -z "$2" || "$2" == "-" ]] || mb=$(mibs "$2")
	ROWS+=("| $1 | ${2:--} | $mb | ${4:--} | ${5:--} | $3 |")
}
runs_note() { ((RUNS == 1)) || printf '; runs: %s s' "$B_ALL"; }

# ------------------------------------------------------ pull-mode export --

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
# checkpoint: EXPORT_URI.
export_begin() {
	EXPORT_DIR=$(mktemp -d "$VC_TMP/hosts/$H/nbd/XXXXXX")
	chown libvirt-qemu:libvirt-qemu "$EXPORT_DIR"
	cat >"$EXPORT_DIR/backup.xml" <<-EOF
		<domainbackup mode='pull'>
		  <server transport='unix' socket='$EXPORT_DIR/sock'/>
		  <disks>
		    <disk name='vda' backup='yes' type='file'>
		      <scratch file='$EXPORT_DIR/scratch.qcow2'/>
		    </disk>
		  </disks>
		</domainbackup>
	EOF
	vc_virsh "$H" backup-begin "$DOM" "$EXPORT_DIR/backup.xml" >/dev/null
	EXPORT_URI="nbd+unix:///vda?socket=$EXPORT_DIR/sock"
}

export_end() {
	vc_virsh "$H" domjobabort "$DOM" >/dev/null 2>&1 || true
	wait_no_job
	rm -rf -- "$EXPORT_DIR"
}

# drop_checkpoints PREFIX : DOM's checkpoints named PREFIX*, children first.
drop_checkpoints() {
	local name
	for name in $(vc_virsh "$H" checkpoint-list "$DOM" --name --topological | sed '/^$/d' | tac); do
		[[ "$name" != "$1"* ]] || vc_virsh "$H" checkpoint-delete "$DOM" "$name" >/dev/null
	done
}

# ================================================================= rows ===

# --- ceilings ---------------------------------------------------------------
# shellcheck disable=SC2016  # expanded by sh -c
DD_SH='mkdir -p "$1" && dd if=/dev/zero of="$1/file" bs=1M count="$2" conv=fdatasync status=none'
W_SECS="" R_SECS=""
if best dd "$OUT/dd" "sync" sh -c "$DD_SH" sh "$OUT/dd" "$SIZE_MIB"; then
	W_SECS=$B_SECS
	row "write ceiling: dd $SIZE_MIB MiB, conv=fdatasync" "$B_SECS" "best of $RUNS$(runs_note)"
else
	row "write ceiling: dd" - "$B_WHY"
fi
vc_on "$H" rm -rf -- "$OUT/dd"

export_begin
if best nbdcopy "$OUT/none" warm_source nbdcopy "$EXPORT_URI" null:; then
	R_SECS=$B_SECS
	row "NBD read ceiling: nbdcopy from the backup export to null:" "$B_SECS" "best of $RUNS$(runs_note)"
else
	row "NBD read ceiling: nbdcopy" - "$B_WHY"
fi
# shellcheck disable=SC2016
QI_SH='mkdir -p "$1" && exec qemu-img convert -W -m 16 -f raw -O qcow2 "$2" "$1/vda.qcow2"'
QI_ROW=()
if best qemu-img "$OUT/qemu-img" warm_source sh -c "$QI_SH" sh "$OUT/qemu-img" "$EXPORT_URI"; then
	QI_ROW=("full backup: qemu-img convert -W -m 16 from the export" "$B_SECS" "export started beforehand, not counted$(runs_note)")
else
	QI_ROW=("full backup: qemu-img convert" - "$B_WHY")
fi
vc_on "$H" rm -rf -- "$OUT/qemu-img"
export_end
CEIL=""
if [[ -n "$W_SECS" && -n "$R_SECS" ]]; then
	CEIL=$W_SECS
	lt "$W_SECS" "$R_SECS" && CEIL=$R_SECS
fi

# --- virtnbdbackup: before virtckpt's checkpoints (it refuses foreign ones) ---
VB_SECS="" VR_SECS=""
VB_ROW=("full backup: virtnbdbackup" - "not installed (apt-get install virtnbdbackup)")
VR_ROW=("restore: virtnbdrestore" - "not installed (apt-get install virtnbdbackup)")
if [[ -n "$VNBD" ]]; then
	VB=$OUT/vnbd
	if best virtnbdbackup "$VB" warm_source \
		virtnbdbackup -U qemu:///system -d "$DOM" -l full -o "$VB" -n; then
		VB_SECS=$B_SECS
		VB_ROW=("full backup: virtnbdbackup $VNBD" "$B_SECS" "its stream format$(runs_note)")
		if best virtnbdrestore "$OUT/vnbd-restore" "warm_dir '$VB'; rm -f '$LOGS/vnbdrestore.log'" \
			virtnbdrestore -U qemu:///system -i "$VB" -o "$OUT/vnbd-restore" -n \
			-L "$LOGS/vnbdrestore.log"; then
			VR_SECS=$B_SECS
			VR_ROW=("restore: virtnbdrestore $VNBD" "$B_SECS" "qcow2 from its full backup$(runs_note)")
		else
			VR_ROW=("restore: virtnbdrestore" - "$B_WHY")
		fi
		vc_on "$H" rm -rf -- "$OUT/vnbd-restore"
	else
		VB_ROW=("full backup: virtnbdbackup" - "$B_WHY")
	fi
	vc_on "$H" rm -rf -- "$VB"
	drop_checkpoints virtnbdbackup.
fi

# --- virtckpt ---------------------------------------------------------------
CHAIN=$OUT/virtckpt
VCK=("$VIRTCKPT" --store "$VC_STORE")
VF_SECS="" RS_SECS="" IN_SECS="" BIG_INC_SECS="" BIG_IN_SECS=""
if best virtckpt-full "$CHAIN" warm_source "${VCK[@]}" -q backup "$DOM" -o "$CHAIN" -l full; then
	VF_SECS=$B_SECS
	row "full backup: virtckpt" "$B_SECS" "-l full, default settings$(runs_note)" \
		"$(ratio "$CEIL" "$B_SECS")" "$(ratio "$VB_SECS" "$B_SECS")"
else
	row "full backup: virtckpt" - "$B_WHY"
fi
row "${VB_ROW[@]}"
row "${QI_ROW[@]}"

CHECK=""
if [[ -n "$VF_SECS" ]]; then
	if best virtckpt-restore "$OUT/restored" "warm_dir '$CHAIN'" \
		"${VCK[@]}" -q restore "$CHAIN" -o "$OUT/restored"; then
		RS_SECS=$B_SECS
		row "restore: virtckpt" "$B_SECS" "qcow2, checksums verified$(runs_note)" \
			"$(ratio "$W_SECS" "$B_SECS")" "$(ratio "$VR_SECS" "$B_SECS")"
		# The guest has not written yet: the restore must equal the source.
		if qemu-img compare -q -U "$OUT/restored/vda.qcow2" "$IMG" 2>"$VC_TMP/compare.err"; then
			CHECK="restored image = source image (qemu-img compare): yes"
		else
			CHECK="restored image = source image (qemu-img compare): **NO** $(head -c 200 "$VC_TMP/compare.err")"
		fi
	else
		row "restore: virtckpt" - "$B_WHY"
	fi
	vc_on "$H" rm -rf -- "$OUT/restored"
	# A restore in an outage reads a backup that is not in the page cache,
	# here from the disk it writes: the cold read of the chain's files, then
	# the restore from them.
	# shellcheck disable=SC2016  # expanded by sh -c
	if best cold-read "$OUT/none" "cold_dir '$CHAIN'" \
		sh -c 'find "$1" -type f -exec cat {} + >/dev/null' sh "$CHAIN"; then
		row "read ceiling, cold: cat of the backup's files" "$B_SECS" "dropped from the page cache before each run$(runs_note)"
	else
		row "read ceiling, cold: cat of the backup's files" - "$B_WHY"
	fi
	# Both at once on the one disk: what a restore from a cold backup on
	# the disk it writes can reach.  The dd with O_DIRECT: a buffered one
	# pays for filling the page cache (a guest's freed memory is slow to
	# fill again when it went back to the host), which measures the
	# machine's memory, not its disk.
	# shellcheck disable=SC2016  # expanded by sh -c
	RW_SH='find "$3" -type f -exec cat {} + >/dev/null &
		mkdir -p "$1" && dd if=/dev/zero of="$1/file" bs=8M count="$(($2 / 8))" oflag=direct conv=fdatasync status=none &&
		wait $!'
	RW_SECS=""
	if best cold-read-write "$OUT/dd" "cold_dir '$CHAIN'" \
		sh -c "$RW_SH" sh "$OUT/dd" "$SIZE_MIB" "$CHAIN"; then
		RW_SECS=$B_SECS
		row "read + write ceiling, cold: the cat above and a dd with O_DIRECT at once" "$B_SECS" "dd bs=8M oflag=direct conv=fdatasync; the backup dropped from the page cache before each run$(runs_note)"
	else
		row "read + write ceiling, cold" - "$B_WHY"
	fi
	vc_on "$H" rm -rf -- "$OUT/dd"
	if best virtckpt-restore-cold "$OUT/restored" "cold_dir '$CHAIN'" \
		"${VCK[@]}" -q restore "$CHAIN" -o "$OUT/restored"; then
		row "restore, cold: virtckpt" "$B_SECS" "as above, the backup dropped from the page cache before each run: read from the disk it writes; $(ratio "$RW_SECS" "$B_SECS") of the read + write ceiling$(runs_note)" \
			"$(ratio "$W_SECS" "$B_SECS")"
	else
		row "restore, cold: virtckpt" - "$B_WHY"
	fi
	vc_on "$H" rm -rf -- "$OUT/restored"
	row "${VR_ROW[@]}"
	if [[ -n "$INSTANT" ]]; then
		if best virtckpt-instant "$OUT/instant" "sync" \
			"${VCK[@]}" -q restore --instant "$CHAIN" -o "$OUT/instant"; then
			IN_SECS=$B_SECS
			row "instant restore: virtckpt restore --instant" "$B_SECS" "overlays on the backup chain$(runs_note)"
		else
			row "instant restore: virtckpt restore --instant" - "$B_WHY"
		fi
		vc_on "$H" rm -rf -- "$OUT/instant"
	else
		row "instant restore: virtckpt" - "not available (virtckpt restore --help lists no --instant)"
	fi

	# --- incremental: its fixed cost (64 KiB written by the guest) -------
	INC_N=0
	inc_prep() {
		INC_N=$((INC_N + 1))
		vc_guest_write "$H" "$DOM" vda 0x5a "$((INC_N * 1024))k" 64k
		warm_source
	}
	if best virtckpt-inc "$OUT/none" inc_prep "${VCK[@]}" -q backup "$DOM" -o "$CHAIN" -l inc; then
		ROWS+=("| incremental, 64 KiB dirty (fixed cost): virtckpt | $B_SECS | - | - | - | -l inc on the full above, libvirt job included$(runs_note) |")
	else
		row "incremental: virtckpt" - "$B_WHY"
	fi

	# --- the same on a 1 TiB virtual disk: the fixed cost must not grow
	# with the disk's size (dirty bitmap and allocation over the whole
	# disk, the image's tables).  A second domain whose sparse 1 TiB disk
	# holds 64 MiB spread over it.
	BIG=big
	BIG_IMG=$VC_TMP/big.qcow2
	BIG_CHAIN=$OUT/big
	qemu-img create -q -f qcow2 "$BIG_IMG" 1T
	for ((i = 0; i < 16; i++)); do
		qemu-io -f qcow2 -c "write -P $((i + 1)) $((i * 64))G 4M" "$BIG_IMG" >/dev/null
	done
	vc_domain_xml "$BIG" "$BIG_IMG" >"$VC_TMP/big.xml"
	vc_virsh "$H" create "$VC_TMP/big.xml" >/dev/null
	BIG_N=0
	big_prep() {
		BIG_N=$((BIG_N + 1))
		vc_guest_write "$H" "$BIG" vda 0x5b "$((BIG_N * 100))G" 64k
	}
	B_WHY=""
	if timed virtckpt-big-full "$BIG_CHAIN" "${VCK[@]}" -q backup "$BIG" -o "$BIG_CHAIN" -l full &&
		BIG_FULL_SECS=$T_SECS && [[ -n "$T_SECS" ]] &&
		best virtckpt-big-inc "$OUT/none" big_prep "${VCK[@]}" -q backup "$BIG" -o "$BIG_CHAIN" -l inc; then
		BIG_INC_SECS=$B_SECS
		ROWS+=("| incremental, 64 KiB dirty, 1 TiB virtual disk: virtckpt | $B_SECS | - | - | - | a second domain, 64 MiB of data spread over 1 TiB; its full backup took $BIG_FULL_SECS s$(runs_note) |")
		if [[ -n "$INSTANT" ]] && best virtckpt-big-instant "$OUT/big-instant" "sync" \
			"${VCK[@]}" -q restore --instant "$BIG_CHAIN" -o "$OUT/big-instant"; then
			BIG_IN_SECS=$B_SECS
			ROWS+=("| instant restore, 1 TiB virtual disk: virtckpt restore --instant | $B_SECS | - | - | - | overlays on that chain (the full and its incrementals)$(runs_note) |")
		fi
		vc_on "$H" rm -rf -- "$OUT/big-instant"
	else
		row "incremental, 1 TiB virtual disk: virtckpt" - "${B_WHY:-$T_WHY}"
	fi
	vc_virsh "$H" destroy "$BIG" >/dev/null 2>&1 || true
	vc_on "$H" rm -rf -- "$BIG_CHAIN" "$BIG_IMG"
else
	row "${VR_ROW[@]}"
fi

# --- interrupted full backups: resumed and started over ----------------------
# shellcheck source-path=SCRIPTDIR source=resume-rows.sh
. "$(dirname "$0")/resume-rows.sh"
RS_ROWS=() RS_CHECKS=()
resume_rows "$INTERRUPTS"

# --- replication --------------------------------------------------------------
REPL_P99=""
if [[ "$REPL" == failed ]]; then
	ROWS+=("| replication | - | - | - | - | tests/bench/replication-bench.sh failed |")
elif [[ -n "$REPL" ]]; then
	read -r _ p50 p99 nf cpu <<<"$(sed -n 1p <<<"$REPL")"
	read -r _ c50 c99 cf <<<"$(sed -n 2p <<<"$REPL")"
	REPL_P99=$p99
	ROWS+=("| replication: update on all 3 nodes, p50 / p99 (ms) | $p50 / $p99 | - | - | - | PUT over an open IPC connection until the new version is on n1, n2 and n3; $REPL_UPDATES updates, $nf failed; CPU of the 3 daemons: $cpu ms per update |")
	ROWS+=("| replication through the CLI, p50 / p99 (ms) | $c50 / $c99 | - | - | - | spawn of \`virtckpt checkpoints import\` (nsenter) until on all 3 nodes; $cf failed |")
fi

# ================================================================ report ==

# verdict WHAT VALUE OP LIMIT : "WHAT: met (VALUE)" when VALUE OP LIMIT.
verdict() {
	local what=$1 v=$2 op=$3 lim=$4 ok
	if [[ -z "$v" ]]; then
		printf -- '- %s: not measured\n' "$what"
		return
	fi
	ok=$(awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN { print (op == ">=" ? v >= l : v < l) ? "met" : "**not met**" }')
	printf -- '- %s: %s (%s)\n' "$what" "$ok" "$v"
}

first_line() { "$@" 2>&1 | head -n 1 || true; }
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
REV=$(git -C "$SRCDIR" --no-optional-locks rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -z "$(git -C "$SRCDIR" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ]] ||
	REV+=" + local changes"
cat <<EOF
## Benchmark: $T_START - $(date -u '+%H:%M UTC')

- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo) MiB RAM, kernel $(uname -r), $(df -PT "$VC_TMP" | awk 'NR == 2 { print $2 " on " $1 }')
- load average: at the start $LOAD_START, at the end $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine show in every row: compare rows of one run)
- versions: $(first_line "$VIRTCKPT" --version) ($REV); $(first_line qemu-system-x86_64 --version); $(first_line libvirtd --version); $(nbdinfo --version 2>&1 | grep -m1 '^libnbd' || true); virtnbdbackup ${VNBD:-not installed}
- disk: ${DISK_MIB} MiB qcow2 holding $SIZE_MIB MiB of random data, idle TCG guest; best of $RUNS runs per row; every row: wall clock of the command plus an fsync of what it wrote
- of ceiling: for a backup, the slower ceiling's seconds / the row's; for a restore, the write ceiling's / the row's. x peer: virtnbdbackup's (virtnbdrestore's) seconds / virtckpt's

| what | seconds | MiB/s | of ceiling | x peer | notes |
|---|---:|---:|---:|---:|---|
EOF
printf '%s\n' "${ROWS[@]}"
echo
echo "Targets (issue \"Done when\"; a benchmark: nothing fails on them):"
echo
verdict "full backup >= 0.9 of the slower ceiling" "$(ratio "$CEIL" "$VF_SECS")" ">=" 0.9
verdict "full backup >= 4x virtnbdbackup" "$(ratio "$VB_SECS" "$VF_SECS")" ">=" 4
verdict "restore >= 0.8 of the write ceiling" "$(ratio "$W_SECS" "$RS_SECS")" ">=" 0.8
verdict "restore >= 5x virtnbdrestore" "$(ratio "$VR_SECS" "$RS_SECS")" ">=" 5
verdict "instant restore < 1 s" "$IN_SECS" "<" 1
verdict "instant restore < 1 s, 1 TiB virtual disk" "$BIG_IN_SECS" "<" 1
verdict "incremental fixed cost < 0.1 s, 1 TiB virtual disk" "$BIG_INC_SECS" "<" 0.1
verdict "replication p99 < 10 ms" "$REPL_P99" "<" 10
[[ -z "$CHECK" ]] || printf -- '\nCheck: %s\n' "$CHECK"
((${#RS_ROWS[@]} == 0)) || resume_report
vc_log "done"
