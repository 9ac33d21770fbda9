# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sourced by run.sh (uses its H, DOM, IMG, OUT, LOGS, VIRTCKPT, VC_STORE,
# SIZE_MIB, timed, warm_source): a full backup interrupted K times, then
# finished, resumed against started over.
#
# The interruptions are what the agent does before a live migration: a
# `virtckpt cancel`.  They come every SIZE / (K + 1) of data copied by the
# run that is interrupted, in both strategies (migrations at the same
# pace): a resumed run reaches i / (K + 1) of the disk, a run started over
# again gets 1 / (K + 1) of it.  The interrupted runs are slowed with
# --max-rate only so that the cancel lands at a known point; they are not
# timed (they copy as much in both strategies).  The finishing run, not
# slowed, is timed like every row of run.sh.
#
# Started over is what virtckpt did before it kept interrupted backups:
# the kept partial directory and the interrupted checkpoint are deleted
# before the next run (an explicit `-l full` would resume an interrupted
# full: same level).  Bytes read over NBD: from the committed backup's
# manifest (`read`, which counts every run of a resumed backup), plus for
# started over each interrupted run's own reads (its progress record).

RESUME_RUN=(--rundir "$VC_TMP/resume-run")
# The whole disk in about 8 s when slowed: a cancel lands within a few MiB.
RESUME_RATE=$((SIZE_MIB / 8 < 16 ? 16 : SIZE_MIB / 8))M

# rs_partial_mib DIR : MiB in the image being written in DIR's partial
# directory (0 when none yet).
rs_partial_mib() {
	local s
	s=$(stat -c %s "$1"/.partial-*/vda.qcow2 2>/dev/null | head -n 1 || true)
	echo $((${s:-0} / 1048576))
}

# rs_interrupt DIR MIB RESUMING : a slowed full backup into DIR, cancelled
# once its image holds MIB MiB (RESUMING: it resumes one first).  Sets
# RS_READ (bytes it read, from its progress record), RS_CKPT, RS_WHY.
rs_interrupt() {
	local dir=$1 mib=$2 resuming=$3 log=$LOGS/resume-bg.log bg rc=0 i
	RS_READ="" RS_CKPT="" RS_WHY=""
	vc_on "$H" "$VIRTCKPT" --store "$VC_STORE" backup "$DOM" -o "$dir" -l full \
		"${RESUME_RUN[@]}" --max-rate "$RESUME_RATE" </dev/null >"$log" 2>&1 &
	bg=$!
	for ((i = 0; i < 6000; i++)); do
		if ((resuming)) && ! grep -q "resumes the backup interrupted" "$log"; then
			:
		elif (($(rs_partial_mib "$dir") >= mib)); then
			break
		fi
		kill -0 "$bg" 2>/dev/null || break
		sleep 0.02
	done
	vc_on "$H" "$VIRTCKPT" --store "$VC_STORE" cancel "$DOM" "${RESUME_RUN[@]}" --wait 60 \
		>>"$LOGS/resume-cancel.log" 2>&1 || true
	wait "$bg" || rc=$?
	cat "$log" >>"$LOGS/resume-all.log"
	RS_CKPT=$(sed -n 's/.* interrupted: kept .* and checkpoint \([^;]*\);.*/\1/p' "$log")
	RS_READ=$(sed -n 's/.*<disk name="vda"[^>]* read="\([0-9]*\)".*/\1/p' "$dir"/.partial-*/progress.xml 2>/dev/null | head -n 1)
	if ((rc != 1)) || [[ -z "$RS_CKPT" || -z "$RS_READ" ]]; then
		RS_WHY="interrupted run not kept (exit $rc): $(tail -n 1 "$log" | tr '|' '/' | cut -c1-160)"
		return 1
	fi
	if ((resuming)) && ! grep -q "resumes the backup interrupted" "$log"; then
		RS_WHY="interrupted run did not resume: $(tail -n 1 "$log" | tr '|' '/' | cut -c1-160)"
		return 1
	fi
}

# rs_case STRATEGY K : STRATEGY resumed or over.  Appends a row to RS_ROWS;
# RS_CHECKS gets its restore check.
rs_case() {
	local how=$1 k=$2 dir=$OUT/resume-$1-$2 i mib over=0 kept=0 final id resumed note
	local what="K = $k, resumed"
	[[ "$how" == resumed ]] || what="K = $k, started over"
	vc_log "resume rows: $what"
	for ((i = 1; i <= k; i++)); do
		if [[ "$how" == resumed ]]; then
			mib=$((SIZE_MIB * i / (k + 1)))
		else
			mib=$((SIZE_MIB / (k + 1)))
		fi
		if ! rs_interrupt "$dir" "$mib" "$([[ "$how" == resumed ]] && ((i > 1)) && echo 1 || echo 0)"; then
			RS_ROWS+=("| $what | - | - | - | - | $RS_WHY |")
			vc_on "$H" rm -rf -- "$dir"
			return
		fi
		kept=$RS_READ
		if [[ "$how" == over ]]; then
			over=$((over + RS_READ))
			vc_on "$H" sh -c 'rm -rf -- "$1"/.partial-*' sh "$dir"
			vc_virsh "$H" checkpoint-delete "$DOM" "$RS_CKPT" >/dev/null
		fi
	done
	# Warm starts, as every row of run.sh: the source image, and the kept
	# image the resumed run copies from, read once.
	warm_source
	[[ "$how" == over ]] || warm_dir "$dir"
	timed "resume-$how-$k" "$dir" "$VIRTCKPT" --store "$VC_STORE" -q backup "$DOM" -o "$dir" \
		-l full "${RESUME_RUN[@]}"
	if [[ -z "$T_SECS" ]]; then
		RS_ROWS+=("| $what | - | - | - | - | finishing run $T_WHY |")
		vc_on "$H" rm -rf -- "$dir"
		return
	fi
	id=$(sed -n 's/.*<backup id="\([0-9]*\)".*/\1/p' "$dir/manifest.xml" | tail -n 1)
	final=$(backup_read "$dir" "$id")
	resumed=$(sed -n 's/.*<backup id="'"$id"'"[^>]* resumed="\([0-9]*\)".*/\1/p' "$dir/manifest.xml")
	# A resumed backup's read= counts its interrupted runs too (as its
	# last progress record did): the finishing run read the difference.
	if [[ "$how" == resumed ]]; then
		note="interrupted runs read $(rs_mib "$kept") MiB, the finishing run the rest"
		over=0
	else
		note="interrupted runs read $(rs_mib "$over") MiB, each thrown away"
		kept=0
	fi
	RS_ROWS+=("| $what | $(rs_mib $((final + over))) | $(awk -v b=$((final + over)) -v m="$SIZE_MIB" 'BEGIN { printf "%.2f", b / 1048576 / m }') | $(rs_mib $((final - kept))) | $T_SECS | $note; manifest: resumed=${resumed:-none} |")
	rm -rf "$OUT/resume-restored"
	if vc_on "$H" "$VIRTCKPT" --store "$VC_STORE" -q restore "$dir" -o "$OUT/resume-restored" \
		>"$LOGS/resume-restore.log" 2>&1 &&
		qemu-img compare -q -U "$OUT/resume-restored/vda.qcow2" "$IMG" 2>>"$LOGS/resume-restore.log"; then
		RS_CHECKS+=("restore of \"$what\" = source image (qemu-img compare): yes")
	else
		RS_CHECKS+=("restore of \"$what\" = source image (qemu-img compare): **NO** $(tail -n 1 "$LOGS/resume-restore.log" | cut -c1-160)")
	fi
	vc_on "$H" rm -rf -- "$OUT/resume-restored" "$dir"
}

rs_mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# resume_rows "K..." : both strategies for each K; RS_ROWS, RS_CHECKS.
resume_rows() {
	local k
	RS_ROWS=() RS_CHECKS=()
	for k in $1; do
		((k > 0)) || continue
		rs_case resumed "$k"
		rs_case over "$k"
	done
	[[ -z "$VC_BENCH_LOGDIR" ]] || cp "$LOGS"/resume-*.log "$VC_BENCH_LOGDIR/" 2>/dev/null || true
}

# resume_report : the second table, its note and its checks (markdown).
resume_report() {
	cat <<-EOT

		Interrupted full backups ($SIZE_MIB MiB of data, idle guest):

		| full backup interrupted K times | MiB read over NBD, all runs | x data | MiB read, finishing run | seconds, finishing run | notes |
		|---|---:|---:|---:|---:|---|
	EOT
	printf '%s\n' "${RS_ROWS[@]}"
	cat <<-EOT

		Each interruption is a \`virtckpt cancel\`, what the agent does to a
		backup before a live migration; the resume on the migration's target
		is the same code as a resume on this host
		(tests/pacemaker/backup-resume.sh proves the cross-node case). An
		interruption comes every $SIZE_MIB / (K + 1) MiB copied by the run
		it interrupts, in both strategies; the interrupted runs are slowed
		(--max-rate $RESUME_RATE) only to land the cancel there, and are not
		timed (each copies as much in both strategies). Started over: the
		kept partial directory and the interrupted checkpoint deleted before
		the next run, as virtckpt did before it kept them. MiB read over
		NBD: the committed manifest's read= (it counts every run of a
		resumed backup), plus for started over each interrupted run's
		progress record. Seconds: the finishing run, not slowed, plus an
		fsync of what it wrote, with its inputs warm (the source image,
		and for a resumed run the kept image, read once before it). A
		benchmark: nothing fails on these figures.

	EOT
	printf -- '- %s\n' "${RS_CHECKS[@]}"
}
