#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Self-test of tests/lib/cluster.sh: a 3-node corosync (knet) cluster in
# network namespaces on this machine.  All nodes join and are quorate; a
# partition n1 | n2 n3 leaves n1 alone without quorum and n2/n3 quorate; a
# heal brings 3 members back; SIGKILL of corosync on n3 leaves 2 members,
# a restart brings 3 back; then Pacemaker on all nodes until 3 are online
# (skipped when pacemakerd is not installed, or VC_SELFTEST_PACEMAKER=0),
# with libvirtd running in n1 (VC_SELFTEST_LIBVIRT=0: not);
# then a clean stop, and a check that no netns, veth, bridge, process of the
# nodes' PID namespaces or mount of the temporary directory is left.
#
# Prints the timings (VC_SELFTEST_TIMINGS=FILE also appends them there as
# "name seconds" lines).  VC_SELFTEST_FAIL=1 fails on purpose after the
# partition, to show that cleanup happens anyway.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/functions.sh
. "$(dirname "$0")/../lib/functions.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/cluster.sh
. "$(dirname "$0")/../lib/cluster.sh"

# What exists on the real host before: to compare after.
netns_of_all() {
	local p
	for p in /proc/[0-9]*; do readlink "$p/ns/net" 2>/dev/null || true; done | sort -u
}
links_before=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
named_netns_before=$(ip netns list 2>/dev/null | sort)

vc_init
timings=()
timing() {
	timings+=("$1 $2")
	vc_log "TIMING $1: ${2}s"
}

t0=$EPOCHREALTIME
vc_cluster_init 3
timing cluster_init "$VC_CLUSTER_INIT_SECS"
nodes=(n1 n2 n3)

# What the test will check is gone at the end.
declare -A pidns netns
for n in "${nodes[@]}" "$_VC_HUB"; do
	p=$(vc_host_pid "$n")
	pidns[$n]=$(readlink "/proc/$p/ns/pid")
	netns[$n]=$(readlink "/proc/$p/ns/net")
done
[[ "${netns[n1]}" != "$(readlink /proc/self/ns/net)" ]] || vc_fail "n1 is in the real netns"
[[ "${netns[n1]}" != "${netns[n2]}" ]] || vc_fail "n1 and n2 share a netns"
vc_assert_eq "n2" "$(vc_node_on n2 hostname)" "hostname of n2"
[[ "$(hostname)" != n2 ]] || vc_fail "real hostname changed"
vc_assert_eq "198.18.0.13 n3" "$(vc_node_on n1 getent hosts n3 | awk '{ print $1, $2 }')" \
	"n1 resolves n3"
vc_assert_eq "tini" "$(vc_node_on n3 cat /proc/1/comm)" "PID 1 in n3 is tini"
[[ "$(vc_node_on n1 ip -o -4 addr show dev eth0)" == *"198.18.0.11/24"* ]] ||
	vc_fail "n1 has no 198.18.0.11/24 on eth0"

t1=$EPOCHREALTIME
for n in "${nodes[@]}"; do vc_corosync_start "$n"; done
timing corosync_start_3 "$(vc_elapsed "$t1")"
for n in "${nodes[@]}"; do vc_wait_members "$n" 3; done
timing corosync_quorum_3 "$(vc_elapsed "$t1")"
timing cluster_up_total "$(vc_elapsed "$t0")"
vc_assert_eq "n1 n2 n3" "$(vc_corosync_members n2)" "n2 sees n1 n2 n3"

# Partition n1 | n2 n3.
t1=$EPOCHREALTIME
vc_partition "n1" "n2 n3"
vc_wait_members n1 1
vc_wait_quorate n1 no 5
vc_wait_members n2 2
vc_wait_members n3 2
timing partition_converged "$(vc_elapsed "$t1")"
vc_assert_eq "n2 n3" "$(vc_corosync_members n3)" "n3 sees n2 n3"
vc_assert_eq "n1" "$(vc_corosync_members n1)" "n1 sees itself only"
if [[ "${VC_SELFTEST_FAIL:-0}" == 1 ]]; then
	vc_fail "deliberate failure (VC_SELFTEST_FAIL=1)"
fi

t1=$EPOCHREALTIME
vc_heal
for n in "${nodes[@]}"; do vc_wait_members "$n" 3; done
timing heal_converged "$(vc_elapsed "$t1")"

# SIGKILL of corosync on n3, then a restart.
t1=$EPOCHREALTIME
vc_corosync_kill n3
vc_wait_members n1 2
vc_wait_members n2 2
timing kill_n3_converged "$(vc_elapsed "$t1")"
t1=$EPOCHREALTIME
vc_corosync_start n3
for n in "${nodes[@]}"; do vc_wait_members "$n" 3; done
timing restart_n3_converged "$(vc_elapsed "$t1")"

# libvirtd can run in a node (what later cluster tests need).
if [[ "${VC_SELFTEST_LIBVIRT:-1}" == 1 ]]; then
	t1=$EPOCHREALTIME
	vc_node_libvirtd_start n1
	timing libvirtd_start_n1 "$(vc_elapsed "$t1")"
	vc_assert_eq "n1" "$(vc_virsh n1 hostname)" "libvirtd in n1 calls its host n1"
fi

# Pacemaker.
if [[ "${VC_SELFTEST_PACEMAKER:-1}" == 1 ]] && command -v pacemakerd >/dev/null &&
	command -v crm_mon >/dev/null; then
	t1=$EPOCHREALTIME
	for n in "${nodes[@]}"; do vc_pacemaker_start "$n"; done
	vc_wait_online n1 3 120
	for n in n2 n3; do vc_wait_online "$n" 3 30; done
	timing pacemaker_all_online "$(vc_elapsed "$t1")"
	vc_assert_eq "false" \
		"$(vc_node_on n2 crm_attribute --type crm_config --name stonith-enabled --query --quiet)" \
		"stonith-enabled=false seen on n2"
	vc_node_on n1 crm_mon -1 | sed -n '/Node List/,$p' >&2
	t1=$EPOCHREALTIME
	for n in "${nodes[@]}"; do vc_pacemaker_stop "$n"; done
	timing pacemaker_stop "$(vc_elapsed "$t1")"
else
	vc_log "Pacemaker part skipped"
fi

# Clean stop of everything.
t1=$EPOCHREALTIME
for n in "${nodes[@]}"; do vc_corosync_stop "$n"; done
timing corosync_stop_3 "$(vc_elapsed "$t1")"
tmp=$VC_TMP
t1=$EPOCHREALTIME
vc_cluster_stop || vc_fail "vc_cluster_stop reported leftovers"
vc_cleanup || vc_fail "vc_cleanup reported leftovers"
timing teardown "$(vc_elapsed "$t1")"

# Nothing left on the real host.
left=""
all_netns=$(netns_of_all)
for n in "${!pidns[@]}"; do
	for p in /proc/[0-9]*; do
		if [[ "$(readlink "$p/ns/pid" 2>/dev/null)" == "${pidns[$n]}" ]]; then
			left+=" process ${p#/proc/} of $n;"
		fi
	done
	if grep -qxF -- "${netns[$n]}" <<<"$all_netns"; then
		left+=" netns of $n;"
	fi
done
links_after=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
[[ "$links_after" == "$links_before" ]] ||
	left+=" links changed: $(diff <(echo "$links_before") <(echo "$links_after") | tr '\n' ' ');"
[[ "$(ip netns list 2>/dev/null | sort)" == "$named_netns_before" ]] || left+=" named netns changed;"
if grep -lF -- "$tmp" /proc/[0-9]*/mountinfo 2>/dev/null | grep -q .; then
	left+=" mounts of $tmp;"
fi
[[ ! -e "$tmp" || "${VC_KEEP_TMP:-0}" == 1 ]] || left+=" $tmp still exists;"
[[ -z "$left" ]] || vc_fail "left behind:$left"
vc_log "ok: no process, netns, link or mount left"

for t in "${timings[@]}"; do
	printf 'TIMING %s\n' "$t"
	[[ -z "${VC_SELFTEST_TIMINGS:-}" ]] || printf '%s\n' "$t" >>"$VC_SELFTEST_TIMINGS"
done
echo PASS
