#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Debian packages, as an admin gets them: built by dpkg-buildpackage
# from a clean copy of the source (what git tracks, as it is in the working
# tree; the working tree is never written to), checked by lintian (an error
# fails the test), then installed with dpkg -i into a private root: an
# overlay of / whose upper layer is a tmpfs, in a mount namespace of its
# own, with the source and build trees hidden under empty directories.
# There the installed files tell the single-host story with no source
# tree: --version, the man pages, the agents' meta-data from the OCF root,
# the unit through systemd-analyze verify, the completion, and capture,
# re-creation, redefine, backups and restores compared byte for byte,
# against a private libvirtd, with the default store.  Last, the packages
# are purged.  Nothing on the machine changes.
#
# Needs root, dpkg-buildpackage, lintian and the build dependencies
# (debian/control; ./quickstart deps installs them): skipped (77) without
# them, an error (99) under VIRTCKPT_REQUIRE_INTEGRATION=1.

set -eu -o pipefail
export VC_TEST_NAME=deb-install
self=$(readlink -f "$0")

# Seconds since the test started, across the shells it runs itself in.
: "${VC_DEB_T0:=$EPOCHSECONDS}"
export VC_DEB_T0
log() { printf 'deb-install [%ss]: %s\n' "$((EPOCHSECONDS - VC_DEB_T0))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
skip() {
	if [[ "${VIRTCKPT_REQUIRE_INTEGRATION:-0}" == 1 ]]; then
		log "ERROR: $* (VIRTCKPT_REQUIRE_INTEGRATION=1)"
		exit 99
	fi
	log "SKIP: $*"
	exit 77
}

# --- 3. in the private root: the installed packages ----------------------
#
# Runs with / the overlay; /tmp/vc-pkg holds the .debs and a copy of the
# test harness saved before the trees were hidden.
installed() {
	local stage=/tmp/vc-pkg hidden=$1 d out unit ver
	for d in $hidden; do
		[[ -z "$(ls -A "$d" 2>/dev/null)" ]] || fail "$d is not hidden"
	done
	! dpkg-query -W virtckpt >/dev/null 2>&1 || fail "virtckpt is installed before the test"
	# A clean root: nothing of a "make install" either.
	rm -rf /usr/local/sbin/virtckpt* /usr/local/lib/ocf/resource.d/virtckpt \
		/usr/local/share/man/man8/virtckpt*
	! command -v virtckpt >/dev/null || fail "a virtckpt is in PATH before the install"

	log "dpkg -i $(cd "$stage/debs" && echo *.deb)"
	out=$(dpkg -i "$stage"/debs/*.deb 2>&1) || fail "dpkg -i: $out"
	ver=$(dpkg-query -W -f '${Version}' virtckpt)
	[[ "$(command -v virtckpt)" == /usr/sbin/virtckpt ]] ||
		fail "virtckpt is not /usr/sbin/virtckpt: $(command -v virtckpt)"
	[[ "$(virtckpt --version)" == "virtckpt $ver" ]] ||
		fail "virtckpt --version says '$(virtckpt --version)', the package is $ver"
	[[ "$(/usr/sbin/virtckptd --version)" == "virtckptd $ver" ]] ||
		fail "virtckptd --version says '$(/usr/sbin/virtckptd --version)', the package is $ver"
	# Both default to the store the package documents, whatever the prefix.
	for p in virtckpt virtckptd; do
		"$p" --help | grep -q /var/lib/virtckpt || fail "$p's default store is not /var/lib/virtckpt"
	done

	for page in virtckpt virtckptd ocf_virtckpt_checkpoints ocf_virtckpt_virtckptd; do
		out=$(man -w "$page" 2>&1) || fail "man -w $page: $out"
		[[ "$out" == /usr/share/man/man[78]/"$page".[78].gz ]] || fail "man -w $page: $out"
	done
	man virtckpt 2>/dev/null | grep -q "checkpoints redefine" || fail "man virtckpt does not render"
	log "ok: --version ($ver), man pages"

	for agent in checkpoints virtckptd; do
		out=$(OCF_ROOT=/usr/lib/ocf /usr/lib/ocf/resource.d/virtckpt/$agent meta-data) ||
			fail "$agent meta-data failed"
		grep -q "<resource-agent name=\"$agent\" version=\"$ver\"" <<<"$out" ||
			fail "$agent meta-data (not version $ver): $out"
		# They find the packaged virtckpt without a parameter.
		grep -q 'default="/usr/sbin/virtckpt"' <<<"$out" ||
			fail "$agent: virtckpt does not default to /usr/sbin/virtckpt"
		# Well-formed only: they use OCF 1.1 attributes (reloadable,
		# unique-group) that Debian 12's resource-agents schema predates.
		xmllint --noout - <<<"$out" 2>"$stage/xml.err" ||
			fail "$agent meta-data is not XML: $(cat "$stage/xml.err")"
	done
	log "ok: both agents' meta-data from /usr/lib/ocf"

	unit=/lib/systemd/system/virtckptd.service
	[[ -f "$unit" ]] || fail "no $unit"
	out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$unit" 2>&1) ||
		fail "systemd-analyze verify $unit: $out"
	# Units it names that this root lacks (corosync, pacemaker) are not ours.
	! grep -v 'corosync.service\|pacemaker.service' <<<"$out" | grep -q . ||
		fail "systemd-analyze verify $unit: $out"
	[[ -z "$(find /etc/systemd/system -name virtckptd.service 2>/dev/null)" ]] ||
		fail "installing enabled virtckptd.service"
	log "ok: $unit verifies, installed disabled"
	# Scheduled backups without a cluster: enabled by the admin only.
	units=(/lib/systemd/system/virtckpt-schedule.timer /lib/systemd/system/virtckpt-schedule.service)
	for unit in "${units[@]}"; do
		[[ -f "$unit" ]] || fail "no $unit"
	done
	out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "${units[@]}" 2>&1) ||
		fail "systemd-analyze verify ${units[*]}: $out"
	! grep -v 'libvirtd.service\|virtqemud.service' <<<"$out" | grep -q . ||
		fail "systemd-analyze verify ${units[*]}: $out"
	[[ -z "$(find /etc/systemd/system -name 'virtckpt-schedule.*' 2>/dev/null)" ]] ||
		fail "installing enabled the schedule timer"
	log "ok: the schedule timer and service verify, installed disabled"
	# The runtime directory, from tmpfiles.d at install (and at boot).
	[[ -f /usr/lib/tmpfiles.d/virtckpt.conf ]] || fail "no /usr/lib/tmpfiles.d/virtckpt.conf"
	if command -v systemd-tmpfiles >/dev/null; then
		out=$(stat -c '%F %a %U:%G' /run/virtckpt 2>&1) || :
		[[ "$out" == "directory 755 root:root" ]] ||
			fail "after dpkg -i, /run/virtckpt: $out"
		log "ok: dpkg -i created /run/virtckpt (tmpfiles.d)"
	fi

	VIRTCKPT=/usr/sbin/virtckpt \
		VIRTCKPT_COMPLETION=/usr/share/bash-completion/completions/virtckpt \
		bash "$stage/completion.sh" >"$stage/completion.log" 2>&1 ||
		fail "completion of the installed virtckpt: $(cat "$stage/completion.log")"
	log "ok: bash completion from /usr/share/bash-completion/completions"

	# The story runs in its own shell: the harness's traps are its own.
	VIRTCKPT=/usr/sbin/virtckpt bash "$self" --story "$stage" || exit
	log "ok: the single-host story with the installed virtckpt"

	out=$(dpkg --purge resource-agents-virtckpt virtckpt 2>&1) || fail "dpkg --purge: $out"
	for d in /usr/sbin/virtckpt /usr/sbin/virtckptd /usr/lib/ocf/resource.d/virtckpt \
		/usr/lib/ocf/lib/virtckpt "$unit" /usr/share/bash-completion/completions/virtckpt; do
		[[ ! -e "$d" ]] || fail "$d is left after dpkg --purge"
	done
	log "ok: dpkg --purge removes both packages"
}

# The single-host story, told by the installed binaries: a transient
# domain backed up, its checkpoints recorded in the default store, lost
# when it is re-created, redefined, backed up incrementally; each backup
# restores to exactly what the disk held.
story() {
	local stage=$1
	# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
	. "$stage/lib/virtckpt.sh"
	vc_init
	H=pkg-host
	local B=$VC_TMP/backups names
	vc_host_start "$H"
	ref_domain "$H" vm disk 64
	ref_write "$H" vm vda disk 0x11 1M 1M
	expect_exit 0 vc_on "$H" virtckpt backup vm -o "$B"
	grep -q "backup 1 (full) of vm done" <<<"$VC_ERR" || vc_fail "backup 1: $VC_ERR"
	ref_snapshot disk 1
	ref_write "$H" vm vda disk 0x22 8M 1M
	expect_exit 0 vc_on "$H" virtckpt checkpoints capture vm
	names=$(vc_on "$H" virtckpt checkpoints show --names vm)
	[[ -n "$names" ]] || vc_fail "nothing captured"
	[[ -d /var/lib/virtckpt ]] || vc_fail "the default store /var/lib/virtckpt was not used"

	# Pacemaker re-creates the domain: libvirt forgets its checkpoints.
	vc_virsh "$H" destroy vm >/dev/null
	vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
	[[ -z "$(checkpoint_names "$H" vm)" ]] || vc_fail "the re-created vm kept its checkpoints"
	expect_exit 0 vc_on "$H" virtckpt checkpoints redefine vm
	vc_assert_eq "$names" "$(checkpoint_names "$H" vm)" "redefine brought the chain back"

	expect_exit 0 vc_on "$H" virtckpt backup vm -o "$B"
	grep -q "backup 2 (inc) of vm done" <<<"$VC_ERR" || vc_fail "backup 2: $VC_ERR"
	vc_assert_eq 1048576 "$(backup_read "$B" 2)" "the incremental read only the 1 MiB written"
	ref_snapshot disk 2
	expect_exit 0 vc_on "$H" virtckpt verify "$B"
	for id in 1 2; do
		expect_exit 0 vc_on "$H" virtckpt restore "$B" -o "$VC_TMP/r$id" --until "$id"
		assert_same_disk "$VC_TMP/r$id/vda.qcow2" "$VC_TMP/disk.ref@$id" "restore of backup $id"
	done
}

# --- 2. in a mount namespace of its own: the private root ----------------
#
# enter TMP SRC... : an overlay of / (upper layer: a tmpfs under TMP)
# becomes the root of this mount namespace; each SRC (the source and build
# trees) is covered by an empty directory; then installed() runs there.
enter() {
	local tmp=$1 r d hidden=""
	shift
	mount --make-rprivate /
	mount -t tmpfs -o mode=0755 tmpfs "$tmp/ns"
	mkdir "$tmp/ns/upper" "$tmp/ns/work" "$tmp/ns/root" "$tmp/ns/empty"
	r=$tmp/ns/root
	mount -t overlay overlay -o "lowerdir=/,upperdir=$tmp/ns/upper,workdir=$tmp/ns/work" "$r"
	mount --rbind /dev "$r/dev"
	mount --rbind /sys "$r/sys"
	mount -t proc proc "$r/proc"
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$r/run"
	mkdir -m 1777 "$r/run/lock"
	# A fresh /tmp hides TMP itself (the build) and any other test's files.
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"
	for d in "$@"; do
		[[ -d "$r$d" ]] || continue
		mount --bind -o ro "$tmp/ns/empty" "$r$d"
		hidden+=" $d"
	done
	cp -a "$tmp/stage" "$r/tmp/vc-pkg"
	cd "$r"
	mkdir .old-root
	pivot_root . .old-root
	cd /
	umount -l /.old-root
	rmdir /.old-root
	env -u abs_top_srcdir -u abs_top_builddir -u VIRTCKPT \
		bash /tmp/vc-pkg/deb-install.sh --installed "$hidden"
}

case ${1:-} in
--enter) shift; enter "$@"; exit ;;
--installed) installed "$2"; exit ;;
--story) story "$2"; exit ;;
esac

# --- 1. on the machine: build and lintian --------------------------------

src=$(cd "${abs_top_srcdir:-$(dirname "$self")/../..}" && pwd)
build=$(cd "${abs_top_builddir:-$src}" && pwd)
[[ $EUID -eq 0 ]] || skip "needs root (mount namespace, dpkg -i)"
for tool in dpkg-buildpackage dpkg-checkbuilddeps lintian unshare pivot_root \
	systemd-analyze xmllint man virsh libvirtd; do
	command -v "$tool" >/dev/null || skip "$tool not installed"
done
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip "no overlay file system"
out=$(cd "$src" && dpkg-checkbuilddeps 2>&1) || skip "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virtckpt-deb.XXXXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
mkdir "$tmp/ns" "$tmp/stage" "$tmp/stage/debs"

# A clean copy: what git tracks (and new files it would track), as they are
# in the working tree, without anything built; else (a release tarball) the
# whole source directory.
ver=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$src/debian/changelog")
copy=$tmp/virtckpt-$ver
mkdir "$copy"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$copy" -xf -
else
	cp -a "$src/." "$copy/"
	chmod -R u+w "$copy"        # make distcheck's source is read-only
fi

log "dpkg-buildpackage -us -uc -b in $copy"
# Not make check's variables: its TESTS would become the package's.
(cd "$copy" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	-u abs_top_srcdir -u abs_top_builddir -u VIRTCKPT \
	DEB_BUILD_OPTIONS="parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
	tail -40 "$tmp/build.log" >&2
	fail "dpkg-buildpackage failed"
}
changes=$(echo "$tmp"/virtckpt_"$ver"_*.changes)
[[ -f "$changes" ]] || fail "no .changes: $(ls "$tmp")"
log "built: $(cd "$tmp" && echo ./*.deb)"

# lintian: errors fail, the rest is shown.
lintian --fail-on error --display-level '>=pedantic' "$changes" \
	>"$tmp/lintian.log" 2>&1 || {
	cat "$tmp/lintian.log" >&2
	fail "lintian reports errors"
}
grep -v 'running with root privileges' "$tmp/lintian.log" | sed 's/^/lintian: /' >&2 || true
log "ok: lintian reports no errors"

cp "$tmp"/virtckpt_"$ver"_*.deb "$tmp"/resource-agents-virtckpt_"$ver"_all.deb "$tmp/stage/debs/"
cp "$self" "$tmp/stage/deb-install.sh"
cp "$src/tests/cli/completion.sh" "$tmp/stage/completion.sh"
cp -r "$src/tests/lib" "$tmp/stage/lib"

unshare --mount --propagation private -- bash "$self" --enter "$tmp" "$src" "$build"
log "PASS"
