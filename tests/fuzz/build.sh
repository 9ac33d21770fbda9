#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer targets with clang, ASan and UBSan.
#
#   tests/fuzz/build.sh SRCDIR BUILDDIR
#
# The helper libraries are built with the configured compiler (gcc by
# default) and without sanitizers, so the code under test is compiled
# again here, straight into each fuzz binary.  Objects go to
# BUILDDIR/tests/fuzz/obj and are rebuilt when their source is newer.
# CLANG names the compiler (default: clang).
set -euo pipefail

srcdir=$1
builddir=$2
CLANG=${CLANG:-clang}
out=$builddir/tests/fuzz
obj=$out/obj
mkdir -p "$obj"

# shellcheck disable=SC2207 # pkg-config output is a list of words
PKG_CFLAGS=($(pkg-config --cflags libxml-2.0 libqb nettle libxxhash gnutls))
# shellcheck disable=SC2207
PKG_LIBS=($(pkg-config --libs libxml-2.0 libqb nettle libxxhash gnutls))
# qsort (NULL, 0, ...) of an empty vector is undefined by the letter
# and harmless in glibc; a NULL that matters faults under ASan anyway.
# shellcheck disable=SC2054 # the commas are clang's
SAN=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -fno-sanitize=nonnull-attribute)
CFLAGS=(-g -O1 -fno-omit-frame-pointer "${SAN[@]}" -Wall -Wextra -Werror
  -Wno-unused-parameter -I"$builddir" -I"$srcdir/helper" -I"$srcdir/tests/fuzz"
  -DSTORE_DIR='"/nonexistent/store"' -DRUN_DIR='"/nonexistent/run"'
  "${PKG_CFLAGS[@]}")

# What each target links, beyond its own file: whole folders of helper/
# where the target may reach all of them (so a new file there is built
# without a change here), single files of backup/ (the rest of it needs
# libvirt and libnbd).
folder () {      # NAME [EXCLUDED-FILE]...
  local f name=$1
  shift
  for f in "$srcdir"/helper/"$name"/*.c; do
    f=${f#"$srcdir"/helper/}
    f=${f%.c}
    [[ " $* " == *" $f "* ]] || printf '%s ' "$f"
  done
}
COMMON=$(folder common)
STORE="$COMMON $(folder remote) $(folder store)"
declare -A TARGETS=(
  [document]="$STORE"
  [manifest]="$COMMON backup/checksum backup/manifest backup/manifest-check"
  [name-map]="$STORE"
  [qcow2]="$COMMON backup/checksum backup/manifest backup/manifest-check
    backup/qcow2-check backup/verify"
  [qcow2-check]="$COMMON backup/qcow2-check"
  [resume-record]="$COMMON backup/checksum backup/manifest backup/manifest-check
    backup/extent backup/resume-record"
  [qcow2-chain]="$COMMON backup/extent backup/qcow2-read backup/restore-map"
  [remote-reply]="$STORE"
  [replica]="$STORE $(folder replica replica/virtckptd replica/jobs replica/job-handover \
    replica/children replica/scheduler replica/remote-relay)"
)

compile () {     # SOURCE OBJECT
  if [ ! -e "$2" ] || [ "$1" -nt "$2" ] ||
     [ -n "$(find "$srcdir/helper" "$srcdir/tests/fuzz" -name '*.h' -newer "$2" -print -quit)" ]; then
    echo "  CLANG    ${1#"$srcdir"/}"
    "$CLANG" "${CFLAGS[@]}" -c "$1" -o "$2"
  fi
}

for t in "${!TARGETS[@]}"; do
  objs=()
  for s in ${TARGETS[$t]}; do
    o=$obj/${s//\//_}.o
    compile "$srcdir/helper/$s.c" "$o"
    objs+=("$o")
  done
  compile "$srcdir/tests/fuzz/fuzz-$t.c" "$obj/fuzz-$t.o"
  objs+=("$obj/fuzz-$t.o")
  newer=0
  for o in "${objs[@]}"; do
    [[ "$o" -nt "$out/fuzz-$t" ]] && newer=1
  done
  if [[ $newer == 1 || ! -e "$out/fuzz-$t" ]]; then
    echo "  LINK     tests/fuzz/fuzz-$t"
    "$CLANG" "${SAN[@]}" -o "$out/fuzz-$t" "${objs[@]}" "${PKG_LIBS[@]}"
  fi
done
