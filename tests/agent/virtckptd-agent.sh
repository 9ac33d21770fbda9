#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The OCF agent heartbeat/virtckptd (ocf:virtckpt:virtckptd) in a real
# 3-node corosync lab.  Its actions run directly inside node n1, as
# Pacemaker would run them: a probe before start; start (synced, with the
# daemons of n2 and n3); start again; monitor; kill -9 of the daemon seen by
# monitor; start after it; corosync stopped under the daemon (monitor: an
# error with a reason) and restarted (monitor: fine again once the daemon
# reconnected); stop twice; a foreign daemon is not taken for the resource;
# a bad configuration; ocf-tester; start without corosync; probe and start
# on a Pacemaker Remote node (not installed there, with a reason).
#
# First, without a cluster: tools/ocf-man.sh makes ocf_virtckpt_virtckptd(7)
# from the agent's meta-data, and ocf_heartbeat_VirtualDomain(7) from
# another provider's agent; groff renders both without a warning.
#
# Then, unless VC_AGENT_PACEMAKER=0 or Pacemaker is missing, Pacemaker on
# all three nodes runs the agent as a clone: each node sees a private copy of
# /usr/lib/ocf/resource.d (a bind mount in the node's own mount namespace,
# so the real host is not touched) holding the agent as
# ocf:virtckpt:virtckptd; crm_resource reads its meta-data; the clone is
# started on every node, synced; a daemon killed with -9 is restarted by
# Pacemaker; target-role=Stopped stops it everywhere.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/daemon.sh
. "$(dirname "$0")/../lib/daemon.sh"

SRCDIR=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
AGENT=$SRCDIR/heartbeat/virtckptd
OCF_FUNCS=/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs
: "${VC_PACEMAKER_DC_DEADTIME:=2s}"

[[ -x "$AGENT" ]] || _vc_error "agent not found or not executable: $AGENT"
[[ -x "$VIRTCKPTD" ]] || _vc_error "virtckptd not built: $VIRTCKPTD"
vc_init

# --- the man page -----------------------------------------------------------
# check_page FILE WORD...: FILE renders without groff warnings and has WORDs.
check_page() {
	local page=$1 warnings text w
	shift
	warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>&1)
	[[ -z "$warnings" ]] || vc_fail "$page: groff warnings: $warnings"
	text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null)
	for w in "$@"; do
		grep -qF -- "$w" <<<"$text" || vc_fail "$page lacks '$w'"
	done
	vc_log "ok: $(basename "$page") renders, with: $*"
}
if command -v xsltproc >/dev/null && command -v groff >/dev/null && command -v man >/dev/null; then
	"$SRCDIR/tools/ocf-man.sh" -p virtckpt -s "virtckpt test" \
		-e "$SRCDIR/doc/ocf_virtckpt_virtckptd.examples" \
		-o "$VC_TMP/ocf_virtckpt_virtckptd.7" "$AGENT" ||
		vc_fail "tools/ocf-man.sh failed on the agent"
	check_page "$VC_TMP/ocf_virtckpt_virtckptd.7" "OCF_VIRTCKPT_VIRTCKPTD(7)" \
		"ocf_virtckpt_virtckptd - " "SUPPORTED PARAMETERS" sync_timeout \
		'(integer, default "60")' "Suggested minimum timeout: 90s." \
		"EXAMPLES" "pcs resource create virtckptd ocf:virtckpt:virtckptd" "SEE ALSO"
	if [[ -x /usr/lib/ocf/resource.d/heartbeat/VirtualDomain ]]; then
		"$SRCDIR/tools/ocf-man.sh" -o "$VC_TMP/ocf_heartbeat_VirtualDomain.7" \
			/usr/lib/ocf/resource.d/heartbeat/VirtualDomain ||
			vc_fail "tools/ocf-man.sh failed on VirtualDomain"
		check_page "$VC_TMP/ocf_heartbeat_VirtualDomain.7" "ocf_heartbeat_VirtualDomain - " \
			"(required, unique, string, no default)" "migrate_to"
	fi
else
	vc_log "xsltproc, groff or man missing: man page check skipped"
fi

[[ -r "$OCF_FUNCS" ]] || _vc_skip "$OCF_FUNCS missing (resource-agents not installed)"
# Private copies of the programs: a rebuild meanwhile does not disturb the test.
mkdir -p "$VC_TMP/bin"
install -m 0755 "$VIRTCKPT" "$VIRTCKPTD" "$VC_TMP/bin/"
VIRTCKPT=$VC_TMP/bin/virtckpt
VIRTCKPTD=$VC_TMP/bin/virtckptd
vc_corosync_cluster 3
nodes=(n1 n2 n3)

# ra NODE ACTION [VAR=VALUE...]: runs the agent's ACTION inside NODE with a
# clean environment like Pacemaker's (a recurring monitor unless
# OCF_RESKEY_CRM_meta_interval=0 is given).  Sets RA_RC and RA_ERR.
ra() {
	local n=$1 action=$2 dir
	shift 2
	dir=$VC_TMP/hosts/$n
	RA_RC=0
	vc_node_on "$n" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 \
		OCF_RESOURCE_INSTANCE=virtckptd OCF_RESOURCE_TYPE=virtckptd \
		OCF_RESOURCE_PROVIDER=virtckpt \
		OCF_RESKEY_binary="$VIRTCKPTD" OCF_RESKEY_cli="$VIRTCKPT" \
		OCF_RESKEY_store="$(node_store "$n")" OCF_RESKEY_pidfile="$dir/virtckptd.pid" \
		OCF_RESKEY_sync_timeout=30 OCF_RESKEY_CRM_meta_interval=10000 \
		OCF_RESKEY_CRM_meta_timeout=60000 \
		"$@" "$AGENT" "$action" >"$VC_TMP/ra.out" 2>"$VC_TMP/ra.err" || RA_RC=$?
	RA_ERR=$(<"$VC_TMP/ra.err")
}

# expect_ra RC WHAT NODE ACTION [VAR=VALUE...]
expect_ra() {
	local want=$1 what=$2
	shift 2
	ra "$@"
	if [[ "$RA_RC" != "$want" ]]; then
		vc_log "agent stderr: $RA_ERR"
		vc_fail "$what: $2 on $1 exited $RA_RC, expected $want"
	fi
	vc_log "ok: $what: $2 on $1 -> $RA_RC"
}

# expect_reason PATTERN: the last action gave an exit reason matching it.
expect_reason() {
	local reason
	reason=$(sed -n 's/^ocf-exit-reason://p' <<<"$RA_ERR" | tail -n 1)
	[[ -n "$reason" ]] || vc_fail "no ocf-exit-reason (stderr: $RA_ERR)"
	grep -qE -- "$1" <<<"$reason" || vc_fail "exit reason '$reason' does not match '$1'"
	vc_log "ok: reason: $reason"
}

# wait_ra RC SECS NODE ACTION...: repeats the action until it exits RC.
wait_ra() {
	local want=$1 secs=$2 t0
	shift 2
	t0=$EPOCHREALTIME
	while :; do
		ra "$@"
		[[ "$RA_RC" == "$want" ]] && break
		if (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$secs" 'BEGIN { print (b - a >= t) }'))); then
			vc_log "agent stderr: $RA_ERR"
			vc_fail "$2 on $1 did not exit $want within ${secs}s (last: $RA_RC)"
		fi
		sleep 0.5
	done
	vc_log "ok: $2 on $1 -> $want after $(vc_elapsed "$t0")s"
}

agent_pid() { cat "$VC_TMP/hosts/$1/virtckptd.pid"; }

# members_of NODE: the number of members its daemon reports.
members_of() { vnck "$1" status | sed -n 's/^members://p' | wc -w; }

# No virtckptd daemon left in NODE (the agent's own processes are named
# virtckptd too: look at what runs the binary).
no_daemon_in() {
	local left
	left=$(vc_node_on "$1" pgrep -f -- "^$VIRTCKPTD " || true)
	[[ -z "$left" ]] || vc_fail "virtckptd still runs in $1: $left"
}

# --- the agent's actions on n1 --------------------------------------------
vc_daemon_start n2
vc_daemon_start n3
vc_wait_synced n2 2

expect_ra 7 "probe before start" n1 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 7 "probe without the binary" n1 monitor OCF_RESKEY_CRM_meta_interval=0 \
	OCF_RESKEY_binary=/nonexistent/virtckptd OCF_RESKEY_cli=/nonexistent/virtckpt
expect_ra 0 "validate-all" n1 validate-all
expect_ra 6 "args with -f" n1 validate-all OCF_RESKEY_args="-v -f"
expect_reason "must not contain '-f'"
expect_ra 6 "remote_port not a port" n1 validate-all OCF_RESKEY_remote_port=70000
expect_ra 6 "relative authkey" n1 validate-all OCF_RESKEY_authkey=authkey
expect_reason "authkey must be an absolute path"
expect_ra 6 "relative store" n1 validate-all OCF_RESKEY_store=store
expect_ra 5 "missing binary" n1 validate-all OCF_RESKEY_binary=/nonexistent/virtckptd
expect_ra 6 "globally-unique clone" n1 validate-all OCF_RESKEY_CRM_meta_globally_unique=true

t0=$EPOCHREALTIME
expect_ra 0 "start" n1 start
vc_log "start took $(vc_elapsed "$t0")s"
vc_assert_eq synced "$(vnck n1 status | sed -n 's/^state: //p')" "n1 is synced right after start"
vc_assert_eq 3 "$(members_of n1)" "n1 sees 3 members"
pid1=$(agent_pid n1)
expect_ra 0 "start again" n1 start
vc_assert_eq "$pid1" "$(agent_pid n1)" "start again keeps the same daemon"
expect_ra 0 "monitor" n1 monitor
expect_ra 0 "probe of a started daemon" n1 monitor OCF_RESKEY_CRM_meta_interval=0

# A daemon that stays syncing (a stub virtckpt says so): fine at first, an
# error once it lasts longer than sync_timeout; one that does not answer is
# an error too.
stub=$VC_TMP/virtckpt-stub
cat >"$stub" <<STUB
#!/bin/sh
# What virtckpt status would say: STUB_STATE, once the daemon's pid file exists.
[ -s "$VC_TMP/hosts/\$STUB_NODE/\$STUB_PIDFILE" ] || exit 1
[ "\$STUB_STATE" = none ] && exit 1
printf 'node: 1\nstate: %s\nmembers: 1 2 3\nlast-error: -\n' "\$STUB_STATE"
STUB
chmod 0755 "$stub"
stub_env=(OCF_RESKEY_cli="$stub" OCF_RESKEY_sync_timeout=1 STUB_NODE=n1
	STUB_PIDFILE=virtckptd.pid)
expect_ra 0 "monitor while syncing" n1 monitor "${stub_env[@]}" STUB_STATE=syncing
grep -q 'is syncing' <<<"$RA_ERR" || vc_fail "no log line for a syncing daemon: $RA_ERR"
sleep 2.2
expect_ra 1 "monitor syncing longer than sync_timeout" n1 monitor "${stub_env[@]}" STUB_STATE=syncing
expect_reason "syncing for [0-9]+s, more than sync_timeout"
expect_ra 1 "monitor of a daemon that does not answer" n1 monitor "${stub_env[@]}" STUB_STATE=none
expect_reason "does not answer"
expect_ra 0 "monitor once synced again" n1 monitor
[[ ! -e "$VC_TMP/hosts/n1/virtckptd.pid.syncing" ]] || vc_fail "syncing record left once synced"

# A start that does not get synced within sync_timeout fails with a reason
# and leaves no daemon behind (a second resource on n1, own pid file: its
# daemon cannot serve IPC beside the first and exits, or the stub keeps
# saying syncing; either way start must fail cleanly).
stub_env=(OCF_RESKEY_cli="$stub" OCF_RESKEY_sync_timeout=2 STUB_NODE=n1
	STUB_PIDFILE=other.pid OCF_RESKEY_pidfile="$VC_TMP/hosts/n1/other.pid")
expect_ra 7 "probe of a second resource" n1 monitor "${stub_env[@]}" STUB_STATE=syncing \
	OCF_RESKEY_CRM_meta_interval=0
expect_ra 1 "start never synced" n1 start "${stub_env[@]}" STUB_STATE=syncing
expect_reason "not synced within 2s|exited at start|did not write its pid file"
[[ ! -e "$VC_TMP/hosts/n1/other.pid" ]] || vc_fail "the failed start left its pid file"
vc_assert_eq 1 "$(vc_node_on n1 pgrep -f -- "^$VIRTCKPTD " | wc -l)" "the failed start left no second daemon"

# Replication works through the daemon the agent started.
make_doc agentvm 3 "$VC_TMP/doc.xml"
vnck n1 -q checkpoints import "$VC_TMP/doc.xml"
vc_assert_eq 1 "$(vnck n3 status | sed -n 's/^domains: //p')" "a document imported on n1 is on n3"

# kill -9: not running; the stale pid file does not hurt a new start.
vc_node_on n1 kill -KILL "$pid1"
for ((i = 0; i < 50; i++)); do
	vc_node_on n1 test -d "/proc/$pid1" || break
	sleep 0.1
done
expect_ra 7 "monitor after kill -9" n1 monitor
expect_ra 0 "start after kill -9" n1 start
[[ "$(agent_pid n1)" != "$pid1" ]] || vc_fail "start after kill -9 kept the old pid"
vc_wait_synced n1 3 10

# corosync stops under the daemon: an error with a reason, not "stopped".
vc_corosync_stop n1
wait_ra 1 15 n1 monitor
expect_reason "not in the CPG group"
vc_corosync_start n1
vc_wait_members n1 3
wait_ra 0 30 n1 monitor
vc_wait_synced n1 3 10

pid2=$(agent_pid n1)
expect_ra 0 "stop" n1 stop
vc_node_on n1 test ! -d "/proc/$pid2" || vc_fail "daemon $pid2 still runs after stop"
[[ ! -e "$VC_TMP/hosts/n1/virtckptd.pid" ]] || vc_fail "pid file left after stop"
expect_ra 0 "stop again" n1 stop
expect_ra 7 "monitor after stop" n1 monitor
no_daemon_in n1

# A daemon that runs but never gets synced (the stub says syncing): start
# fails after sync_timeout with a reason, and stops the daemon it started.
expect_ra 1 "start, daemon never synced" n1 start OCF_RESKEY_cli="$stub" \
	OCF_RESKEY_sync_timeout=2 STUB_NODE=n1 STUB_PIDFILE=virtckptd.pid STUB_STATE=syncing
expect_reason "not synced within 2s \(state: syncing"
no_daemon_in n1
[[ ! -e "$VC_TMP/hosts/n1/virtckptd.pid" ]] || vc_fail "the failed start left its pid file"

# A daemon this agent did not start (n2's, started by hand) is not the
# resource's: the probe says stopped, and start refuses with a reason.
expect_ra 7 "probe beside a foreign daemon" n2 monitor OCF_RESKEY_CRM_meta_interval=0 \
	OCF_RESKEY_pidfile="$VC_TMP/hosts/n2/agent.pid"
expect_ra 1 "start beside a foreign daemon" n2 start \
	OCF_RESKEY_pidfile="$VC_TMP/hosts/n2/agent.pid"
expect_reason "did not start"

# --- ocf-tester -----------------------------------------------------------
if command -v ocf-tester >/dev/null; then
	rc=0
	vc_node_on n1 env OCF_ROOT=/usr/lib/ocf ocf-tester -n virtckptd \
		-o binary="$VIRTCKPTD" -o cli="$VIRTCKPT" \
		-o store="$(node_store n1)" -o pidfile="$VC_TMP/hosts/n1/virtckptd.pid" \
		"$AGENT" >"$VC_TMP/ocf-tester.out" 2>&1 || rc=$?
	sed 's/^/  ocf-tester: /' "$VC_TMP/ocf-tester.out" >&2
	[[ $rc == 0 ]] || vc_fail "ocf-tester exited $rc"
	grep -q 'passed all tests' "$VC_TMP/ocf-tester.out" || vc_fail "ocf-tester did not pass"
	vc_log "ok: ocf-tester passed"
	no_daemon_in n1
else
	vc_log "ocf-tester not installed (resource-agents-dev?): skipped"
fi

# --- start without corosync ------------------------------------------------
vc_corosync_stop n1
t0=$EPOCHREALTIME
expect_ra 1 "start without corosync" n1 start
expect_reason "corosync is not running"
vc_log "failed in $(vc_elapsed "$t0")s"
no_daemon_in n1

# --- a Pacemaker Remote node: pacemaker-remoted, no corosync ---------------
# (a stand-in process of that name: the agent looks for it)
# shellcheck disable=SC2016
vc_node_on n1 bash -c '(exec -a pacemaker-remoted sleep 300) </dev/null >/dev/null 2>&1 & echo $! >"$1"' \
	bash "$VC_TMP/remoted.pid"
expect_ra 7 "probe on a Pacemaker Remote node" n1 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 5 "start on a Pacemaker Remote node" n1 start
expect_reason "Pacemaker Remote node .*full nodes only.*#kind ne remote"
no_daemon_in n1
vc_node_on n1 kill "$(cat "$VC_TMP/remoted.pid")"
vc_corosync_start n1
vc_wait_members n1 3

# --- Pacemaker runs it as a clone -----------------------------------------
if [[ "${VC_AGENT_PACEMAKER:-1}" != 1 ]]; then
	vc_log "Pacemaker part skipped (VC_AGENT_PACEMAKER=${VC_AGENT_PACEMAKER})"
	exit 0
fi
if ! command -v pacemakerd >/dev/null || ! command -v crm_mon >/dev/null ||
	! command -v cibadmin >/dev/null; then
	vc_log "Pacemaker not installed: Pacemaker part skipped"
	exit 0
fi
vc_daemon_stop n2
vc_daemon_stop n3

# A private /usr/lib/ocf/resource.d in each node, with the agent added.
for n in "${nodes[@]}"; do
	rd=$VC_TMP/hosts/$n/resource.d
	cp -a /usr/lib/ocf/resource.d "$rd"
	mkdir -p "$rd/virtckpt"
	install -m 0755 "$AGENT" "$rd/virtckpt/virtckptd"
	install -m 0644 "${abs_top_builddir:-${AGENT%/*/*}}/agent/virtckpt-shellfuncs" "$rd/virtckpt/virtckpt-shellfuncs"
	vc_node_on "$n" mount --bind "$rd" /usr/lib/ocf/resource.d
done
! findmnt /usr/lib/ocf/resource.d >/dev/null || vc_fail "a mount on the real host's /usr/lib/ocf/resource.d"

vc_node_on n1 crm_resource --show-metadata ocf:virtckpt:virtckptd >"$VC_TMP/meta.xml" ||
	vc_fail "crm_resource --show-metadata ocf:virtckpt:virtckptd failed"
grep -q '<parameter name="sync_timeout"' "$VC_TMP/meta.xml" ||
	vc_fail "crm_resource's meta-data lacks sync_timeout"
vc_log "ok: crm_resource --show-metadata ocf:virtckpt:virtckptd"

for n in "${nodes[@]}"; do vc_pacemaker_start "$n"; done
vc_wait_online n1 3 120

# The store and pid file are in each node's private /run.
vc_node_on n1 cibadmin --create -o resources --xml-text "
<clone id=\"virtckptd-clone\">
  <primitive id=\"virtckptd\" class=\"ocf\" provider=\"virtckpt\" type=\"virtckptd\">
    <instance_attributes id=\"virtckptd-ia\">
      <nvpair id=\"virtckptd-binary\" name=\"binary\" value=\"$VIRTCKPTD\"/>
      <nvpair id=\"virtckptd-cli\" name=\"cli\" value=\"$VIRTCKPT\"/>
      <nvpair id=\"virtckptd-store\" name=\"store\" value=\"/run/virtckpt-lab/store\"/>
    </instance_attributes>
    <operations>
      <op id=\"virtckptd-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/>
    </operations>
  </primitive>
  <meta_attributes id=\"virtckptd-clone-meta\">
    <nvpair id=\"virtckptd-clone-interleave\" name=\"interleave\" value=\"true\"/>
  </meta_attributes>
</clone>" || vc_fail "cannot create the clone"

# started_on: the nodes where crm_mon shows the clone's instance started.
started_on() {
	vc_node_on n1 timeout 10 crm_mon -1 --output-as=xml 2>/dev/null |
		awk '/<resource id="virtckptd(:[0-9]+)?"/ && /role="Started"/ && /active="true"/ { r = 1; next }
			r && /<node name=/ { match($0, /name="[^"]*"/); print substr($0, RSTART + 6, RLENGTH - 7) }
			/<\/resource>/ { r = 0 }' | sort | xargs
}

wait_started() {
	local want=$1 secs=$2 t0 got=""
	t0=$EPOCHREALTIME
	while :; do
		got=$(started_on || true)
		[[ "$got" == "$want" ]] && break
		if (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$secs" 'BEGIN { print (b - a >= t) }'))); then
			vc_node_on n1 crm_mon -1 >&2 || true
			vc_fail "clone not started on [$want] within ${secs}s (started on: [$got])"
		fi
		sleep 0.5
	done
	vc_log "ok: clone started on [$want] after $(vc_elapsed "$t0")s"
}

wait_started "n1 n2 n3" 120
vc_node_on n1 crm_mon -1 | sed 's/^/  crm_mon: /' >&2
for n in "${nodes[@]}"; do
	out=$(vc_node_on "$n" "$VIRTCKPT" status)
	grep -q '^state: synced$' <<<"$out" || vc_fail "$n: daemon not synced: $out"
	vc_assert_eq 3 "$(sed -n 's/^members://p' <<<"$out" | wc -w)" "$n: Pacemaker's daemon synced with 3 members"
done

# A daemon killed with -9 is found by the monitor and restarted.
pid=$(vc_node_on n2 cat /run/resource-agents/virtckptd.pid)
vc_node_on n2 kill -KILL "$pid"
t0=$EPOCHREALTIME
for ((i = 0; ; i++)); do
	new=$(vc_node_on n2 cat /run/resource-agents/virtckptd.pid 2>/dev/null || true)
	if [[ -n "$new" && "$new" != "$pid" ]] &&
		vc_node_on n2 "$VIRTCKPT" status --wait-synced 1 >/dev/null 2>&1; then
		break
	fi
	((i < 600)) || vc_fail "Pacemaker did not restart the daemon killed on n2"
	sleep 0.1
done
vc_log "ok: Pacemaker restarted the daemon on n2 (pid $pid -> $new) in $(vc_elapsed "$t0")s"
vc_node_on n1 crm_resource --cleanup --resource virtckptd-clone >/dev/null 2>&1 || true
vc_node_on n1 crm_resource --wait --timeout=60s || vc_fail "the cluster did not settle after the cleanup"

vc_node_on n1 crm_resource --resource virtckptd-clone --meta \
	--set-parameter target-role --parameter-value Stopped >/dev/null ||
	vc_fail "cannot set target-role=Stopped"
vc_node_on n1 crm_resource --wait --timeout=60s || vc_fail "the cluster did not settle after target-role=Stopped"
wait_started "" 10
for n in "${nodes[@]}"; do no_daemon_in "$n"; done
vc_log "ok: target-role=Stopped stopped the daemon on every node"

for n in "${nodes[@]}"; do vc_pacemaker_stop "$n"; done
vc_log "PASS"
