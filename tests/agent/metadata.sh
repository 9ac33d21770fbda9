#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What pcs and crmsh show of the agents: meta-data that parses, a longdesc
# short enough to read in "pcs resource describe" (the details are in the
# man pages), and configure's values: the project's one version (the one
# virtckpt reports), and as defaults the store and programs that configure
# chose (as virtckpt and virtckptd do).  The operations they advertise are
# the recommended ones: every configuration the man pages' examples and the
# admin guide show has a monitor with the advertised interval (crmsh, unlike
# pcs, does not add it), and the advertised timeouts cover what the agents'
# documentation asks of them with the default parameters, as do the
# examples that raise a parameter.

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${VIRTCKPT:=$abs_top_builddir/helper/virtckpt}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v xmllint >/dev/null || { echo "xmllint not installed" >&2; exit 77; }

# configure's values, as make has them.
# shellcheck disable=SC2016 # make expands them
IFS='|' read -r pkg_version storedir sbindir < <(
	make -s --no-print-directory -C "$abs_top_builddir" -f Makefile \
		-f <(printf '_vc_print_configured:\n\t@echo "$(PACKAGE_VERSION)|$(storedir)|$(sbindir)"\n') \
		_vc_print_configured)
[[ -n "$pkg_version" && "$storedir" == /* && "$sbindir" == /* ]] ||
	fail "cannot read configure's values from $abs_top_builddir/Makefile"

version=$("$VIRTCKPT" --version | sed -n 's/^virtckpt //p')
[[ "$version" == "$pkg_version" ]] ||
	fail "virtckpt --version says '$version', configure '$pkg_version'"

# The agents as installed: beside their built shellfuncs, in an OCF root
# without ocf-shellfuncs (meta-data needs none).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ocf/lib/virtckpt"
cp "$abs_top_builddir/agent/virtckpt-shellfuncs" "$tmp/ocf/lib/virtckpt/"

xp() { xmllint --xpath "$1" - <<<"$meta"; }
param_default() { xp "string(//parameter[@name='$1']/content/@default)"; }
# action_s ACTION ATTR: its timeout or interval in seconds.
action_s() {
	local v
	v=$(xp "string(//actions/action[@name='$1'][1]/@$2)")
	[[ "$v" =~ ^([0-9]+)s?$ ]] || fail "$agent: action $1 has $2 '$v'"
	echo "${BASH_REMATCH[1]}"
}

declare -A interval timeout
for agent in agent/checkpoints heartbeat/virtckptd; do
	name=${agent##*/}
	meta=$(OCF_ROOT=$tmp/ocf bash "$abs_top_srcdir/$agent" meta-data) ||
		fail "$agent meta-data failed"
	xmllint --noout - <<<"$meta" || fail "$agent: meta-data is not XML"
	got=$(xp 'string(/resource-agent/@version)')
	[[ "$got" == "$version" ]] ||
		fail "$agent reports version '$got', virtckpt and configure '$version'"
	long=$(xp 'string(/resource-agent/longdesc)')
	[[ ${#long} -le 800 ]] ||
		fail "$agent: longdesc of ${#long} characters (at most 800: details go to its man page)"
	interval[$name]=$(action_s monitor interval)
	timeout[$name]=$(action_s monitor timeout)
	case $name in
	checkpoints)
		[[ $(param_default virtckpt) == "$sbindir/virtckpt" ]] ||
			fail "$agent: virtckpt defaults to '$(param_default virtckpt)', not $sbindir/virtckpt"
		grep -qF "($storedir, the replica" <<<"$(xp "string(//parameter[@name='store']/longdesc)")" ||
			fail "$agent: the store's description does not say $storedir"
		need=$(($(param_default sync_timeout) + $(param_default domain_wait) + 30))
		for a in start migrate_from; do
			[[ $(action_s $a timeout) -ge $need ]] ||
				fail "$agent: $a timeout $(action_s $a timeout)s < sync_timeout + domain_wait + 30 s = ${need}s"
		done
		need=$(($(param_default backup_wait) + 40))
		for a in stop migrate_to; do
			[[ $(action_s $a timeout) -ge $need ]] ||
				fail "$agent: $a timeout $(action_s $a timeout)s < backup_wait + 40 s = ${need}s"
		done ;;
	virtckptd)
		[[ $(param_default binary) == "$sbindir/virtckptd" ]] ||
			fail "$agent: binary defaults to '$(param_default binary)', not $sbindir/virtckptd"
		[[ $(param_default cli) == "$sbindir/virtckpt" ]] ||
			fail "$agent: cli defaults to '$(param_default cli)', not $sbindir/virtckpt"
		[[ $(param_default store) == "$storedir" ]] ||
			fail "$agent: store defaults to '$(param_default store)', not $storedir"
		[[ $(action_s start timeout) -gt $(param_default sync_timeout) ]] ||
			fail "$agent: start timeout not above sync_timeout" ;;
	esac
	echo "$agent: version $got, longdesc ${#long} characters, monitor every ${interval[$name]}s (timeout ${timeout[$name]}s)"
done

# The recommended configurations: each command (continuation lines joined)
# that creates a resource of an agent (pcs resource create, crm configure
# primitive).
for doc in doc/ocf_virtckpt_checkpoints.examples doc/ocf_virtckpt_virtckptd.examples doc/admin-guide.md; do
	n=0
	while IFS= read -r cmd; do
		case $cmd in
		" pcs resource create "* | "pcs resource create "* | \
		" crm configure primitive "* | "crm configure primitive "*) ;;
		*) continue ;;
		esac
		case $cmd in
		*"ocf:virtckpt:checkpoints"*) name=checkpoints ;;
		*"ocf:virtckpt:virtckptd"*) name=virtckptd ;;
		*) continue ;;
		esac
		n=$((n + 1))
		[[ "$cmd" =~ op\ monitor\ interval=([0-9]+)s ]] ||
			fail "$doc: no monitor for $name in: $cmd"
		[[ ${BASH_REMATCH[1]} == "${interval[$name]}" ]] ||
			fail "$doc: monitor interval ${BASH_REMATCH[1]}s, $name advertises ${interval[$name]}s: $cmd"
		if [[ "$cmd" =~ op\ monitor\ interval=[0-9]+s\ timeout=([0-9]+)s ]]; then
			[[ ${BASH_REMATCH[1]} == "${timeout[$name]}" ]] ||
				fail "$doc: monitor timeout ${BASH_REMATCH[1]}s, $name advertises ${timeout[$name]}s: $cmd"
		fi
	done < <(sed -e ':a' -e '/\\$/{N;s/\\\n//;ba}' "$abs_top_srcdir/$doc" | tr -s ' \t' ' ')
	[[ $n -gt 0 ]] || fail "$doc: no configuration of an agent found"
	# Raised parameters and the timeouts that go with them.
	while IFS= read -r cmd; do
		if [[ "$cmd" =~ backup_wait=([0-9]+)\ op\ stop\ timeout=([0-9]+)s ]]; then
			[[ ${BASH_REMATCH[2]} -ge $((BASH_REMATCH[1] + 40)) ]] ||
				fail "$doc: stop timeout below backup_wait + 40 s: $cmd"
		fi
		if [[ "$cmd" =~ sync_timeout=([0-9]+)\ op\ start\ timeout=([0-9]+)s ]]; then
			[[ ${BASH_REMATCH[2]} -gt ${BASH_REMATCH[1]} ]] ||
				fail "$doc: start timeout not above sync_timeout: $cmd"
		fi
	done < <(sed -e ':a' -e '/\\$/{N;s/\\\n//;ba}' "$abs_top_srcdir/$doc" | tr -s ' \t' ' ')
	echo "$doc: $n agent configurations agree with the advertised operations"
done
echo PASS
