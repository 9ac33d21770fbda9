#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Chaos soak: a seeded random sequence of faults in the 3-node Pacemaker
# lab, an automatic backup after each, and invariants checked after every
# step.
#
#     make soak SEED=42 STEPS=200     (or SOAK_SEED=42 SOAK_STEPS=200 soak.sh)
#
# Defaults: SEED=1, 6 steps.  make check runs soak-short.sh: every kind once.
#
# vm1 (32 MiB disk, ocf:heartbeat:VirtualDomain with vm1-ckpt) runs in the
# lab of pacemaker.sh.  Its backups go into directories on a small ext4
# file system (a loop device mounted at the same path on the real host and
# in every node, so all share it, and the soak can fill it up).  Each step:
# guest writes (HMP qemu-io, mirrored into the raw reference), then one
# fault chosen by bash's $RANDOM seeded from SEED:
#   move          stop/start relocation to another node (allow-migrate=false)
#   migrate       live migration to another node
#   kill-backup   SIGKILL of a virtckpt backup while it copies
#   kill-daemon   SIGKILL of virtckptd on some node (a backup on the VM's
#                 node meanwhile either commits a correct backup or fails
#                 cleanly), restarted
#   kill-corosync SIGKILL of corosync on a node without the VM (Pacemaker
#                 there goes with it); a backup on the majority; rejoin
#   kill-pacemaker SIGKILL of every Pacemaker daemon on a node without the
#                 VM; restart
#   crash         the VM's node crashes (vc_node_crash: Pacemaker, corosync
#                 and QEMU); the survivors restart the VM; rejoin
#   kill-qemu     SIGKILL of the VM's QEMU only; Pacemaker restarts it
#   partition     a node without the VM is cut off; a backup on the
#                 majority; heal
#   minority      maintenance mode, then the VM's node is cut off from the
#                 others (it keeps running the VM): a backup there fails
#                 cleanly or commits a correct backup (virtckptd lets a
#                 partition without quorum write, doc/design.md); heal
#   full-target   the backup file system is filled up: a backup must fail
#                 cleanly; the space is freed
# then the automatic backup (virtckpt backup, level auto), which must
# succeed.  Every 25 backups the soak starts a new backup directory.
#
# Invariants, after every step:
#   - the newest backup restores byte-exact to the guest disk at its point
#     (sha256 of the reference at each backup point); every backup of the
#     current directory every SOAK_CHECK_EVERY steps, of all directories at
#     the end (and each directory verifies);
#   - the level: after QEMU died (crash, kill-qemu) or in a new directory
#     the backup is full, otherwise incremental: an incremental never
#     chains onto data that was not saved (its restore would differ), and
#     a clean failure keeps the chain usable;
#   - a backup expected to fail exits non-zero, commits nothing (manifest
#     unchanged, no partial directory), leaves libvirt's checkpoints and the
#     stored chain as they were, and the newest backup still restores;
#   - the stores converge: once the cluster is whole every virtckptd is
#     synced with 3 members, every node's "checkpoints show --names" and
#     store documents are equal, and equal libvirt's chain on the VM's node.
# It prints each step (number, seed, kind, nodes, seconds) and a summary:
# steps by kind, backups by level, clean failures, restores checked, time.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/pacemaker.sh
. "$(dirname "$0")/../lib/pacemaker.sh"

SEED=${SOAK_SEED:-1}
STEPS=${SOAK_STEPS:-6}
CHECK_EVERY=${SOAK_CHECK_EVERY:-10}
ROTATE=${SOAK_ROTATE:-25}
DISK_MIB=32
VM=vm1
[[ "$SEED" =~ ^[0-9]+$ && "$STEPS" =~ ^[0-9]+$ ]] || _vc_error "SEED and STEPS must be numbers"
RANDOM=$SEED

# Fault kinds and their weights.
KINDS=(move migrate kill-backup kill-daemon kill-corosync kill-pacemaker crash kill-qemu
	partition minority full-target)
WEIGHTS=(3 3 2 2 1 1 1 1 1 1 1)
# SOAK_ONLY="kind ...": these kinds in turn instead (to chase one fault).
read -r -a ONLY <<<"${SOAK_ONLY:-}"

declare -A DIGEST=() N_KIND=() N_LEVEL=() T_KIND=()
DIRS=()         # backup directories, oldest first
DIR=""          # the current one
IDS=()          # committed backup ids in DIR
MUST_FULL=1     # the next backup must be full
N_RESTORES=0
N_CLEAN_FAIL=0
N_PCMK_FAIL=0   # times failed actions were cleaned up
N_ACCEPTED=0    # backups during a fault that may fail and did not
FS=""           # the backup file system's mount point
LOOP=""

# --------------------------------------------------------------- helpers --

# soak_rand N : R = a number in [0, N), from the seeded sequence (never in
# a subshell: $RANDOM's state must advance in this shell).
soak_rand() {
	R=$((RANDOM % $1))
}

# soak_other NODE : R_NODE = a random node other than NODE.
soak_other() {
	local others=() n
	for n in "${VC_NODES[@]}"; do
		[[ "$n" == "$1" ]] || others+=("$n")
	done
	soak_rand "${#others[@]}"
	R_NODE=${others[R]}
}

soak_pick_kind() {
	local total=0 w i
	if ((${#ONLY[@]})); then
		KIND=${ONLY[(step - 1) % ${#ONLY[@]}]}
		return 0
	fi
	for w in "${WEIGHTS[@]}"; do total=$((total + w)); done
	soak_rand "$total"
	for i in "${!KINDS[@]}"; do
		if ((R < WEIGHTS[i])); then
			KIND=${KINDS[i]}
			return 0
		fi
		R=$((R - WEIGHTS[i]))
	done
}

# soak_fs_setup : the backup file system, mounted at $VC_SHARED/backups on
# the real host and in every node (one loop device: one file system).
soak_fs_setup() {
	local img=$VC_TMP/backup-fs.img dev node mm
	truncate -s 3G "$img"
	mkfs.ext4 -q -m 0 -F "$img" >/dev/null || _vc_error "mkfs.ext4 failed"
	LOOP=$(losetup --find --show "$img") || _vc_error "no loop device"
	FS=$VC_SHARED/backups
	mkdir -p "$FS"
	mount "$LOOP" "$FS" || _vc_error "cannot mount $LOOP"
	chmod 0755 "$FS"
	mm=$(stat -c '%t %T' "$LOOP")
	for node in "${VC_NODES[@]}"; do
		dev=$LOOP
		# shellcheck disable=SC2016,SC2086 # expanded by the inner shell; MAJ MIN
		vc_on "$node" sh -c '[ -b "$1" ] || mknod "$1" b $((0x$2)) $((0x$3)); mount "$1" "$4"' \
			sh "$dev" $mm "$FS" || _vc_error "node $node: cannot mount the backup file system"
	done
	vc_log "backup file system: $LOOP (ext4, 3 GiB) on $FS, on the host and ${VC_NODES[*]}"
}

soak_fs_cleanup() {
	if [[ -n "$FS" ]] && mountpoint -q "$FS"; then
		umount "$FS" || umount -l "$FS" || true
	fi
	[[ -z "$LOOP" ]] || losetup -d "$LOOP" 2>/dev/null || true
}

# soak_new_dir : the next backup directory; its first backup is full.
soak_new_dir() {
	DIR=$FS/b${#DIRS[@]}
	DIRS+=("$DIR")
	IDS=()
	MUST_FULL=1
}

soak_manifest_sum() {
	if [[ -e "$DIR/manifest.xml" ]]; then sha256sum <"$DIR/manifest.xml"; else echo none; fi
}

soak_ref_sum() {
	sha256sum <"$VC_TMP/$VM.ref" | cut -d' ' -f1
}

# soak_writes NODE : 1 to 3 guest writes (sometimes zeroes), 64 KiB aligned.
soak_writes() {
	local node=$1 n i off len pat clusters=$((DISK_MIB * 16))
	soak_rand 3
	n=$((R + 1))
	for ((i = 0; i < n; i++)); do
		soak_rand "$clusters"
		off=$R
		soak_rand 16
		len=$((R + 1))
		((off + len <= clusters)) || len=$((clusters - off))
		soak_rand 255
		pat=$(printf '0x%02x' $((R + 1)))
		soak_rand 6
		if ((R == 0)); then
			ref_zero "$node" "$VM" vda "$VM" "$((off * 65536))" "$((len * 65536))"
		else
			ref_write "$node" "$VM" vda "$VM" "$pat" "$((off * 65536))" "$((len * 65536))"
		fi
	done
}

# soak_restore NODE ID : restores backup ID of DIR (raw) and compares it
# with the reference at that point.
soak_restore() {
	local node=$1 id=$2 out=$VC_TMP/restore got
	rm -rf "$out"
	expect_exit 0 vnck "$node" restore "$DIR" -o "$out" --until "$id" --format raw
	got=$(cat "$out"/vda* | sha256sum | cut -d' ' -f1)
	[[ "$got" == "${DIGEST[$DIR#$id]}" ]] ||
		vc_fail "restore of backup $id of $DIR differs from the guest disk at that point"
	N_RESTORES=$((N_RESTORES + 1))
	rm -rf "$out"
}

# soak_restore_all NODE : every backup of DIR, after a verify.
soak_restore_all() {
	local node=$1 id
	expect_exit 0 vnck "$node" verify "$DIR"
	for id in "${IDS[@]}"; do
		soak_restore "$node" "$id"
	done
	vc_log "ok: all ${#IDS[@]} backups of $DIR restore byte-exact"
}

# soak_backup NODE : the automatic backup; must succeed, at the level the
# soak expects; then the newest restores.
soak_backup() {
	local node=$1 want=inc t0=$EPOCHREALTIME
	((MUST_FULL)) && want=full
	expect_exit 0 vnck "$node" backup "$VM" -o "$DIR"
	vc_log "backup on $node took $(vc_elapsed "$t0")s"
	soak_record_backup "$node" "$want"
}

# soak_record_backup NODE WANT : the backup that just succeeded ($VC_ERR).
soak_record_backup() {
	local node=$1 want=$2 id level
	read -r id level < <(sed -n "s/.*backup \([0-9]*\) (\([a-z]*\)) of $VM done.*/\1 \2/p" <<<"$VC_ERR")
	[[ -n "$id" ]] || vc_fail "backup on $node did not say what it did: $VC_ERR"
	if [[ "$want" != any && "$level" != "$want" ]]; then
		vc_fail "backup $id on $node is $level, expected $want: $VC_ERR"
	fi
	DIGEST[$DIR#$id]=$(soak_ref_sum)
	IDS+=("$id")
	N_LEVEL[$level]=$((${N_LEVEL[$level]:-0} + 1))
	MUST_FULL=0
	soak_restore "$node" "$id"
	vc_log "ok: backup $id ($level) on $node restores byte-exact"
}

# soak_state NODE : what a failed backup must leave as it was.
soak_state() {
	printf 'manifest %s\n' "$(soak_manifest_sum)"
	printf 'libvirt %s\n' "$(checkpoint_names "$1" "$VM" 2>/dev/null | xargs)"
	printf 'partial %s\n' "$(find "$DIR" -maxdepth 1 -name '.partial-*' -printf '%f ' 2>/dev/null)"
}

# soak_backup_fault NODE must-fail|may-fail WHY : a backup during a fault.
# It fails cleanly (non-zero, nothing committed, checkpoints unchanged,
# the newest backup still restores) or, for may-fail, succeeds correctly.
soak_backup_fault() {
	local node=$1 mode=$2 why=$3 before after rc=0 want=inc err
	before=$(soak_state "$node")
	vnck "$node" backup "$VM" -o "$DIR" >/dev/null 2>"$VC_TMP/stderr" || rc=$?
	VC_ERR=$(<"$VC_TMP/stderr")
	err=$VC_ERR
	if ((rc == 0)); then
		[[ "$mode" == may-fail ]] || vc_fail "a backup $why succeeded: $VC_ERR"
		((MUST_FULL)) && want=full
		N_ACCEPTED=$((N_ACCEPTED + 1))
		soak_record_backup "$node" "$want"
		return 0
	fi
	after=$(soak_state "$node")
	if [[ "$before" != "$after" ]]; then
		vc_log "before: $before"
		vc_log "after:  $after"
		vc_fail "the failed backup $why (exit $rc) changed the backup directory or libvirt's checkpoints: $VC_ERR"
	fi
	if ((${#IDS[@]})); then
		soak_restore "$node" "${IDS[-1]}"
	fi
	N_CLEAN_FAIL=$((N_CLEAN_FAIL + 1))
	vc_log "ok: the backup $why failed cleanly (exit $rc): $(grep -v 'guest agent' <<<"$err" | tail -n 1)"
}

# soak_converge : the cluster is whole; every daemon synced with every
# member; the stored chain is the same on every node and is libvirt's.
soak_converge() {
	local node names first="" digest d0="" chain
	for node in "${VC_NODES[@]}"; do
		vc_wait_synced "$node" "${#VC_NODES[@]}" 60
	done
	chain=$(checkpoint_names "$VC_VM_NODE" "$VM" | xargs)
	for node in "${VC_NODES[@]}"; do
		names=$(vnck "$node" checkpoints show "$VM" --names | xargs)
		digest=$(store_digest_of "$node")
		if [[ -z "$first" ]]; then
			first=$names
			d0=$digest
		fi
		[[ "$names" == "$first" ]] ||
			vc_fail "stores differ: ${VC_NODES[0]} [$first], $node [$names]"
		[[ "$digest" == "$d0" ]] || vc_fail "store documents differ between ${VC_NODES[0]} and $node"
	done
	[[ "$first" == "$chain" ]] ||
		vc_fail "stored chain [$first] is not libvirt's on $VC_VM_NODE [$chain]"
}

soak_where() {
	VC_VM_NODE=$(vc_vm_node "$VM")
	[[ -n "$VC_VM_NODE" ]] || vc_fail "$VM runs nowhere"
}

# soak_settle : Pacemaker idle, failed actions (left by kills) cleaned up.
# (A failure Pacemaker recovers from is not the soak's business: the
# invariants are.)
soak_settle() {
	local n fails i t0=$EPOCHREALTIME
	for ((i = 0; i < 5; i++)); do
		_vc_wait_running "!-" "$VC_PCMK_TIMEOUT" "$VM" "$VM-ckpt"
		n=$(_vc_pcmk_node)
		vc_on "$n" crm_resource --wait --timeout="${VC_PCMK_TIMEOUT}s" >/dev/null 2>&1 || true
		fails=$(vc_pcmk_failures)
		[[ -n "$fails" ]] || break
		vc_log "failed actions (cleaned up): $(xargs <<<"$fails")"
		N_PCMK_FAIL=$((N_PCMK_FAIL + 1))
		vc_on "$n" crm_resource --cleanup >/dev/null 2>&1 || true
	done
	vc_wait_idle
	vc_log "Pacemaker settled in $(vc_elapsed "$t0")s"
}

# soak_rejoin NODE : corosync and Pacemaker start again on NODE.
soak_rejoin() {
	local node=$1
	vc_pcmk_kill "$node" 2>/dev/null || true
	vc_corosync_start "$node"
	vc_pacemaker_start "$node"
	vc_wait_online "$(soak_first_other "$node")" "${#VC_NODES[@]}" "$VC_PCMK_TIMEOUT"
}

soak_first_other() {
	local n
	for n in "${VC_NODES[@]}"; do
		[[ "$n" == "$1" ]] || { printf '%s\n' "$n"; return 0; }
	done
}

soak_set_migrate() {
	local want=$1
	[[ "$MIGRATE" == "$want" ]] && return 0
	vc_rsc_meta "$VM" allow-migrate "$want"
	vc_wait_idle
	MIGRATE=$want
}

# ------------------------------------------------------------------ steps --

step_move() {
	soak_other "$VC_VM_NODE"
	soak_set_migrate false
	DETAIL="$VC_VM_NODE -> $R_NODE"
	vc_vm_move "$VM" "$R_NODE"
}

step_migrate() {
	soak_other "$VC_VM_NODE"
	soak_set_migrate true
	DETAIL="$VC_VM_NODE -> $R_NODE"
	vc_vm_move "$VM" "$R_NODE"
	vc_assert_eq "running (migrated)" "$(vc_virsh "$R_NODE" domstate --reason "$VM")" \
		"$VM live-migrated to $R_NODE"
}

step_kill_backup() {
	local node=$VC_VM_NODE before rc=0
	before=$(soak_manifest_sum)
	DETAIL=$node
	backup_in_background "$DIR" vnck "$node" backup "$VM" -o "$DIR" --level full \
		--connections 1 --in-flight 1 --request-size 65536
	kill -KILL "$BACKUP_PID"
	wait "$BG" || rc=$?
	((rc != 0)) || vc_fail "the killed backup exited 0"
	vc_assert_eq "$before" "$(soak_manifest_sum)" "the killed backup committed nothing"
}

step_kill_daemon() {
	local node
	soak_rand "${#VC_NODES[@]}"
	node=${VC_NODES[R]}
	DETAIL=$node
	vc_daemon_kill "$node"
	if [[ "$node" == "$VC_VM_NODE" ]]; then
		soak_backup_fault "$node" may-fail "while virtckptd is down on $node"
	fi
	vc_daemon_start "$node"
}

step_kill_corosync() {
	local node
	soak_other "$VC_VM_NODE"
	node=$R_NODE
	DETAIL=$node
	vc_corosync_kill "$node"
	vc_pcmk_kill "$node"
	vc_wait_members "$VC_VM_NODE" $((${#VC_NODES[@]} - 1))
	vc_wait_synced "$VC_VM_NODE" $((${#VC_NODES[@]} - 1)) 60
	soak_writes "$VC_VM_NODE"
	soak_backup "$VC_VM_NODE"
	soak_rejoin "$node"
}

step_kill_pacemaker() {
	local node
	soak_other "$VC_VM_NODE"
	node=$R_NODE
	DETAIL=$node
	vc_pcmk_kill "$node"
	vc_pacemaker_start "$node"
	vc_wait_online "$VC_VM_NODE" "${#VC_NODES[@]}" "$VC_PCMK_TIMEOUT"
}

step_crash() {
	local node=$VC_VM_NODE
	vc_node_crash "$node" "$VM"
	vc_wait_running_off "$node" "$VM" "$VM-ckpt"
	DETAIL="$node, $VM restarted on $VC_VM_NODE"
	MUST_FULL=1
	soak_writes "$VC_VM_NODE"
	soak_backup "$VC_VM_NODE"
	soak_rejoin "$node"
}

step_kill_qemu() {
	local node=$VC_VM_NODE pid n
	DETAIL=$node
	pid=$(vc_on "$node" cat "/run/libvirt/qemu/$VM.pid")
	vc_on "$node" kill -KILL "$pid"
	MUST_FULL=1
	# A probe finds it at once; the monitor would take up to its interval.
	n=$(_vc_pcmk_node)
	vc_on "$n" crm_resource --refresh --resource "$VM" --node "$node" >/dev/null 2>&1 || true
}

step_partition() {
	local node others=() n
	soak_other "$VC_VM_NODE"
	node=$R_NODE
	for n in "${VC_NODES[@]}"; do [[ "$n" == "$node" ]] || others+=("$n"); done
	DETAIL="[$node] | [${others[*]}]"
	vc_partition "$node" "${others[*]}"
	vc_wait_members "$VC_VM_NODE" "${#others[@]}"
	vc_wait_quorate "$node" no
	vc_wait_synced "$VC_VM_NODE" "${#others[@]}" 60
	soak_writes "$VC_VM_NODE"
	soak_backup "$VC_VM_NODE"
	vc_heal
	vc_wait_members "$node" "${#VC_NODES[@]}"
	vc_wait_online "$node" "${#VC_NODES[@]}" "$VC_PCMK_TIMEOUT"
}

step_minority() {
	local node=$VC_VM_NODE others=() n
	for n in "${VC_NODES[@]}"; do [[ "$n" == "$node" ]] || others+=("$n"); done
	DETAIL="[$node] | [${others[*]}]"
	n=$(_vc_pcmk_node)
	vc_on "$n" crm_attribute --type crm_config --name maintenance-mode --update true >/dev/null
	vc_wait_idle
	vc_partition "$node" "${others[*]}"
	vc_wait_quorate "$node" no
	vc_wait_members "${others[0]}" "${#others[@]}"
	soak_writes "$node"
	# The design lets a partition without quorum write (its versions lose
	# to quorate ones): such a backup fails cleanly or is a correct one,
	# and its checkpoint reaches every store after the heal.
	soak_backup_fault "$node" may-fail "on the minority side of a partition"
	vc_heal
	vc_wait_members "$node" "${#VC_NODES[@]}"
	vc_wait_online "$node" "${#VC_NODES[@]}" "$VC_PCMK_TIMEOUT"
	vc_on "$n" crm_attribute --type crm_config --name maintenance-mode --update false >/dev/null
}

step_full_target() {
	local avail filler=$FS/filler
	DETAIL=$VC_VM_NODE
	sync -f "$FS"
	avail=$(df --output=avail -B1 "$FS" | tail -n 1)
	fallocate -l $((avail - 65536)) "$filler" || vc_fail "cannot fill $FS"
	soak_writes "$VC_VM_NODE"
	soak_backup_fault "$VC_VM_NODE" must-fail "into a full file system"
	rm -f "$filler"
}

# --------------------------------------------------------------- the soak --

vc_pcmk_lab 3
trap 'rc=$?; set +e; soak_fs_cleanup; (exit $rc); _vc_pcmk_exit_trap' EXIT
soak_fs_setup
vc_vm_setup "$VM" "$DISK_MIB" n1 --no-migrate
MIGRATE=false
soak_new_dir
T_SOAK=$EPOCHREALTIME
vc_log "soak: SEED=$SEED STEPS=$STEPS (check every $CHECK_EVERY steps, new directory every $ROTATE backups)"
soak_where
soak_backup "$VC_VM_NODE"
soak_converge

for ((step = 1; step <= STEPS; step++)); do
	soak_pick_kind
	t0=$EPOCHREALTIME
	DETAIL=""
	soak_where
	vc_log "=== step $step/$STEPS (SEED=$SEED): $KIND on $VC_VM_NODE"
	soak_writes "$VC_VM_NODE"
	"step_${KIND//-/_}"
	soak_settle
	soak_where
	soak_writes "$VC_VM_NODE"
	soak_backup "$VC_VM_NODE"
	soak_converge
	if ((step % CHECK_EVERY == 0)); then
		soak_restore_all "$VC_VM_NODE"
	fi
	if ((${#IDS[@]} >= ROTATE)); then
		soak_restore_all "$VC_VM_NODE"
		soak_new_dir
		vc_log "new backup directory $DIR"
	fi
	secs=$(vc_elapsed "$t0")
	N_KIND[$KIND]=$((${N_KIND[$KIND]:-0} + 1))
	T_KIND[$KIND]=$(awk -v a="${T_KIND[$KIND]:-0}" -v b="$secs" 'BEGIN { print a + b }')
	vc_log "=== step $step/$STEPS (SEED=$SEED) $KIND${DETAIL:+ ($DETAIL)} ok in ${secs}s"
done

# --- the end: every backup of every directory --------------------------------
node=$VC_VM_NODE
for DIR in "${DIRS[@]}"; do
	mapfile -t IDS < <(vnck "$node" list "$DIR" 2>/dev/null | awk 'NR > 2 { print $1 }')
	((${#IDS[@]})) || continue
	soak_restore_all "$node"
done

total=$(vc_elapsed "$T_SOAK")
{
	printf 'SOAK SUMMARY: SEED=%s STEPS=%s time %ss (lab start %ss)\n' "$SEED" "$STEPS" "$total" "$VC_PCMK_START_SECS"
	printf '  steps by kind:'
	for k in "${KINDS[@]}"; do
		[[ -z "${N_KIND[$k]:-}" ]] ||
			printf ' %s=%s (%.0fs avg)' "$k" "${N_KIND[$k]}" "$(awk -v t="${T_KIND[$k]}" -v n="${N_KIND[$k]}" 'BEGIN { print t / n }')"
	done
	printf '\n  backups: full=%s inc=%s in %s directories; during faults: %s failed cleanly, %s succeeded\n' \
		"${N_LEVEL[full]:-0}" "${N_LEVEL[inc]:-0}" "${#DIRS[@]}" "$N_CLEAN_FAIL" "$N_ACCEPTED"
	printf '  restores checked byte-exact: %s; Pacemaker failed actions cleaned up %s times\n' \
		"$N_RESTORES" "$N_PCMK_FAIL"
} | tee "$VC_TMP/summary" >&2
vc_wait_idle
