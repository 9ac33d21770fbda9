#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The installed unit, started by systemd: a container (systemd-nspawn, its
# root an overlay of / on a tmpfs, in a mount namespace of its own; nothing
# on the machine changes) boots systemd with only corosync (one node, on
# the container's loopback) and virtckptd.service enabled, from "make
# install DESTDIR=".  Inside, a probe unit ordered after virtckptd checks,
# with all the unit's hardening in force:
#   - the sandbox is in force (read-only /, seccomp, no new privileges);
#   - virtckpt status: the daemon answers, synced (libqb IPC with corosync
#     and with the CLI works under the unit's sandbox), to root and to a
#     member of haclient;
#   - a chain imported through the daemon is in its replica under
#     StateDirectory= and reads back (the daemon may write its store);
#   - tmpfiles.d made the runtime directory (0755 root) at boot, and a
#     daemon restart leaves a file in it;
#   - after two starts the journal has each start line twice, not four
#     times (stderr and syslog), with its priority (notice).
# Then the container powers off.  systemd-analyze security's exposure of
# the unit is printed (a figure, not a check).

set -eu -o pipefail
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
self=$(readlink -f "$0")
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
	echo "SKIP: $*" >&2
	[[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]] && exit 99
	exit 77
}

# --- inside the container: the probe, run by probe.service ----------------
probe() {
	local out=/vc-out rc=0 i pid
	exec >"$out/probe.log" 2>&1
	set -x
	check() { echo "CHECK: $*" >>"$out/checks"; }
	virtckpt status --wait-synced 60 >"$out/status" 2>&1 || rc=$?
	check "status-rc $rc"
	# A client of the haclient group: libqb hands it ring buffers it owns
	# (chown under the unit's capability bounding set).
	check "haclient $(setpriv --reuid=hacluster --regid=haclient --init-groups \
		virtckpt status 2>&1 | sed -n 's/^state: //p')"
	check "active $(systemctl show -P ActiveState virtckptd.service)"
	check "rundir $(stat -c '%F %a %U:%G' /run/virtckpt 2>&1)"
	check "store $(stat -c '%F %a %U:%G' /var/lib/virtckpt 2>&1)"
	# The sandbox is in force: a read-only /usr and /etc (ProtectSystem=full:
	# the backups it runs write anywhere else), a seccomp filter, no new
	# privileges.
	pid=$(systemctl show -P MainPID virtckptd.service)
	check "usr-mount $(awk '$5 == "/usr" { split($6, o, ","); print o[1] }' "/proc/$pid/mountinfo" | tail -n 1)"
	check "etc-mount $(awk '$5 == "/etc" { split($6, o, ","); print o[1] }' "/proc/$pid/mountinfo" | tail -n 1)"
	check "seccomp $(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")"
	check "nnp $(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status")"
	{
		printf '<?xml version="1.0"?>\n<virtckpt-domain format="1">\n'
		printf '  <name>vmA</name>\n  <uuid>%s</uuid>\n' "$(cat /proc/sys/kernel/random/uuid)"
		printf '  <version generation="1" node="0"/>\n  <updated>%s</updated>\n' "$(date +%s)"
		printf '  <checkpoints>\n'
		for i in 1 2; do
			printf '    <checkpoint name="c%d"%s created="%d">\n' "$i" \
				"$([ "$i" = 2 ] && echo ' parent="c1"')" "$((1700000000 + i))"
			printf '      <disk name="vda" checkpoint="bitmap" bitmap="c%d"/>\n' "$i"
			printf '      <xml>&lt;domaincheckpoint&gt;&lt;name&gt;c%d&lt;/name&gt;%s&lt;creationTime&gt;%d&lt;/creationTime&gt;&lt;disks&gt;&lt;disk name="vda" checkpoint="bitmap" bitmap="c%d"/&gt;&lt;/disks&gt;&lt;/domaincheckpoint&gt;</xml>\n' \
				"$i" "$([ "$i" = 2 ] && echo '&lt;parent&gt;&lt;name&gt;c1&lt;/name&gt;&lt;/parent&gt;')" "$((1700000000 + i))" "$i"
			printf '    </checkpoint>\n'
		done
		printf '  </checkpoints>\n</virtckpt-domain>\n'
	} >/tmp/doc.xml
	rc=0
	virtckpt checkpoints import /tmp/doc.xml || rc=$?
	check "import-rc $rc"
	check "daemon-domains $(virtckpt status | sed -n 's/^domains: //p')"
	check "replica-files $(find /var/lib/virtckpt -type f -newer /tmp/doc.xml | grep -c .)"
	check "names $(virtckpt checkpoints show --names vmA | tr '\n' ' ')"

	touch /run/virtckpt/kept-across-restart
	systemctl restart virtckptd.service
	rc=0
	virtckpt status --wait-synced 60 >"$out/status2" 2>&1 || rc=$?
	check "status2-rc $rc"
	check "names2 $(virtckpt checkpoints show --names vmA | tr '\n' ' ')"
	check "kept $(ls /run/virtckpt)"
	journalctl --sync || :
	journalctl -b -u virtckptd.service -o cat >"$out/journal" 2>&1 || :
	check "start-lines $(grep -c 'starting, store' "$out/journal")"
	check "start-priority $(journalctl -b -u virtckptd.service -o export |
		awk '/^PRIORITY=/ { p = $0 } /^MESSAGE=.*starting, store/ { print p }' | sort -u | tr '\n' ' ')"
	systemd-analyze security --no-pager virtckptd.service >"$out/security" 2>&1 || :
	check "done"
}
if [[ "${1:-}" == --probe ]]; then
	probe
	exit 0
fi

# --- in a private mount namespace: the root, the boot ---------------------
inner() {
	local t=$1 r=$1/root w
	mkdir -p "$t/up" "$r" "$t/out"
	mount -t tmpfs tmpfs "$t/up"
	mkdir -p "$t/up/u" "$t/up/w"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$t/up/u,workdir=$t/up/w" "$r"
	make -s -C "$abs_top_builddir" install DESTDIR="$r" >"$t/install.log" 2>&1 ||
		fail "make install: $(tail -n 20 "$t/install.log")"
	# Only what the test needs starts.
	for w in "$r"/etc/systemd/system/*.wants; do
		find "$w" -mindepth 1 -maxdepth 1 -delete
	done
	rm -f "$r/etc/machine-id"
	w=$r/etc/systemd/system/multi-user.target.wants
	mkdir -p "$w"
	ln -s /lib/systemd/system/corosync.service "$w/"
	unit=$(cd "$r" && find usr lib -path '*/systemd/system/virtckptd.service' | head -n 1)
	[[ -n "$unit" ]] || fail "make install put no virtckptd.service under the root"
	ln -s "/$unit" "$w/virtckptd.service"
	mkdir -p "$r/etc/corosync"
	printf '%s\n' 'totem {' '	version: 2' '	cluster_name: virtckpt-unit' \
		'	transport: knet' '	crypto_cipher: none' '	crypto_hash: none' '}' \
		'nodelist {' '	node {' '		ring0_addr: 127.0.0.1' '		name: n1' \
		'		nodeid: 1' '	}' '}' 'quorum {' '	provider: corosync_votequorum' '}' \
		'logging {' '	to_syslog: yes' '	to_stderr: no' '}' >"$r/etc/corosync/corosync.conf"
	cp "$self" "$r/vc-probe.sh"
	cat >"$r/etc/systemd/system/vc-probe.service" <<-'UNIT'
	[Unit]
	After=virtckptd.service
	[Service]
	Type=oneshot
	ExecStart=/bin/bash /vc-probe.sh --probe
	ExecStartPost=/bin/systemctl poweroff --no-block
	UNIT
	ln -s /etc/systemd/system/vc-probe.service "$w/"
	timeout 300 systemd-nspawn -q -D "$r" --register=no --keep-unit \
		--link-journal=no --private-network --bind="$t/out:/vc-out" \
		-b systemd.unit=multi-user.target >"$t/boot.log" 2>&1 || :
}
if [[ "${1:-}" == --inner ]]; then
	inner "$2"
	exit 0
fi

[[ $(id -u) == 0 ]] || skip "needs root"
for p in systemd-nspawn corosync; do
	command -v "$p" >/dev/null || skip "$p not installed"
done
[[ -x /lib/systemd/systemd ]] || skip "systemd not installed"
[[ -f /lib/systemd/system/corosync.service ]] || skip "no corosync.service"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unshare -m --propagation private bash "$self" --inner "$tmp" ||
	fail "the container could not be set up"
checks=$tmp/out/checks
[[ -s "$checks" ]] || fail "the probe did not run; boot: $(tail -n 40 "$tmp/boot.log")"
cat "$checks"
has() {
	grep -qxF "CHECK: $1" "$checks" ||
		fail "expected '$1'; probe: $(tail -n 30 "$tmp/out/probe.log"); journal: $(cat "$tmp/out/journal" 2>/dev/null)"
}
has "status-rc 0"
grep -qx 'state: synced' "$tmp/out/status" || fail "not synced: $(cat "$tmp/out/status")"
has "active active"
if getent passwd hacluster >/dev/null && getent group haclient >/dev/null; then
	has "haclient synced"
fi
has "rundir directory 755 root:root"
has "store directory 700 root:root"
has "usr-mount ro"
has "etc-mount ro"
has "seccomp 2"
has "nnp 1"
has "import-rc 0"
has "daemon-domains 1"
grep -q '^CHECK: replica-files [1-9]' "$checks" || fail "nothing written in /var/lib/virtckpt"
has "names c1 c2 "
has "status2-rc 0"
has "names2 c1 c2 "
has "kept kept-across-restart"
has "start-lines 2"
has "start-priority PRIORITY=5 "
has "done"
# What systemd-analyze security still counts against the unit (for the log).
grep '✗' "$tmp/out/security" || :
grep -m1 -i "overall exposure" "$tmp/out/security" || head -n 5 "$tmp/out/security"
echo PASS
