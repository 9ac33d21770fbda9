# shellcheck shell=bash
#
# tests/lib/virtckpt.sh - what virtckpt's tests share on top of functions.sh:
# running the CLI inside a test host and checking its exit status and its
# one-line errors.

# shellcheck source-path=SCRIPTDIR source=functions.sh
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

: "${VIRTCKPT:=${abs_top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/helper/virtckpt}"
[[ -x "$VIRTCKPT" ]] || { echo "virtckpt not built: $VIRTCKPT" >&2; exit 99; }

# Under VIRTCKPT_VALGRIND=1 every virtckpt run goes through memcheck; a
# memory error or a definite leak makes it exit 99, which fails the test.
VC_VALGRIND=()
if [[ "${VIRTCKPT_VALGRIND:-0}" == 1 ]]; then
	VC_VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite --show-leak-kinds=definite)
fi

# vck HOST ARGS... : virtckpt inside HOST, using the test's store.
vck() {
	local host=$1
	shift
	vc_on "$host" "${VC_VALGRIND[@]}" "$VIRTCKPT" --store "$VC_STORE" "$@"
}

# expect_exit CODE CMD... : runs CMD, fails the test unless it exits CODE.
# Its stderr is kept in $VC_ERR, its stdout in $VC_OUT.
expect_exit() {
	local want=$1 got=0
	shift
	VC_OUT=$("$@" 2>"$VC_TMP/stderr") || got=$?
	VC_ERR=$(<"$VC_TMP/stderr")
	if [[ "$got" != "$want" ]]; then
		vc_log "stdout: $VC_OUT"
		vc_log "stderr: $VC_ERR"
		vc_fail "expected exit $want, got $got: $*"
	fi
}

# expect_error CODE PATTERN CMD... : CMD exits CODE with exactly one
# line on stderr, matching the extended regex PATTERN.
expect_error() {
	local want=$1 pattern=$2
	shift 2
	expect_exit "$want" "$@"
	[[ $(wc -l <<<"$VC_ERR") -eq 1 ]] ||
		vc_fail "expected a one-line error from '$*', got: $VC_ERR"
	grep -qE -- "$pattern" <<<"$VC_ERR" ||
		vc_fail "error of '$*' does not match /$pattern/: $VC_ERR"
	vc_log "ok: $VC_ERR"
}

# checkpoint_names HOST DOM : libvirt's checkpoints of DOM, one per line,
# parents first.
checkpoint_names() {
	vc_virsh "$1" checkpoint-list "$2" --name --topological | sed '/^$/d'
}

# store_digest : a digest of every file in the store (names and bytes).
store_digest() {
	(cd "$VC_STORE" && find . -type f ! -name .lock -print0 | sort -z |
		xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}
