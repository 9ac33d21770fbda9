#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What pcs and crmsh show of the agents: meta-data that parses, a longdesc
# short enough to read in "pcs resource describe" (the details are in the
# man pages), and the project's one version, the one virtckpt reports.

set -eu -o pipefail
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${VIRTCKPT:=$abs_top_srcdir/helper/virtckpt}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v xmllint >/dev/null || { echo "xmllint not installed" >&2; exit 77; }

version=$("$VIRTCKPT" --version | sed -n 's/^virtckpt //p')
[[ -n "$version" ]] || fail "virtckpt --version printed no version"
for agent in agent/checkpoints heartbeat/virtckptd; do
	meta=$(OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf} bash "$abs_top_srcdir/$agent" meta-data) ||
		fail "$agent meta-data failed"
	xmllint --noout - <<<"$meta" || fail "$agent: meta-data is not XML"
	got=$(xmllint --xpath 'string(/resource-agent/@version)' - <<<"$meta")
	[[ "$got" == "$version" ]] ||
		fail "$agent reports version '$got', virtckpt '$version'"
	long=$(xmllint --xpath 'string(/resource-agent/longdesc)' - <<<"$meta")
	[[ ${#long} -le 800 ]] ||
		fail "$agent: longdesc of ${#long} characters (at most 800: details go to its man page)"
	echo "$agent: version $got, longdesc ${#long} characters"
done
