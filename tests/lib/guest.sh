# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/guest.sh - a tiny real Linux guest for tests that need a guest
# OS (filesystem freeze, a restored disk that boots).  Sourced after
# functions.sh.
#
# The guest is Debian's cloud kernel booted directly (libvirt <kernel>),
# and an initramfs holding the whole OS: busybox (busybox-static) and the
# guest agent (qemu-guest-agent with the host's copies of its libraries:
# same release).  The .debs are fetched with `apt-get download` into the
# cache, never installed; the build takes a few seconds and is cached under
# $VC_GUEST_CACHE, keyed by the package versions and this file.
#
# Why these parts: the cloud kernel has ext4 built in and an LZ4 bzImage
# (the generic one decompresses far slower under TCG); only virtio needs
# modules, loaded dependencies first (virtio_pci before virtio_blk and
# virtio_console).  There is no udev: the agent finds its virtio-serial
# port by name in /sys/class/virtio-ports.
#
# The guest's data disk (/dev/vda, ext4, mounted on /data) is made on the
# host by vc_guest_disk.  Kernel command line settings:
#   vg.mode=run     mount /data, start the agent and the writer (default)
#   vg.mode=idle    mount /data and start the agent only
# The writer writes record files /data/w/N (N = 1, 2, ...; content:
# vc_guest_record N), fsyncs each and its directory, then acknowledges N in
# /run/acked.  The agent's fsfreeze hook, called before the filesystems
# freeze, writes the last acknowledged N into /data/w/FROZEN_AT (synced):
# every record up to it must be in a copy taken while frozen.  If
# /run/freeze-delay holds SECONDS, the hook sleeps that long first, once (a
# slow application: the agent answers the freeze late).  The guest logs
# "vg[UPTIME]: ..." lines on its serial console.
#
# Host packages: e2fsprogs (mkfs.ext4, debugfs, e2fsck, dumpe2fs),
# binutils (objcopy), apt, dpkg, gzip.

: "${VC_GUEST_CACHE:=${abs_top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/guest-cache}"

# _vc_guest_versions PKG... : "PKG VERSION" lines, the versions apt would
# fetch.
_vc_guest_versions() {
	apt-cache show --no-all-versions "$@" 2>/dev/null |
		awk '/^Package: / { p = $2 } /^Version: / { print p, $2 }'
}

# _vc_guest_fetch DIR PKG : the .deb of PKG in DIR, downloaded once.
_vc_guest_fetch() {
	local dir=$1 pkg=$2 f
	f=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	if [[ -z "$f" ]]; then
		(cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			vc_fail "apt-get download $pkg failed (apt-get update?)"
		f=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
	fi
	printf '%s' "$f"
}

# vc_guest_build : builds (or finds in the cache) the guest; sets
# VC_GUEST_DIR (vmlinuz, initrd.img).
vc_guest_build() {
	local kpkg key lockfd
	kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	[[ -n "$kpkg" ]] || vc_fail "cannot tell the cloud kernel package (apt-get update?)"
	key=$({
		_vc_guest_versions "$kpkg" qemu-guest-agent busybox-static
		sha256sum "${BASH_SOURCE[0]}"
	} | sha256sum | cut -c1-16)
	VC_GUEST_DIR=$VC_GUEST_CACHE/$key
	mkdir -p "$VC_GUEST_CACHE/debs"
	# Tests running at once build it once.
	exec {lockfd}>"$VC_GUEST_CACHE/.lock"
	flock "$lockfd"
	if [[ ! -e "$VC_GUEST_DIR/initrd.img" ]]; then
		_vc_guest_make "$kpkg" || { exec {lockfd}>&-; vc_fail "building the guest failed"; }
		vc_log "guest built: $VC_GUEST_DIR"
		# Builds for other package versions (or an older guest.sh) are stale.
		find "$VC_GUEST_CACHE" -mindepth 1 -maxdepth 1 -type d \
			-regextype posix-extended -regex '.*/[0-9a-f]{16}' \
			! -name "$key" -exec rm -rf {} +
	else
		vc_log "guest cached: $VC_GUEST_DIR"
	fi
	exec {lockfd}>&-
}

# _vc_guest_make KERNEL_PACKAGE : builds into $VC_GUEST_DIR.
_vc_guest_make() {
	local kpkg=$1 debs=$VC_GUEST_CACHE/debs work r kver kmod m
	work=$(mktemp -d "$VC_GUEST_CACHE/.build.XXXXXX") || return 1
	r=$work/root
	mkdir -p "$work/k" "$work/q" "$work/b" "$r"
	dpkg-deb -x "$(_vc_guest_fetch "$debs" "$kpkg")" "$work/k" &&
		dpkg-deb -x "$(_vc_guest_fetch "$debs" qemu-guest-agent)" "$work/q" &&
		dpkg-deb -x "$(_vc_guest_fetch "$debs" busybox-static)" "$work/b" || return 1
	kver=$(ls "$work/k/lib/modules")
	kmod=$work/k/lib/modules/$kver
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,data,tmp,lib/modules,lib/x86_64-linux-gnu,lib64}
	cp "$work/b/bin/busybox" "$r/bin/"
	for m in $("$r/bin/busybox" --list-full); do
		[[ -e "$r/$m" ]] || ln -s /bin/busybox "$r/$m"
	done
	cp "$work/q/usr/sbin/qemu-ga" "$r/usr/sbin/"
	ldd "$r/usr/sbin/qemu-ga" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
		while read -r m; do cp -L "$m" "$r/lib/x86_64-linux-gnu/"; done
	cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
	# virtio modules, each after the modules it depends on
	_VC_GUEST_MODS=()
	for m in virtio_pci virtio_blk virtio_console; do
		_vc_guest_module "$kmod" "$m" "$r" || return 1
	done
	printf '%s\n' "${_VC_GUEST_MODS[@]}" >"$r/etc/modules"
	_vc_guest_scripts "$r"
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort |
		"$r/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 -n >"$work/initrd.img" || return 1
	mkdir -p "$work/out"
	cp "$work/k/boot/vmlinuz-$kver" "$work/out/vmlinuz"
	mv "$work/initrd.img" "$work/out/initrd.img"
	rm -rf "$VC_GUEST_DIR"
	mv "$work/out" "$VC_GUEST_DIR"
	rm -rf "$work"
}

# _vc_guest_module MODDIR NAME ROOT : NAME and its dependencies into ROOT.
_vc_guest_module() {
	local kmod=$1 m=${2//-/_} r=$3 ko d
	[[ " ${_VC_GUEST_MODS[*]} " != *" $m "* ]] || return 0
	ko=$(find "$kmod" -name "$m.ko" -o -name "${m//_/-}.ko" | head -n1)
	if [[ -z "$ko" ]]; then
		grep -qE "/($m|${m//_/-})\.ko$" "$kmod/modules.builtin" && return 0
		vc_log "guest: module $m neither built in nor shipped"
		return 1
	fi
	for d in $(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout |
		tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
		_vc_guest_module "$kmod" "$d" "$r" || return 1
	done
	cp "$ko" "$r/lib/modules/$m.ko"
	_VC_GUEST_MODS+=("$m")
}

# vc_guest_record N : the content of record N (also used in the guest).
vc_guest_record() {
	local i
	for ((i = 0; i < 64; i++)); do printf 'record %08d line %02d\n' "$1" "$i"; done
}

_vc_guest_scripts() {
	local r=$1
	echo "root:x:0:0:root:/:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
	cat >"$r/init" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko; done
mode=run
for a in $(cat /proc/cmdline); do
	case $a in vg.mode=*) mode=${a#vg.mode=} ;; esac
done
echo "$mode" >/run/mode
exec /sbin/init
EOF
	cat >"$r/etc/inittab" <<'EOF'
::sysinit:/etc/vg-rc
::respawn:/etc/vg-agent
::respawn:/etc/vg-writer
::shutdown:/bin/umount -a -r
EOF
	cat >"$r/etc/vg-log" <<'EOF'
log() { echo "vg[$(cut -d' ' -f1 /proc/uptime)]: $*" >/dev/console; }
EOF
	cat >"$r/etc/vg-rc" <<'EOF'
#!/bin/sh
. /etc/vg-log
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
if mount -t ext4 /dev/vda /data; then
	log "mounted /data"
else
	log "cannot mount /dev/vda"
fi
EOF
	cat >"$r/etc/vg-agent" <<'EOF'
#!/bin/sh
. /etc/vg-log
port=""
for i in $(seq 100); do
	for p in /sys/class/virtio-ports/*; do
		[ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
	done
	[ -z "$port" ] || break
	usleep 100000
done
[ -n "$port" ] || { log "no agent port"; exec sleep 100000; }
log "agent on $port"
exec /usr/sbin/qemu-ga -m virtio-serial -p "$port" -t /run --fsfreeze-hook=/etc/vg-freeze
EOF
	cat >"$r/etc/vg-freeze" <<'EOF'
#!/bin/sh
. /etc/vg-log
case $1 in
freeze)
	if [ -s /run/freeze-delay ]; then
		d=$(cat /run/freeze-delay)
		rm -f /run/freeze-delay
		log "freeze hook: sleeping $d s"
		sleep "$d"
	fi
	if [ -d /data/w ]; then
		cat /run/acked >/data/w/FROZEN_AT 2>/dev/null || echo 0 >/data/w/FROZEN_AT
		sync /data/w/FROZEN_AT /data/w
	fi
	log "freeze hook: freezing at record $(cat /data/w/FROZEN_AT 2>/dev/null)" ;;
thaw)
	log "freeze hook: thawed" ;;
esac
exit 0
EOF
	cat >"$r/etc/vg-writer" <<'EOF'
#!/bin/sh
. /etc/vg-log
[ "$(cat /run/mode)" = run ] && grep -q ' /data ' /proc/mounts || exec sleep 100000
mkdir -p /data/w
cd /data/w || exec sleep 100000
n=$(cat /run/acked 2>/dev/null || echo 0)
log "writer: after record $n"
while :; do
	n=$((n + 1))
	i=0
	while [ $i -lt 64 ]; do printf 'record %08d line %02d\n' $n $i; i=$((i + 1)); done >$n
	sync $n .
	echo $n >/run/acked
	usleep 200000
done
EOF
	chmod 0755 "$r/init" "$r"/etc/vg-{rc,agent,freeze,writer}
}

# vc_guest_disk IMAGE SIZE_MIB SEEDDIR : an ext4 data disk (qcow2) holding
# SEEDDIR's files.
vc_guest_disk() {
	local img=$1 mib=$2 seed=$3
	rm -f "$img.raw"
	truncate -s "${mib}M" "$img.raw"
	# No lazy init: the guest's ext4lazyinit would write on its own.
	mkfs.ext4 -q -F -b 4096 -L vgdata -E lazy_itable_init=0,lazy_journal_init=0 \
		-d "$seed" "$img.raw" || vc_fail "mkfs.ext4 $img failed"
	qemu-img convert -f raw -O qcow2 "$img.raw" "$img" || vc_fail "qemu-img convert $img failed"
	rm -f "$img.raw"
}

# vc_guest_xml NAME IMAGE [MODE] : a domain booting the guest from
# $VC_GUEST_DIR (copied into $VC_TMP: QEMU's user must read it), data disk
# IMAGE, agent channel, console in $VC_TMP/NAME.console.
vc_guest_xml() {
	local name=$1 img=$2 mode=${3:-run}
	[[ -e "$VC_TMP/vmlinuz" ]] || cp "$VC_GUEST_DIR/vmlinuz" "$VC_GUEST_DIR/initrd.img" "$VC_TMP/"
	cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$VC_TMP/vmlinuz</kernel>
    <initrd>$VC_TMP/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 8250.nr_uarts=1 vg.mode=$mode</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='$img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <serial type='file'>
      <source path='$VC_TMP/$name.console'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# vc_guest_agent HOST DOM JSON : the agent's answer to JSON (exit 1 if none).
vc_guest_agent() {
	vc_virsh "$1" qemu-agent-command "$2" "$3" 2>/dev/null
}

# vc_guest_wait_agent HOST DOM SECS : waits until the agent answers.
vc_guest_wait_agent() {
	local i
	for ((i = 0; i < $3 * 2; i++)); do
		vc_guest_agent "$1" "$2" '{"execute":"guest-ping"}' >/dev/null && return 0
		sleep 0.5
	done
	vc_log "console of $2: $(tail -n 20 "$VC_TMP/$2.console" 2>/dev/null | tr '\r' ' ')"
	vc_fail "the guest agent of $2 did not answer within $3 s"
}

# vc_guest_freeze_status HOST DOM : frozen or thawed.
vc_guest_freeze_status() {
	vc_guest_agent "$1" "$2" '{"execute":"guest-fsfreeze-status"}' |
		sed -n 's/.*"return":"\([a-z]*\)".*/\1/p'
}

# vc_guest_cat HOST DOM FILE : FILE's content in the guest (guest-exec).
vc_guest_cat() {
	local pid out i
	out=$(vc_guest_agent "$1" "$2" '{"execute":"guest-exec","arguments":{"path":"/bin/cat","arg":["'"$3"'"],"capture-output":true}}') ||
		vc_fail "guest-exec in $2 failed"
	pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<<"$out")
	for ((i = 0; i < 50; i++)); do
		out=$(vc_guest_agent "$1" "$2" '{"execute":"guest-exec-status","arguments":{"pid":'"$pid"'}}')
		if [[ "$out" == *'"exited":true'* ]]; then
			sed -n 's/.*"out-data":"\([^"]*\)".*/\1/p' <<<"$out" | base64 -d
			return 0
		fi
		sleep 0.2
	done
	vc_fail "cat $3 in $2 did not end"
}
