#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bad input gets a clear one-line error and a non-zero exit, and no store
# document is lost or changed: damaged, truncated, hostile and huge store
# documents, an unknown or shut-off domain, libvirtd unreachable, a
# read-only store, a full disk.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

vc_single_host h1

vc_make_image "$VC_TMP/vm.qcow2" 32M
vc_domain_xml vm "$VC_TMP/vm.qcow2" >"$VC_TMP/vm.xml"
vc_virsh "$H" create "$VC_TMP/vm.xml" >/dev/null
vc_virsh "$H" checkpoint-create-as vm c1 >/dev/null
expect_exit 0 vck "$H" checkpoints capture vm
doc=$VC_STORE/vm.xml
[[ -s "$doc" ]] || vc_fail "no store document $doc"
cp "$doc" "$VC_TMP/good.xml"
vc_virsh "$H" checkpoint-create-as vm c2 >/dev/null   # so capture has work to do

# Runs every command that reads or writes vm's document; each must fail
# with one line matching PATTERN and leave the store as it was.
all_fail_untouched() {
	local pattern=$1 what=$2 before
	before=$(store_digest)
	expect_error 1 "$pattern" vck "$H" checkpoints show vm
	expect_error 1 "$pattern" vck "$H" checkpoints show --xml vm
	expect_error 1 "$pattern" vck "$H" checkpoints capture vm
	expect_error 1 "$pattern" vck "$H" checkpoints redefine vm
	vc_assert_eq "$before" "$(store_digest)" "$what: store unchanged"
}

# --- damaged documents ---------------------------------------------------
head -c "$(($(stat -c %s "$VC_TMP/good.xml") / 2))" "$VC_TMP/good.xml" >"$doc"
all_fail_untouched "store document .*/vm.xml is damaged: malformed XML" "truncated document"

printf 'this is not XML\n' >"$doc"
all_fail_untouched "is damaged: malformed XML" "garbage document"

: >"$doc"
all_fail_untouched "is damaged: malformed XML" "empty document"

sed 's/format="1"/format="99"/' "$VC_TMP/good.xml" >"$doc"
all_fail_untouched "is damaged: unsupported document format '99'" "future format"

sed 's/<checkpoint name="c1"/<checkpoint name="zz"/' "$VC_TMP/good.xml" >"$doc"
all_fail_untouched "is damaged: checkpoint zz: attributes disagree with its XML" "tampered summary"

# External entities and DOCTYPEs are refused before parsing: the secret
# file must not leak into any output.
echo "TOP-SECRET-$$" >"$VC_TMP/secret"
{
	printf '<?xml version="1.0"?>\n<!DOCTYPE virtckpt-domain [\n'
	printf '  <!ENTITY leak SYSTEM "file://%s">\n]>\n' "$VC_TMP/secret"
	sed '1d; s|<name>vm</name>|<name>vm\&leak;</name>|' "$VC_TMP/good.xml"
} >"$doc"
all_fail_untouched "is damaged: XML with a DOCTYPE or ENTITY declaration is refused" "external entity"
if grep -q "TOP-SECRET-$$" <<<"$VC_OUT$VC_ERR"; then
	vc_fail "entity content leaked"
fi

{ printf '<?xml version="1.0"?>\n<!DOCTYPE virtckpt-domain>\n'; sed 1d "$VC_TMP/good.xml"; } >"$doc"
all_fail_untouched "XML with a DOCTYPE or ENTITY declaration is refused" "plain DOCTYPE"

# 100 MB: refused by size, without reading it.
{ sed '$d' "$VC_TMP/good.xml"; head -c 100M /dev/zero | tr '\0' ' '; echo '</virtckpt-domain>'; } >"$doc"
all_fail_untouched "store document .*/vm.xml is larger than 32 MiB: refusing to read it" "100 MB document"

# A document that claims another domain.
sed 's|<name>vm</name>|<name>other</name>|' "$VC_TMP/good.xml" >"$doc"
all_fail_untouched "store document .*/vm.xml names domain 'other', not 'vm'" "misfiled document"

# The other domains of a store with one damaged document stay listed.
cp "$VC_TMP/good.xml" "$doc"
vc_make_image "$VC_TMP/vm2.qcow2" 32M
vc_domain_xml vm2 "$VC_TMP/vm2.qcow2" >"$VC_TMP/vm2.xml"
vc_virsh "$H" create "$VC_TMP/vm2.xml" >/dev/null
expect_exit 0 vck "$H" checkpoints capture vm2
printf 'garbage' >"$doc"
expect_error 1 "vm.xml is damaged" vck "$H" checkpoints list
grep -q "^vm2 " <<<"$VC_OUT" || vc_fail "list hid vm2 because of vm's damaged document: $VC_OUT"
expect_exit 0 vck "$H" checkpoints forget vm
[[ ! -e "$doc" ]] || vc_fail "forget left the damaged document"
cp "$VC_TMP/good.xml" "$doc"

# --- unknown, shut off, unreachable ----------------------------------------
before=$(store_digest)
expect_error 1 "domain 'nosuch' is not defined on this host" vck "$H" checkpoints capture nosuch
expect_error 1 "domain 'nosuch' is not defined on this host" vck "$H" checkpoints redefine nosuch
expect_error 4 "no checkpoints stored for 'nosuch'" vck "$H" checkpoints show nosuch
expect_error 4 "no checkpoints stored for 'nosuch'" vck "$H" checkpoints forget nosuch

vc_domain_xml parked "$VC_TMP/vm2.qcow2" >"$VC_TMP/parked.xml"
vc_virsh "$H" define "$VC_TMP/parked.xml" >/dev/null
expect_error 1 "domain 'parked' is not running" vck "$H" checkpoints redefine parked

expect_error 1 "cannot connect to libvirt at qemu:///system\?socket=$VC_TMP/nosock: .*No such file" \
	vck "$H" -c "qemu:///system?socket=$VC_TMP/nosock" checkpoints capture vm
expect_error 1 "cannot connect to libvirt" \
	vck "$H" -c "qemu:///system?socket=$VC_TMP/nosock" checkpoints redefine vm
vc_assert_eq "$before" "$(store_digest)" "unknown/unreachable: store unchanged"

# --- read-only store, full disk --------------------------------------------
# A private mount namespace inside the host makes the store read-only (root
# ignores file modes) or puts it on a tiny, full tmpfs.
# shellcheck disable=SC2016
expect_error 1 "checkpoint store .* is not writable: Read-only file system" \
	vc_on "$H" unshare --mount sh -c 'mount --bind -o ro "$1" "$1" && exec "$2" --store "$1" checkpoints capture vm' \
	sh "$VC_STORE" "$VIRTCKPT"
vc_assert_eq "$before" "$(store_digest)" "read-only store: unchanged"

full=$VC_TMP/full
mkdir "$full"
# shellcheck disable=SC2016
expect_error 1 "cannot write .*/vm.xml: No space left on device" \
	vc_on "$H" unshare --mount sh -c '
		mount -t tmpfs -o size=256k tmpfs "$1" && cp -a "$2/." "$1/" &&
		(dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true) &&
		"$3" --store "$1" checkpoints capture vm
		rc=$?
		ls -A "$1" >"$4/full-listing"; cmp -s "$1/vm.xml" "$2/vm.xml" || echo changed >>"$4/full-listing"
		exit $rc' sh "$full" "$VC_STORE" "$VIRTCKPT" "$VC_TMP"
vc_assert_eq ".lock filler vm.xml vm2.xml" "$(xargs <"$VC_TMP/full-listing")" \
	"full disk: old document intact, no temp file left"
vc_log PASS
