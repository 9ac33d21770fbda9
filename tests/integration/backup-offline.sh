#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Backups of a stopped domain: a transient two-disk domain gets a full and
# an incremental backup while it runs, more guest writes, and is destroyed
# (libvirt then knows nothing of it).  Offline incrementals, from the
# stored chain's disks, capture those writes and writes made to the images
# while stopped; each restores to exactly what the disks hold.  Refused
# while the domain runs here, or while another process holds the images
# (nothing written to the backup directory).  While the export runs, the
# domain cannot be started; a SIGTERM of virtckpt then leaves no
# qemu-storage-daemon, no bitmap, and a directory that restores.  Started
# again, 'checkpoints redefine' takes the offline checkpoints and an online
# incremental follows them; every point of the chain restores exact.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
B=$VC_TMP/backups
RUN=(--rundir "$VC_TMP/run")

ref_domain "$H" vm a 64 b 48

# backup LEVEL TAG [ARGS] : backs up, checks the level chosen, keeps the
# references as they are now under TAG (the backup's id).
backup() {
	local level=$1 tag=$2
	shift 2
	expect_exit 0 vck "$H" backup vm -o "$B" "${RUN[@]}" "$@"
	grep -q "backup $tag ($level) of vm done" <<<"$VC_ERR" ||
		vc_fail "backup $tag was not a $level backup: $VC_ERR"
	ref_snapshot a "$tag"
	ref_snapshot b "$tag"
}

# restores ID : backup ID restores both disks as they were.
restores() {
	expect_exit 0 vck "$H" restore "$B" -o "$VC_TMP/r$1" --until "$1"
	assert_same_disk "$VC_TMP/r$1/vda.qcow2" "$VC_TMP/a.ref@$1" "restore of backup $1, vda"
	assert_same_disk "$VC_TMP/r$1/vdb.qcow2" "$VC_TMP/b.ref@$1" "restore of backup $1, vdb"
	rm -rf "$VC_TMP/r$1"
}

# bitmaps NAME : the bitmaps of image NAME, sorted, on one line.
bitmaps() {
	qemu-img info -U --output=json "$VC_TMP/$1.qcow2" |
		python3 -c 'import json,sys; d=json.load(sys.stdin)
print(" ".join(sorted(b["name"] for b in d.get("format-specific",{}).get("data",{}).get("bitmaps",[]))))'
}

# no_qsd : no qemu-storage-daemon runs (ps shows 15 characters of its name).
no_qsd() {
	local i
	for ((i = 0; i < 100; i++)); do
		pgrep -x qemu-storage-d >/dev/null || return 0
		sleep 0.1
	done
	vc_fail "$1: a qemu-storage-daemon is left: $(pgrep -a -x qemu-storage-d)"
}

backup full 1
ref_write "$H" vm vda a 0x11 1M 1M
ref_write "$H" vm vdb b 0x22 40M 64k
backup inc 2
ref_write "$H" vm vda a 0x33 8M 128k
ref_discard "$H" vm vdb b 4M 1M

# Running here: --offline is refused.
expect_exit 1 vck "$H" backup vm -o "$B" "${RUN[@]}" --offline
grep -q "domain 'vm' is running here: no offline backup" <<<"$VC_ERR" ||
	vc_fail "--offline of a running domain: $VC_ERR"
vc_log "ok: --offline refused while vm runs here"

vc_virsh "$H" destroy vm >/dev/null
vc_virsh "$H" dominfo vm >/dev/null 2>&1 && vc_fail "the transient vm is still known to libvirt"

# --- offline, from the stored chain ----------------------------------------
backup inc 3
grep -q "vm is not running: backing up its images offline" <<<"$VC_ERR" ||
	vc_fail "the offline backup did not say so: $VC_ERR"
grep -q "backup 3 of vm was read offline" <<<"$VC_ERR" || vc_fail "offline report: $VC_ERR"
restores 3
vc_assert_eq 131072 "$(backup_read "$B" 3 vda)" "offline backup 3 read only what the guest wrote to vda"
cp3=$(sed -n 's/.*<backup id="3".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
vck "$H" checkpoints show vm --names >"$VC_TMP/names"
vc_assert_eq "$cp3" "$(tail -1 "$VC_TMP/names")" "the offline checkpoint is the stored chain's tip"
[[ " $(bitmaps a) " == *" $cp3 "* && " $(bitmaps b) " == *" $cp3 "* ]] ||
	vc_fail "the images lack bitmap $cp3: $(bitmaps a) / $(bitmaps b)"
grep -q "<bitmap>\|bitmap='$cp3'\|bitmap=\"$cp3\"" "$B"/0003-*/checkpoint.xml ||
	vc_fail "checkpoint.xml of backup 3 names no bitmap"

# Written while stopped, outside any guest.
ref_write_offline a 0x44 5M 64k
ref_write_offline b 0x45 0 64k
backup inc 4 --offline -l inc
restores 4
vc_assert_eq 65536 "$(backup_read "$B" 4 vda)" "offline backup 4 read the 64 KiB written offline"

# --- refusals --------------------------------------------------------------
before=$(sha256sum "$B/manifest.xml")
bm_a=$(bitmaps a)
# Another process holds vdb as a running QEMU would (written to, locked);
# it quits cleanly, so that its bitmaps stay consistent.
mkfifo "$VC_TMP/locker"
exec 9<>"$VC_TMP/locker"
qemu-io -f qcow2 "$VC_TMP/b.qcow2" <"$VC_TMP/locker" >/dev/null &
locker=$!
# (its OFD locks show in its fdinfo; probing with another open could make
# its own open fail)
for ((i = 0; i < 200; i++)); do
	grep -qs '^lock:' /proc/"$locker"/fdinfo/* && break
	kill -0 "$locker" 2>/dev/null || vc_fail "the locking qemu-io exited"
	sleep 0.05
done
grep -qs '^lock:' /proc/"$locker"/fdinfo/* || vc_fail "qemu-io did not lock vdb"
expect_exit 1 vck "$H" backup vm -o "$B" "${RUN[@]}" --offline
grep -q "vm seems to be running elsewhere (images locked)" <<<"$VC_ERR" ||
	vc_fail "locked images: $VC_ERR"
vc_log "ok: $(grep 'running elsewhere' <<<"$VC_ERR" | cut -c1-100)"
expect_exit 1 vck "$H" backup vm -o "$VC_TMP/fresh" "${RUN[@]}" -l copy
grep -q "vm seems to be running elsewhere (images locked)" <<<"$VC_ERR" ||
	vc_fail "locked images, copy: $VC_ERR"
echo quit >&9
wait "$locker"
exec 9>&-
vc_assert_eq "$before" "$(sha256sum "$B/manifest.xml")" "the refused backup left the manifest alone"
vc_assert_eq "" "$(find "$B" "$VC_TMP/fresh" -name '.partial-*' -o -name '*.qcow2' -newer "$B/manifest.xml" 2>/dev/null)" \
	"the refused backups wrote no image"
[[ ! -e "$VC_TMP/fresh/manifest.xml" ]] || vc_fail "the refused copy wrote a manifest"
vc_assert_eq "$bm_a" "$(bitmaps a)" "the refused backup's bitmap was taken out of vda again"
no_qsd "refused backups"

# --- a start during the export, and a SIGTERM ------------------------------
ref_write_offline a 0x46 16M 24M
bm_a=$(bitmaps a)
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --offline \
	--in-flight 1 --request-size 65536 --max-rate 2M
if vc_virsh "$H" create "$VC_TMP/vm.xml" >"$VC_TMP/create.out" 2>&1; then
	vc_fail "vm started while its images were exported"
fi
grep -q 'Failed to get "write" lock' "$VC_TMP/create.out" ||
	vc_fail "the start failed, but not for the lock: $(cat "$VC_TMP/create.out")"
vc_log "ok: vm cannot start during the offline export"
kill -TERM "$BACKUP_PID"
wait_backup_interrupted "SIGTERM of an offline backup"
no_qsd "SIGTERM of an offline backup"
vc_assert_eq "$bm_a" "$(bitmaps a)" "the interrupted backup's bitmap is gone"
vc_assert_eq "" "$(find "$B" -name '.partial-*')" "the interrupted backup left no partial directory"
expect_exit 0 vck "$H" verify "$B"
restores 4

# The same, killed outright: the daemon dies with virtckpt.
backup_in_background "$B" vck "$H" backup vm -o "$B" "${RUN[@]}" --offline \
	--in-flight 1 --request-size 65536 --max-rate 2M
kill -KILL "$BACKUP_PID"
wait "$BG" || true
no_qsd "SIGKILL of an offline backup"

backup inc 5 --offline
restores 5
vc_assert_eq 25165824 "$(backup_read "$B" 5 vda)" "backup 5 read the 24 MiB written offline"

# --- started again: the chain goes on ---------------------------------------
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
expect_exit 0 vck "$H" checkpoints redefine vm
cp5=$(sed -n 's/.*<backup id="5".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
checkpoint_names "$H" vm >"$VC_TMP/live"
for cp in "$cp3" "$cp5"; do
	grep -qxF "$cp" "$VC_TMP/live" ||
		vc_fail "libvirt lacks offline checkpoint $cp: $(cat "$VC_TMP/live")"
done
vc_log "ok: libvirt took the offline checkpoints ($(wc -l <"$VC_TMP/live") in the chain)"
ref_write "$H" vm vda a 0x55 60M 64k
ref_write "$H" vm vdb b 0x56 20M 64k
backup inc 6
vc_assert_eq 65536 "$(backup_read "$B" 6 vda)" "online backup 6 read only the guest's write since the offline one"
backup diff 7 -l diff
for id in 1 2 3 4 5 6 7; do
	restores "$id"
done

# --- a lost bitmap: the automatic offline backup is full ---------------------
vc_virsh "$H" destroy vm >/dev/null
cp7=$(sed -n 's/.*<backup id="7".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
vck "$H" checkpoints show vm --names >"$VC_TMP/old-names"
qemu-img bitmap --remove "$VC_TMP/a.qcow2" "$cp7"
ref_write_offline a 0x66 30M 64k
expect_exit 3 vck "$H" backup vm -o "$B" "${RUN[@]}" -l inc
grep -q "the checkpoint chain of vm is marked broken: the next backup must be full" <<<"$VC_ERR" ||
	vc_fail "inc on a lost bitmap: $VC_ERR"
backup full 8
grep -q "full backup: the checkpoint chain is broken (the bitmap of checkpoint $cp7 is missing" <<<"$VC_ERR" ||
	vc_fail "the full backup did not say why: $VC_ERR"
restores 8
cp8=$(sed -n 's/.*<backup id="8".* checkpoint="\([^"]*\)".*/\1/p' "$B/manifest.xml")
vck "$H" checkpoints show vm --names >"$VC_TMP/names"
vc_assert_eq "$cp8" "$(xargs <"$VC_TMP/names")" "the offline full starts the stored chain over"
while read -r old; do
	[[ " $(bitmaps a) $(bitmaps b) " != *" $old "* ]] ||
		vc_fail "bitmap $old of the old chain is left in the images"
done <"$VC_TMP/old-names"
vc_log "ok: the old chain's bitmaps are gone from the images"

# --config, and a domain nothing is known of.
expect_exit 0 vck "$H" backup vm -o "$VC_TMP/copies" "${RUN[@]}" -l copy --config "$VC_TMP/vm.xml"
expect_exit 0 vck "$H" restore "$VC_TMP/copies" -o "$VC_TMP/rc"
assert_same_disk "$VC_TMP/rc/vda.qcow2" "$VC_TMP/a.ref" "an offline copy from --config, vda"
assert_same_disk "$VC_TMP/rc/vdb.qcow2" "$VC_TMP/b.ref" "an offline copy from --config, vdb"
expect_exit 1 vck "$H" backup nosuch -o "$VC_TMP/nosuch" "${RUN[@]}"
grep -q "no disks known for nosuch: .* give its domain XML with --config FILE" <<<"$VC_ERR" ||
	vc_fail "a domain nothing is known of: $VC_ERR"
[[ ! -e "$VC_TMP/nosuch" ]] || vc_fail "the refused backup made its directory"

vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
expect_exit 0 vck "$H" checkpoints redefine vm
ref_write "$H" vm vdb b 0x77 10M 64k
backup inc 9
restores 9
expect_exit 0 vck "$H" verify "$B"

# --- a domain libvirt defines but does not run --------------------------------
# Its disks come from libvirt's definition, and libvirt, which keeps its
# checkpoints while it is shut off, gets the offline one at once.
ref_disk p 32
vc_domain_xml pvm "$VC_TMP/p.qcow2" >"$VC_TMP/pvm.xml"
vc_virsh "$H" define "$VC_TMP/pvm.xml" >/dev/null
vc_virsh "$H" start pvm >/dev/null
P=$VC_TMP/pbackups
# pbackup LEVEL ID [ARGS] : a backup of pvm (its stderr in $PERR),
# restored and compared.
pbackup() {
	expect_exit 0 vck "$H" backup pvm -o "$P" "${RUN[@]}" "${@:3}"
	grep -q "backup $2 ($1) of pvm done" <<<"$VC_ERR" || vc_fail "pvm backup $2 was not $1: $VC_ERR"
	PERR=$VC_ERR
	expect_exit 0 vck "$H" restore "$P" -o "$VC_TMP/rp$2"
	assert_same_disk "$VC_TMP/rp$2/vda.qcow2" "$VC_TMP/p.ref" "restore of pvm backup $2 ($1)"
}
pbackup full 1
ref_write "$H" pvm vda p 0x12 1M 64k
vc_virsh "$H" destroy pvm >/dev/null
pbackup inc 2
grep -q "pvm is not running: backing up its images offline" <<<"$PERR" ||
	vc_fail "pvm was not backed up offline: $PERR"
pcp2=$(sed -n 's/.*<backup id="2".* checkpoint="\([^"]*\)".*/\1/p' "$P/manifest.xml")
vc_assert_eq "$pcp2" "$(checkpoint_names "$H" pvm | tail -1)" "libvirt holds pvm's offline checkpoint while pvm is shut off"
ref_write_offline p 0x13 2M 64k
pbackup full 3 -l full
vc_assert_eq 1 "$(checkpoint_names "$H" pvm | grep -c '^virtckpt\.')" "after an offline full, libvirt holds its checkpoint only"
vc_virsh "$H" start pvm >/dev/null
ref_write "$H" pvm vda p 0x14 3M 64k
pbackup inc 4
vc_virsh "$H" destroy pvm >/dev/null
# A diff offline: the full's own bitmap holds everything since.
ref_write_offline p 0x15 5M 64k
pbackup diff 5 -l diff
vc_assert_eq 131072 "$(backup_read "$P" 5)" "offline diff 5 read the writes since full 3, online and offline"
vc_virsh "$H" undefine --checkpoints-metadata pvm >/dev/null
vc_log PASS
