#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A backup directory is untrusted input: whoever can write to the backup
# storage must not make a root restore or verify read anything outside
# the directory, hang, or make a backup delete committed backups or
# checkpoints.  Each case alters a copy of a real two-backup chain the way
# an attacker (or an accident) could, with the manifest's checksums made
# to match again where that helps the attack, and checks that restore,
# verify, list or backup refuse, and that no byte of a host file shows in
# any output.  Then: restores are 0600 and appear at once; backups into a
# directory without its manifest are refused and keep everything.
#
# Every case runs, even after one failed; the failed ones are named at the
# end.  Run against an older virtckpt (VIRTCKPT=...) to see which defects
# it has.
# shellcheck disable=SC2016  # perl programs and literal $( in single quotes

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1
P=$VC_TMP/pristine          # the chain as virtckpt wrote it
T=$VC_TMP/t                 # the copy each case alters
OUT=$VC_TMP/out
RUN=(--rundir "$VC_TMP/run")
LIMIT=30                    # seconds: a command that takes longer hangs

ref_domain "$H" vm a 16
expect_exit 0 vck "$H" backup vm -o "$P" "${RUN[@]}" -l full
ref_snapshot a 1
ref_write "$H" vm vda a 0x5a 1M 1M
expect_exit 0 vck "$H" backup vm -o "$P" "${RUN[@]}" -l inc
ref_snapshot a 2
mapfile -t CPS < <(sed -n 's/.* checkpoint="\([^"]*\)".*/\1/p' "$P/manifest.xml")
[[ ${#CPS[@]} -eq 2 ]] || vc_fail "expected two checkpoints in the manifest"

# Bytes of the host no restore may ever copy: a raw file, and a qcow2
# image outside the backup directory.
SECRET=$VC_TMP/host-secret.raw
perl -e 'print substr ("HOST-SECRET-BYTES-" x 60000, 0, 1048576)' >"$SECRET"
{ cat "$SECRET"; head -c 15M /dev/zero; } >"$VC_TMP/host-secret-16M.raw"
qemu-img convert -q -f raw -O qcow2 "$VC_TMP/host-secret-16M.raw" "$VC_TMP/host-disk.qcow2"

# vckt ARGS... : virtckpt in the host, killed (exit 124) if it hangs.
vckt() {
	vc_on "$H" timeout "$LIMIT" "${VC_VALGRIND[@]}" "$VIRTCKPT" --store "$VC_STORE" "$@"
}

fresh() {
	rm -rf "$T" "$OUT"
	cp -a "$P" "$T"
}

img() { echo "$T"/000"$1"-*/vda.qcow2; }

# reseal ID : the manifest's size and checksum of backup ID's image match
# the (altered) file again, as an attacker would make them.
reseal() {
	local f sum size
	f=$(img "$1")
	sum=$(xxhsum -H2 "$f" | cut -d' ' -f1)
	size=$(stat -L -c %s "$f")
	perl -0pi -e 's{(<backup id="'"$1"'".*?<disk name="vda"[^>]*?)file-size="\d+"([^>]*?)xxh128="[0-9a-f]+"}{${1}file-size="'"$size"'"${2}xxh128="'"$sum"'"}s' \
		"$T/manifest.xml"
}

# set_backing VALUE : backup 2's backing attribute, XML-escaped.
set_backing() {
	V=$1 perl -0pi -e 'my $v = $ENV{V};
		$v =~ s/&/&amp;/g; $v =~ s/"/&quot;/g; $v =~ s/</&lt;/g;
		s{(<disk name="vda"[^>]*?) backing="[^"]*"}{$1 backing="$v"}s' "$T/manifest.xml"
}

# no_secret_in PATH... : no byte pattern of the host secret in any file.
no_secret_in() {
	local p
	for p in "$@"; do
		[[ -e "$p" ]] || continue
		if grep -rqaF "HOST-SECRET-BYTES" "$p"; then
			vc_fail "host bytes found in $p"
		fi
	done
}

# refused WHAT CMD... : exits 1 (not 0, not a hang), and leaves no OUTDIR.
refused() {
	local what=$1 rc=0
	shift
	"$@" >"$VC_TMP/out.txt" 2>"$VC_TMP/err.txt" || rc=$?
	VC_ERR=$(<"$VC_TMP/err.txt")
	no_secret_in "$OUT" "$VC_TMP/out.txt"
	[[ $rc -ne 124 ]] || vc_fail "$what: hung (killed after $LIMIT s)"
	[[ $rc -eq 1 ]] || vc_fail "$what: exit $rc, expected 1: $VC_ERR"
	[[ ! -e "$OUT" ]] || vc_fail "$what: $OUT was created"
	vc_log "ok: $what refused: $(head -n 1 <<<"$VC_ERR")"
}

# restore_and_verify_refuse WHAT [RESTORE ARGS] : both refuse.
restore_and_verify_refuse() {
	local what=$1
	shift
	refused "$what: restore" vckt restore "$T" -o "$OUT" --format raw "$@"
	refused "$what: verify" vckt verify "$T"
}

# --- images whose header names files outside the chain ------------------

case_backing_host_file() {
	fresh
	qemu-img rebase -q -u -f qcow2 -b "$SECRET" -F raw "$(img 2)"
	set_backing "$SECRET"
	reseal 2
	restore_and_verify_refuse "backing name of a host file, manifest agreeing"
}

case_backing_host_file_no_verify() {
	fresh
	qemu-img rebase -q -u -f qcow2 -b "$SECRET" -F raw "$(img 2)"
	refused "backing name of a host file, restore --no-verify" \
		vckt restore "$T" -o "$OUT" --format raw --no-verify
}

case_backing_dotdot() {
	local rel
	fresh
	rel=$(realpath --relative-to "$(dirname "$(img 2)")" "$SECRET")
	qemu-img rebase -q -u -f qcow2 -b "$rel" -F raw "$(img 2)"
	set_backing "$rel"
	reseal 2
	restore_and_verify_refuse "backing name $rel, manifest agreeing"
}

JSON='json:{"driver":"raw","file":{"driver":"file","filename":"'$SECRET'"}}'

case_json_backing() {
	fresh
	qemu-img rebase -q -u -f qcow2 -b "$JSON" -F raw "$(img 2)"
	set_backing "$JSON"
	reseal 2
	restore_and_verify_refuse "json: backing name, manifest agreeing"
}

case_json_backing_no_verify() {
	fresh
	qemu-img rebase -q -u -f qcow2 -b "$JSON" -F raw "$(img 2)"
	refused "json: backing name, restore --no-verify" \
		vckt restore "$T" -o "$OUT" --format raw --no-verify
}

case_external_data_file() {
	fresh
	qemu-img create -q -f qcow2 -o data_file="$VC_TMP/data-file.raw",data_file_raw=on \
		"$VC_TMP/data-file.qcow2" 16M
	cp "$VC_TMP/host-secret-16M.raw" "$VC_TMP/data-file.raw"
	cp "$VC_TMP/data-file.qcow2" "$(img 1)"
	reseal 1
	restore_and_verify_refuse "external data file" --until 1
}

# --- files that are not regular files in the directory -------------------

case_fifo() {
	fresh
	local f
	f=$(img 1)
	rm "$f"
	mkfifo "$f"
	restore_and_verify_refuse "image replaced by a FIFO" --until 1
}

case_symlink_dev_zero() {
	fresh
	ln -sf /dev/zero "$(img 1)"
	restore_and_verify_refuse "image replaced by a symlink to /dev/zero" --until 1
}

case_symlink_host_image() {
	fresh
	ln -sf "$VC_TMP/host-disk.qcow2" "$(img 1)"
	reseal 1
	restore_and_verify_refuse "image replaced by a symlink to a host image" --until 1
}

case_symlink_backup_dir() {
	fresh
	mkdir "$VC_TMP/elsewhere"
	cp "$VC_TMP/host-disk.qcow2" "$VC_TMP/elsewhere/vda.qcow2"
	cp "$T"/0001-*/*.xml "$VC_TMP/elsewhere/"
	local d
	d=$(dirname "$(img 1)")
	rm -rf "$d"
	ln -s "$VC_TMP/elsewhere" "$d"
	reseal 1
	restore_and_verify_refuse "backup directory replaced by a symlink" --until 1
	rm -rf "$VC_TMP/elsewhere"
}

# --- manifests ------------------------------------------------------------

# edit PERL-SUBSTITUTION : applied to the manifest.
edit() { perl -0pi -e "$1" "$T/manifest.xml"; }

case_parent_cycle() {
	fresh
	edit 's/parent="1"/parent="2"/'
	restore_and_verify_refuse "a backup that is its own parent"
}

case_missing_parent() {
	fresh
	edit 's{<backup id="1".*?</backup>}{}s'
	restore_and_verify_refuse "a missing parent"
}

case_out_of_order() {
	fresh
	edit 's{(<backup id="1".*?</backup>)(\s*)(<backup id="2".*?</backup>)}{$3$2$1}s'
	restore_and_verify_refuse "ids out of order"
}

case_dotdot_names() {
	fresh
	edit 's/(<backup id="1"[^>]*) dir="[^"]*"/$1 dir=".."/'
	restore_and_verify_refuse "dir '..'"
	fresh
	edit 's/<disk name="vda" file="vda.qcow2"/<disk name="..\/vda" file="vda.qcow2"/'
	restore_and_verify_refuse "disk name '../vda'"
}

case_control_characters() {
	fresh
	edit 's/(<backup id="2"[^>]*checkpoint=")[^"]*"/$1x&#10;   9 full  2026-01-01 00:00:00  forged"/'
	refused "a newline in a checkpoint name: list" vckt list "$T"
	grep -q forged "$VC_TMP/out.txt" && vc_fail "list printed a forged line"
	vc_log "ok: no forged line in list"
}

case_metacharacters() {
	fresh
	edit 's{<domain>vm</domain>}{<domain>vm&lt;x y="1"&gt;&amp;\$(id -u)`id -g`;\${HOME}</domain>}'
	expect_exit 0 vckt list "$T"
	grep -qxF 'Domain: vm<x y="1">&$(id -u)`id -g`;${HOME}' <<<"$VC_OUT" ||
		vc_fail "list did not print the name as it is: $VC_OUT"
	refused "a backup of vm into a directory of another domain" \
		vckt backup vm -o "$T" "${RUN[@]}"
	grep -qF 'vm<x y="1">&$(id -u)`id -g`;${HOME}' <<<"$VC_ERR" ||
		vc_fail "the error did not name the domain as it is: $VC_ERR"
	vc_log "ok: metacharacters in the manifest are just bytes"
}

case_huge_id() {
	fresh
	edit 's/<backup id="2"/<backup id="4294967295"/'
	local before
	before=$(sha256sum <"$T/manifest.xml")
	refused "backup after id 4294967295" vckt backup vm -o "$T" "${RUN[@]}" -l inc
	vc_assert_eq "$before" "$(sha256sum <"$T/manifest.xml")" "manifest with a huge id unchanged"
}

# --- restores: 0600, atomic ----------------------------------------------

case_restore_private_and_atomic() {
	fresh
	# (restore-targets.sh: a restore that fails half-way leaves nothing.)
	expect_exit 0 vckt restore "$T" -o "$OUT"
	vc_assert_eq 600 "$(stat -c %a "$OUT/vda.qcow2")" "restored image is 0600"
	vc_assert_eq 700 "$(stat -c %a "$OUT")" "restored directory is 0700"
	assert_same_disk "$OUT/vda.qcow2" "$VC_TMP/a.ref@2" "restore of the untouched chain"
	[[ -z "$(find "$VC_TMP" -maxdepth 1 -name '.virtckpt-restore-*')" ]] ||
		vc_fail "restore left its temporary directory"
	expect_error 1 "exists: not overwriting it" vckt restore "$T" -o "$OUT"
	rm -rf "$OUT"
	mkdir "$OUT"
	expect_exit 0 vckt restore "$T" -o "$OUT" --until 1 --format raw
	cmp "$OUT/vda.raw" "$VC_TMP/a.ref@1" || vc_fail "restore into an empty OUTDIR"
	vc_log "ok: restore into an existing empty OUTDIR"
	rm -rf "$OUT"
}

# --- backups into a directory an attacker or an accident changed ---------

case_foreign_marker_and_unlisted_dir() {
	fresh
	mkdir "$T/.partial-9" "$T/0099-full-20260101T000000Z"
	printf '%s' "${CPS[1]}" >"$T/.partial-9/.checkpoint"
	echo keep >"$T/0099-full-20260101T000000Z/keep.txt"
	expect_exit 0 vckt backup vm -o "$T" "${RUN[@]}" -l inc
	checkpoint_names "$H" vm | grep -qxF "${CPS[1]}" ||
		vc_fail "the checkpoint a planted marker named was deleted"
	[[ ! -e "$T/.partial-9" ]] || vc_fail ".partial-9 was not removed"
	[[ -e "$T/0099-full-20260101T000000Z/keep.txt" ]] ||
		vc_fail "a directory the manifest does not list was removed"
	vc_log "ok: a planted marker and an unlisted directory left alone"
}

case_missing_manifest() {
	fresh
	rm "$T/manifest.xml"
	local dirs
	dirs=$(cd "$T" && ls -d 000*)
	refused "backup into a directory whose manifest.xml is gone" \
		vckt backup vm -o "$T" "${RUN[@]}"
	grep -q "but no manifest.xml" <<<"$VC_ERR" || vc_fail "no way forward given: $VC_ERR"
	vc_assert_eq "$dirs" "$(cd "$T" && ls -d 000*)" "committed backups kept"
	for cp in "${CPS[@]}"; do
		checkpoint_names "$H" vm | grep -qxF "$cp" || vc_fail "checkpoint $cp was deleted"
	done
	vc_log "ok: both checkpoints kept"
	expect_exit 0 vckt verify "$P"
}

CASES=(
	case_backing_host_file case_backing_host_file_no_verify case_backing_dotdot
	case_json_backing case_json_backing_no_verify case_external_data_file
	case_fifo case_symlink_dev_zero case_symlink_host_image case_symlink_backup_dir
	case_parent_cycle case_missing_parent case_out_of_order case_dotdot_names
	case_control_characters case_metacharacters case_huge_id
	case_restore_private_and_atomic
	case_foreign_marker_and_unlisted_dir case_missing_manifest
)
failed=()
for c in "${CASES[@]}"; do
	vc_log "--- $c"
	set +e
	(
		set -e
		"$c"
	)
	rc=$?
	set -e
	[[ $rc -eq 0 ]] || failed+=("$c")
done
expect_exit 0 vck "$H" verify "$P"
if ((${#failed[@]})); then
	vc_fail "${#failed[@]} of ${#CASES[@]} cases failed: ${failed[*]}"
fi
vc_log PASS
