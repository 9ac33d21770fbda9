#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The admin guide's backup story works as written: its virtckpt-backup-node
# script, taken from doc/admin-guide.md, run twice a "week" for six weeks
# on a host with two domains, leaves the 4 newest weekly chains of each
# (a full and an incremental in each), whose newest restores byte-exact;
# a chain missing a link fails restore and verify, naming the file; the
# guide's systemd units pass systemd-analyze verify and its cron entry
# has the PATH virtckpt and virsh need.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

guide=${abs_top_srcdir:?}/doc/admin-guide.md
# The guide's files: each fenced block after "<!-- file: NAME ... -->".
extract() {
	awk -v dir="$1" '
	/^<!-- file: / { name = $3; next }
	name != "" && /^```/ { if (out == "") { out = dir "/" name; next } else { close(out); out = ""; name = ""; next } }
	out != "" { print > out }' "$guide"
}
vc_single_host h1
files=$VC_TMP/guide
mkdir -p "$files" "$VC_TMP/bin"
extract "$files"
for f in virtckpt-backup-node virtckpt-backup.cron virtckpt-backup.service virtckpt-backup.timer; do
	[[ -s "$files/$f" ]] || vc_fail "no $f in the admin guide"
done

# The script, with the test's backup root; virtckpt and a date that says
# which week it is first in PATH; the test's store and run directory.
sed "s|^BACKUP_ROOT=/backup |BACKUP_ROOT=$VC_TMP/backup |" "$files/virtckpt-backup-node" \
	>"$VC_TMP/bin/virtckpt-backup-node"
grep -q "^BACKUP_ROOT=$VC_TMP/backup " "$VC_TMP/bin/virtckpt-backup-node" ||
	vc_fail "the guide's script sets no BACKUP_ROOT=/backup"
chmod +x "$VC_TMP/bin/virtckpt-backup-node"
ln -s "$VIRTCKPT" "$VC_TMP/bin/virtckpt"
printf '#!/bin/sh\ncat %s/week\n' "$VC_TMP" >"$VC_TMP/bin/date"
chmod +x "$VC_TMP/bin/date"
run_week() {
	echo "$1" >"$VC_TMP/week"
	vc_on "$H" env PATH="$VC_TMP/bin:$PATH" VIRTCKPT_STORE="$VC_STORE" \
		VIRTCKPT_RUNDIR="$VC_TMP/run" virtckpt-backup-node ||
		vc_fail "virtckpt-backup-node failed in week $1"
}

ref_domain "$H" vm1 a 8
ref_domain "$H" vm2 b 8
for w in 1 2 3 4 5 6; do
	ref_write "$H" vm1 vda a "0x1$w" "${w}M" 1M
	ref_write "$H" vm2 vda b "0x2$w" "${w}M" 1M
	run_week "2026-W0$w"
	ref_write "$H" vm1 vda a "0x3$w" 7M 1M
	run_week "2026-W0$w"
done

for dom in vm1 vm2; do
	vc_assert_eq "2026-W03 2026-W04 2026-W05 2026-W06" \
		"$(cd "$VC_TMP/backup/$dom" && echo *)" "$dom: the 4 newest weekly chains kept"
	for w in 3 4 5 6; do
		vc_assert_eq "0001-full 0002-inc" \
			"$(cd "$VC_TMP/backup/$dom/2026-W0$w" && for d in 0*; do printf '%s ' "${d%-*}"; done | sed 's/ $//')" \
			"$dom week $w: a full then an incremental"
	done
done
expect_exit 0 vck "$H" verify "$VC_TMP/backup/vm1/2026-W06"
expect_exit 0 vck "$H" restore "$VC_TMP/backup/vm1/2026-W06" -o "$VC_TMP/r1"
assert_same_disk "$VC_TMP/r1/vda.qcow2" "$VC_TMP/a.ref" "vm1: newest backup"
expect_exit 0 vck "$H" restore "$VC_TMP/backup/vm2/2026-W06" -o "$VC_TMP/r2"
assert_same_disk "$VC_TMP/r2/vda.qcow2" "$VC_TMP/b.ref" "vm2: newest backup"
vc_log "ok: weekly chains, 4 kept, newest restored byte-exact"

# One link deleted out of a chain: what depends on it fails, naming it.
rm -rf "$VC_TMP"/backup/vm1/2026-W05/0001-full-*
expect_exit 1 vck "$H" restore "$VC_TMP/backup/vm1/2026-W05" -o "$VC_TMP/r3"
grep -q "2026-W05/0001-full-.*/vda.qcow2" <<<"$VC_ERR" || vc_fail "restore names no missing file: $VC_ERR"
expect_exit 1 vck "$H" verify "$VC_TMP/backup/vm1/2026-W05"
grep -q "2026-W05/0001-full-.*/vda.qcow2: cannot open" <<<"$VC_ERR" || vc_fail "verify names no missing file: $VC_ERR"
vc_log "ok: a chain missing a link fails restore and verify, naming it"

# The scheduling: cron's PATH finds virtckpt (sbin) and virsh; the units verify.
cron_path=":$(sed -n 's/^PATH=//p' "$files/virtckpt-backup.cron"):"
for d in /usr/sbin /usr/local/sbin "$(dirname "$(command -v virsh)")"; do
	[[ "$cron_path" == *":$d:"* ]] || vc_fail "the cron entry's PATH lacks $d"
done
grep -qE '^[0-9]+ [0-9]+ \* \* \* root /usr/local/sbin/virtckpt-backup-node$' "$files/virtckpt-backup.cron" ||
	vc_fail "cron line: $(cat "$files/virtckpt-backup.cron")"
if command -v systemd-analyze >/dev/null; then
	sed -i "s|^ExecStart=.*|ExecStart=$VC_TMP/bin/virtckpt-backup-node|" "$files/virtckpt-backup.service"
	# Units this machine may lack (libvirtd, virtckptd) are not the guide's.
	out=$(cd "$files" || exit 1
		SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
			virtckpt-backup.service virtckpt-backup.timer 2>&1 |
			grep -vE "(libvirtd|virtckptd|remote-fs)\.(service|target)" || true)
	[[ -z "$out" ]] || vc_fail "systemd-analyze verify: $out"
	vc_log "ok: the guide's units verify"
fi
vc_log PASS
