# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/pacemaker.sh - virtual machines under Pacemaker in the lab
# cluster of cluster.sh, with virtckptd (daemon.sh) on every node and the
# agent ocf:virtckpt:checkpoints beside ocf:heartbeat:VirtualDomain.
#
#     #!/bin/bash
#     set -eu -o pipefail
#     . "$(dirname "$0")/../lib/pacemaker.sh"
#     vc_pcmk_lab 3
#     ref_disk vm1 64 && mv "$VC_TMP/vm1.qcow2" "$VC_SHARED/"
#     vc_vm_create vm1 vm1.qcow2 --node n1
#     vc_vm_move vm1 n2
#
# Every node (n1..nN) runs, in its own namespaces (cluster.sh):
#   - virtlogd and libvirtd --listen (TCP, no auth, no TLS: lab only), for
#     live migration between nodes (migration_transport=tcp);
#   - corosync, virtckptd (replica in hosts/NODE/store, pid file
#     hosts/NODE/virtckptd.pid, so daemon.sh's functions work on it), then
#     pacemakerd.  virtckptd is started by vc_daemon_start (daemon.sh), or
#     with VC_PCMK_DAEMON=agent by Pacemaker: a clone virtckptd-clone of
#     ocf:virtckpt:virtckptd (heartbeat/virtckptd; store and pidfile per
#     node by #uname rules), ordered before every NAME-ckpt;
#   - a private copy of /usr/lib/ocf/resource.d with the provider
#     "virtckpt" added (checkpoints -> agent/checkpoints, and virtckptd ->
#     heartbeat/virtckptd when it exists), bind-mounted over
#     /usr/lib/ocf/resource.d in the node's mount namespace only, and so
#     is a private copy of /usr/lib/ocf/lib with the agents' shared
#     helpers added (virtckpt/virtckpt-shellfuncs, where "make install"
#     puts them).  Nothing is written to the real /usr.
# Images and domain XML live in $VC_SHARED ($VC_TMP/shared), which every
# node sees (the nodes share the real filesystem but for their private
# directories).
#
# Cluster options: stonith-enabled=false (no fencing in the lab),
# no-quorum-policy=stop (the default, set explicitly: the tests never lose
# quorum, and a node that did should not run VMs), resource-stickiness=100
# (no reshuffling of running VMs when resources are added).
#
# Functions:
#   vc_pcmk_cluster N [M]        the whole cluster above; sets
#                                VC_PCMK_START_SECS.  With M, also M
#                                Pacemaker Remote nodes r1..rM (see
#                                pacemaker-remote.sh): libvirtd and
#                                pacemaker-remoted, no corosync, no
#                                virtckptd
#   vc_pcmk_lab N [M]            vc_init and vc_pcmk_cluster N [M]
#   vc_pcmk_timing WHAT          the scenario's TIMING line
#   vc_vm_create NAME IMAGE [OPTION]...
#                                domain NAME (TCG, transient, XML in
#                                $VC_SHARED/NAME.xml, IMAGE relative to
#                                $VC_SHARED) as resource NAME
#                                (ocf:heartbeat:VirtualDomain, force_stop,
#                                migration_transport=tcp,
#                                migrate_options=--unsafe) and NAME-ckpt
#                                (ocf:virtckpt:checkpoints, store = each
#                                node's replica by a rule on #uname, so
#                                that nothing reaches the real host's
#                                default store), ordered after and
#                                colocated with NAME.  Waits until both
#                                run; sets VC_VM_NODE.  Options:
#       --no-migrate             allow-migrate=false (moves stop and start
#                                the VM); default: true (live migration)
#       --no-ckpt                NAME alone, without NAME-ckpt (vc_vm_move
#                                then waits for NAME only)
#       --ckpt-migrate           allow-migrate=true on NAME-ckpt too, as in
#                                agent/README.md: Pacemaker runs its
#                                migrate_to/migrate_from.  Default: false,
#                                NAME-ckpt is stopped (capture) before the
#                                VM migrates and started (redefine) after
#                                (see "live migration" below)
#       --ckpt-monitor SECS      interval of NAME-ckpt's monitor (default 10)
#       --node NODE              location preference (score 50) for NODE
#       --disk IMAGE             a further disk (vdb, vdc, ...)
#   vc_vm_setup NAME MIB NODE [OPTION]...
#                                a disk of MIB MiB with a reference
#                                (ref_disk) as $VC_SHARED/NAME.qcow2, and
#                                vc_vm_create NAME ... --node NODE OPTION...;
#                                fails unless NAME started on NODE; sets
#                                VC_BACKUPS=$VC_SHARED/backups/NAME
#   vc_vm_backup NODE NAME ID LEVEL
#                                a backup of NAME on NODE into its
#                                VC_BACKUPS that must be backup ID at LEVEL;
#                                keeps the reference under tag ID
#   vc_sched_nodes NAME ID       the nodes whose virtckptd says it made
#                                backup ID of NAME for its schedule, one
#                                a line (exactly one when all is well)
#   vc_sched_log NAME            what the nodes' virtckptd logged about
#                                NAME's schedule (jobs, their output), each
#                                line after its node: for diagnostics
#   vc_last_backup NODE NAME     "ID HOST RESULT" of the last backup of
#                                NAME as NODE's store records it (status
#                                --json); nothing when none is
#   vc_node_id NODE              NODE's corosync node id (virtckptd status)
#   vc_rsc_meta RSC NAME VALUE   set a meta attribute of resource RSC
#   vc_rsc_param RSC NAME VALUE  set a parameter of resource RSC
#   vc_vm_node NAME              the node where crm_mon says NAME runs
#                                (empty if none)
#   vc_rsc_node RSC              the same for any resource
#   vc_vm_move NAME NODE         crm_resource --move, waits until NAME and
#                                NAME-ckpt run on NODE and the cluster is
#                                idle; sets VC_MOVE_SECS
#   vc_vm_ops RSC NODE           the operations Pacemaker ran for RSC on
#                                NODE (task names, in call order; the CIB
#                                keeps the last one of each kind)
#   vc_wait_idle [TIMEOUT]       until no action is pending (crm_resource
#                                --wait), then checks no action failed
#   vc_pcmk_failures             failed actions (crm_mon), one per line
#   vc_node_attr NODE NAME       the value of the transient node attribute
#                                NAME of NODE (attrd_updater -Q), empty
#                                when it has none
#   vc_wait_node_attr NODE NAME REGEX
#                                until that value matches the extended
#                                REGEX (VC_PCMK_TIMEOUT), fails otherwise
#   vc_crm NODE CMD...           a Pacemaker command on a node (same as
#                                vc_node_on; just for readability)
#   vc_node_crash NODE [DOM]...  NODE "crashes": one SIGKILL to all its
#                                Pacemaker daemons (and the agents they
#                                run), its corosync and the QEMU of each
#                                DOM; libvirtd, virtlogd and virtckptd stay.
#                                Waits until they are gone; sets
#                                VC_CRASH_T0 (EPOCHREALTIME of the kill)
#   vc_pcmk_kill NODE            one SIGKILL to all Pacemaker daemons of
#                                NODE and the agents they run (corosync
#                                and the domains stay); waits until gone
#   vc_wait_running_off NODE RSC...
#                                until every RSC runs, all on one node
#                                other than NODE (crm_mon still shows them
#                                on a crashed node until the cluster
#                                notices); sets VC_VM_NODE.  Unlike
#                                vc_vm_move it does not fail on failed
#                                actions: the caller looks at them
# Knobs: VC_PCMK_TIMEOUT (default 150 s) bounds each wait;
# VC_PCMK_DAEMON=manual|agent (default manual) see above;
# VC_PACEMAKER_DC_DEADTIME (cluster.sh) defaults to 2s here: all nodes
# online about 4 s after pacemakerd starts instead of about 23 s.
#
# Live migration and the checkpoints resource.  With allow-migrate=true on
# both resources (--ckpt-migrate), the transition for "ckpt after VM" is:
# VM migrate_to (source), VM migrate_from (target), ckpt migrate_to
# (source), ckpt migrate_from (target).  So ckpt's migrate_to runs when the
# domain has already left the source (it captures nothing), and its
# recurring monitor on the source, which is only cancelled when ckpt's own
# migrate_to runs, can fire in between, see the domain gone, return "not
# running" and make Pacemaker record a failure and recover (seen 3 times
# in 4 migrations with a 1 s interval; about window/interval with longer
# ones).  Without --ckpt-migrate, ckpt is stopped (captures with the domain
# still there) before the VM's migrate_to and started (redefines) after its
# migrate_from: no window.  Tests using --ckpt-migrate avoid the window
# with a --ckpt-monitor interval longer than the test.
#
# The real host's default store (virtckpt --help) must be the same after
# the test as before: the EXIT trap fails the test otherwise.
#
# Cleanup: the EXIT trap first sets maintenance-mode=true (so that no node
# recovers a VM while the nodes are torn down), then stops the cluster as
# cluster.sh does.  On failure it prints crm_mon and the failed actions;
# the logs are in hosts/NODE/root/var/log/pacemaker/pacemaker.log,
# hosts/NODE/log/{corosync.log,libvirtd.log,virtckptd.log} and
# hosts/NODE/root/var/log/libvirt/qemu/DOM.log (VC_KEEP_TMP=1 keeps them).

# shellcheck source-path=SCRIPTDIR source=daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

: "${VC_PACEMAKER_DC_DEADTIME:=2s}"
VC_SHARED=""
VC_PCMK_TIMEOUT=${VC_PCMK_TIMEOUT:-150}
VC_PCMK_DAEMON=${VC_PCMK_DAEMON:-manual}
_VC_SRCDIR=${abs_top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
_VC_OCF_RD=/usr/lib/ocf/resource.d
_VC_OCF_LIB=/usr/lib/ocf/lib

vc_crm() {
	vc_node_on "$@"
}

# The first node still running Pacemaker: where Pacemaker commands are
# run (a node whose Pacemaker was killed answers nothing); without one, the
# first node still running.
_vc_pcmk_node() {
	local n f
	for n in "${VC_NODES[@]}"; do
		f=$(_vc_hostdir "$n")/pacemakerd.pid
		if vc_host_pid "$n" >/dev/null && [[ -s "$f" ]] &&
			_vc_node_alive "$n" "$(<"$f")"; then
			printf '%s\n' "$n"
			return 0
		fi
	done
	for n in "${VC_NODES[@]}"; do
		if vc_host_pid "$n" >/dev/null; then
			printf '%s\n' "$n"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- cleanup --

# On failure: crm_mon (with failed actions and fail counts) and, per node,
# the last messages of the agents and Pacemaker's errors.
_vc_pcmk_diagnose() {
	local n=$1 node log
	vc_log "cluster state at failure (crm_mon on $n):"
	vc_on "$n" timeout 10 crm_mon -1 -r -f >&2 2>&1 || true
	for node in "${VC_NODES[@]}"; do
		log=$(_vc_hostdir "$node")/root/var/log/pacemaker/pacemaker.log
		[[ -r "$log" ]] || continue
		vc_log "last agent messages and errors in $node's pacemaker.log:"
		grep -E '(VirtualDomain|checkpoints|virtckptd)\(|error:|warning:' "$log" |
			awk '{ k = $0; sub(/^[A-Za-z]+ +[0-9]+ [0-9:.]+ /, "", k)
				gsub(/[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/, "", k) }
				!seen[k]++' |
			tail -n 20 | sed "s/^/    $node: /" >&2 || true
	done
}

# The real host's default store (virtckpt --help names it): the lab must
# never write there, each node has its replica under $VC_TMP.
_vc_default_store_state() {
	local dir
	# shellcheck disable=SC2016 # a literal $ in the help text
	dir=$("$VIRTCKPT" --help | sed -n 's/.*checkpoint store (default: \(.*\), or \$VIRTCKPT_STORE).*/\1/p')
	if [[ -d "$dir" ]]; then
		printf '%s: ' "$dir"
		find "$dir" -mindepth 1 -printf '%P %s %T@\n' | sort | xargs
	else
		printf '%s: absent\n' "$dir"
	fi
}

_vc_pcmk_exit_trap() {
	local rc=$? n after
	if [[ -n "$_VC_MAIN_PID" && "$BASHPID" == "$_VC_MAIN_PID" ]] &&
		n=$(_vc_pcmk_node 2>/dev/null); then
		if ((rc != 0)); then
			_vc_pcmk_diagnose "$n"
		fi
		# No recovery while the nodes go away one by one.
		vc_on "$n" timeout 10 crm_attribute --type crm_config \
			--name maintenance-mode --update true >/dev/null 2>&1 || true
	fi
	vc_cluster_stop || true
	if [[ -n "${_VC_DEFAULT_STORE_BEFORE:-}" && "$BASHPID" == "$_VC_MAIN_PID" ]]; then
		after=$(_vc_default_store_state)
		if [[ "$after" != "$_VC_DEFAULT_STORE_BEFORE" ]]; then
			vc_log "FAIL: the lab wrote into the real host's default store: before [$_VC_DEFAULT_STORE_BEFORE], after [$after]"
			rc=1
		fi
	fi
	vc_cleanup || true
	exit "$rc"
}

# ------------------------------------------------------------- the cluster --

# The private OCF resource directory: a copy of the real one (2.5 MB of
# scripts; relative symlinks such as heartbeat/.ocf-shellfuncs ->
# ../../lib/heartbeat/... still resolve once it is mounted in place) plus
# the provider virtckpt, made of symlinks to the project's agents.
_vc_pcmk_ocf_dir() {
	local d=$VC_TMP/ocf/resource.d
	mkdir -p "$d"
	cp -a "$_VC_OCF_RD/." "$d/" || _vc_error "cannot copy $_VC_OCF_RD"
	rm -rf "${d:?}/virtckpt"
	mkdir -m 0755 "$d/virtckpt"
	ln -s "$_VC_SRCDIR/agent/checkpoints" "$d/virtckpt/checkpoints"
	if [[ -f "$_VC_SRCDIR/heartbeat/virtckptd" ]]; then
		ln -s "$_VC_SRCDIR/heartbeat/virtckptd" "$d/virtckpt/virtckptd"
	fi
	printf '%s\n' "$d"
}

# The private OCF library directory: a copy of the real one plus
# virtckpt/virtckpt-shellfuncs (a symlink to the built one), where "make
# install" puts the helpers the agents share: the lab's agents find them
# as installed ones do.
_vc_pcmk_ocf_lib() {
	local d=$VC_TMP/ocf/lib
	mkdir -p "$d"
	cp -a "$_VC_OCF_LIB/." "$d/" || _vc_error "cannot copy $_VC_OCF_LIB"
	rm -rf "${d:?}/virtckpt"
	mkdir -m 0755 "$d/virtckpt"
	ln -s "${abs_top_builddir:-$_VC_SRCDIR}/agent/virtckpt-shellfuncs" "$d/virtckpt/virtckpt-shellfuncs"
	printf '%s\n' "$d"
}

# libvirtd of node NAME listens on TCP (port 16509, no auth): for
# "virsh migrate qemu+tcp://TARGET/system".
_vc_pcmk_libvirt_conf() {
	local conf
	conf="$(_vc_hostdir "$1")/root/etc/libvirt/libvirtd.conf"
	printf '\n# lab: migration over TCP without authentication\n%s\n%s\n%s\n' \
		'listen_tls = 0' 'listen_tcp = 1' 'auth_tcp = "none"' >>"$conf"
}

# virtckptd as Pacemaker runs it: an anonymous clone of
# ocf:virtckpt:virtckptd, with each node's store and pid file chosen by a
# rule on #uname.  Waits until every instance runs and is synced.
_vc_pcmk_daemon_clone() {
	local count=$1 node xml t0
	t0=$EPOCHREALTIME
	xml=$(
		printf '<clone id="virtckptd-clone">'
		printf '<primitive id="virtckptd" class="ocf" provider="virtckpt" type="virtckptd">'
		printf '<instance_attributes id="virtckptd-ia">'
		_vc_nv virtckptd-binary binary "$VIRTCKPTD"
		_vc_nv virtckptd-cli cli "$VIRTCKPT"
		_vc_nv virtckptd-sync sync_timeout 60
		printf '</instance_attributes>'
		for node in "${VC_NODES[@]}"; do
			_vc_node_ia virtckptd "$node" store "$(node_store "$node")" \
				pidfile "$VC_TMP/hosts/$node/virtckptd.pid"
		done
		printf '<operations>'
		printf '<op id="virtckptd-start" name="start" interval="0s" timeout="90s"/>'
		printf '<op id="virtckptd-stop" name="stop" interval="0s" timeout="30s"/>'
		printf '<op id="virtckptd-monitor" name="monitor" interval="10s" timeout="20s"/>'
		printf '</operations></primitive>'
		printf '<meta_attributes id="virtckptd-clone-meta">'
		_vc_nv virtckptd-clone-interleave interleave true
		printf '</meta_attributes></clone>'
	)
	_vc_cib_add resources "$xml"
	((${#VC_REMOTE_NODES[@]} == 0)) || _vc_pcmk_daemon_full_only
	_vc_wait_clone virtckptd "$count" "$VC_PCMK_TIMEOUT"
	for node in "${VC_NODES[@]:0:count}"; do
		vc_wait_synced "$node" "$count"
	done
	vc_log "virtckptd-clone (ocf:virtckpt:virtckptd) started and synced on ${VC_NODES[*]:0:count} in $(vc_elapsed "$t0")s"
}

# _vc_cib_add SECTION XML : adds XML to the CIB section (resources,
# constraints); fails the test with the element's id otherwise.
_vc_cib_add() {
	local section=$1 xml=$2 n id
	n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
	id=${xml#*id=\"}
	id=${id%%\"*}
	vc_on "$n" cibadmin --create -o "$section" --xml-text "$xml" ||
		vc_fail "cannot add $id to the CIB's $section"
}

# _vc_colocate ID RSC WITH / _vc_order ID FIRST THEN : mandatory constraints.
_vc_colocate() {
	_vc_cib_add constraints "<rsc_colocation id=\"$1\" rsc=\"$2\" with-rsc=\"$3\" score=\"INFINITY\"/>"
}
_vc_order() {
	_vc_cib_add constraints "<rsc_order id=\"$1\" first=\"$2\" then=\"$3\" kind=\"Mandatory\"/>"
}

# _vc_ops ID START STOP MIGRATE_TO MIGRATE_FROM MONITOR_INTERVAL MONITOR_TIMEOUT :
# the <operations> of primitive ID (timeouts with units, interval in s).
_vc_ops() {
	printf '<operations>'
	printf '<op id="%s-%s" name="%s" interval="0s" timeout="%s"/>' \
		"$1" start start "$2" "$1" stop stop "$3" \
		"$1" migrate_to migrate_to "$4" "$1" migrate_from migrate_from "$5"
	printf '<op id="%s-monitor" name="monitor" interval="%ss" timeout="%s"/>' "$1" "$6" "$7"
	printf '</operations>'
}

# _vc_node_ia RSC NODE NAME VALUE [NAME VALUE]... : instance attributes of
# RSC that apply on NODE only (a rule on #uname), e.g. its store.
_vc_node_ia() {
	local rsc=$1 node=$2
	shift 2
	printf '<instance_attributes id="%s-ia-%s" score="10">' "$rsc" "$node"
	printf '<rule id="%s-rule-%s" score="INFINITY">' "$rsc" "$node"
	printf '<expression id="%s-expr-%s" attribute="#uname" operation="eq" value="%s"/>' \
		"$rsc" "$node" "$node"
	printf '</rule>'
	while (($# >= 2)); do
		_vc_nv "$rsc-$1-$node" "$1" "$2"
		shift 2
	done
	printf '</instance_attributes>'
}

# _vc_wait_clone PRIMITIVE COUNT TIMEOUT : COUNT instances started.
_vc_wait_clone() {
	local rsc=$1 count=$2 timeout=$3 t0=$SECONDS got
	while :; do
		got=$(_vc_crm_xml | grep -c "<resource id=\"$rsc\" .*role=\"Started\".*failed=\"false\"" || true)
		((got == count)) && return 0
		if ((SECONDS - t0 >= timeout)); then
			vc_log "failed actions: $(vc_pcmk_failures)"
			vc_fail "$rsc: $got of $count instances started after ${timeout}s"
		fi
		sleep 0.5
	done
}

# vc_pcmk_lab N [M] : vc_init and vc_pcmk_cluster N [M], as every scenario
# starts; also starts the clock of vc_pcmk_timing.
vc_pcmk_lab() {
	vc_init
	_VC_PCMK_T0=$EPOCHREALTIME
	vc_pcmk_cluster "${1:?vc_pcmk_lab N [M]}" "${2:-0}"
}

# vc_pcmk_timing WHAT : a scenario's last line, "TIMING cluster ...s,
# WHAT, total ...s", so that runs can be compared: how long the cluster
# took to start, then how long the whole test took since vc_pcmk_lab.
vc_pcmk_timing() {
	vc_log "TIMING cluster ${VC_PCMK_START_SECS}s, ${1:?vc_pcmk_timing WHAT}, total $(vc_elapsed "$_VC_PCMK_T0")s"
}

# vc_pcmk_cluster N [M]
vc_pcmk_cluster() {
	local n=${1:?vc_pcmk_cluster N [M]} m=${2:-0} t0 node ocf ocflib tool full
	for tool in pacemakerd crm_mon crm_resource crm_attribute cibadmin; do
		command -v "$tool" >/dev/null 2>&1 || _vc_skip "$tool not found"
	done
	[[ -x "$_VC_OCF_RD/heartbeat/VirtualDomain" ]] ||
		_vc_skip "ocf:heartbeat:VirtualDomain not installed (resource-agents)"
	[[ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]] ||
		_vc_skip "ocf-shellfuncs not installed (resource-agents)"
	[[ -x "$VIRTCKPTD" ]] || _vc_error "virtckptd not built: $VIRTCKPTD"
	case $VC_PCMK_DAEMON in
	manual) ;;
	agent)
		[[ -x "$_VC_SRCDIR/heartbeat/virtckptd" ]] ||
			_vc_error "VC_PCMK_DAEMON=agent: no $_VC_SRCDIR/heartbeat/virtckptd"
		;;
	*) _vc_error "VC_PCMK_DAEMON must be manual or agent, not '$VC_PCMK_DAEMON'" ;;
	esac
	((m == 0)) || _vc_pcmk_remote_check
	t0=$EPOCHREALTIME
	_VC_DEFAULT_STORE_BEFORE=$(_vc_default_store_state)
	vc_cluster_init "$n" "$m"
	trap '_vc_pcmk_exit_trap' EXIT
	full=("${VC_NODES[@]:0:n}")
	((m == 0)) || _vc_pcmk_authkey
	VC_SHARED=$VC_TMP/shared
	mkdir -m 0755 "$VC_SHARED"
	ocf=$(_vc_pcmk_ocf_dir)
	ocflib=$(_vc_pcmk_ocf_lib)
	for node in "${VC_NODES[@]}"; do
		vc_on "$node" mount --bind "$ocf" "$_VC_OCF_RD" ||
			_vc_error "node $node: cannot mount $ocf on $_VC_OCF_RD"
		vc_on "$node" mount --bind "$ocflib" "$_VC_OCF_LIB" ||
			_vc_error "node $node: cannot mount $ocflib on $_VC_OCF_LIB"
		_vc_pcmk_libvirt_conf "$node"
		_vc_libvirtd_spawn "$node" --listen
	done
	for node in "${full[@]}"; do
		vc_corosync_start "$node"
	done
	for node in "${VC_REMOTE_NODES[@]}"; do
		_vc_remoted_start "$node"
	done
	for node in "${VC_NODES[@]}"; do
		_vc_libvirtd_wait "$node" "${VC_HOST_START_TIMEOUT:-60}"
	done
	vc_log "libvirtd (--listen) up on ${VC_NODES[*]}"
	vc_wait_members "${VC_NODES[0]}" "$n"
	if [[ "$VC_PCMK_DAEMON" == manual ]]; then
		for node in "${full[@]}"; do
			vc_daemon_start "$node"
		done
		for node in "${full[@]}"; do
			vc_wait_synced "$node" "$n"
		done
		vc_log "virtckptd synced on ${full[*]}"
	fi
	for node in "${full[@]}"; do
		vc_pacemaker_start "$node"
	done
	vc_wait_online "${VC_NODES[0]}" "$n" "$VC_PCMK_TIMEOUT"
	((m == 0)) || _vc_pcmk_remote_join
	if [[ "$VC_PCMK_DAEMON" == agent ]]; then
		_vc_pcmk_daemon_clone "$n"
	fi
	node=${VC_NODES[0]}
	vc_on "$node" crm_attribute --type crm_config --name no-quorum-policy \
		--update stop >/dev/null || vc_fail "cannot set no-quorum-policy"
	vc_on "$node" crm_attribute --type rsc_defaults --name resource-stickiness \
		--update 100 >/dev/null || vc_fail "cannot set resource-stickiness"
	# Every node sees the agent (in its own mount namespace).
	for node in "${VC_NODES[@]}"; do
		vc_on "$node" crm_resource --show-metadata ocf:virtckpt:checkpoints \
			>/dev/null 2>&1 || vc_fail "node $node: Pacemaker does not find ocf:virtckpt:checkpoints"
	done
	VC_PCMK_START_SECS=$(vc_elapsed "$t0")
	if ((m == 0)); then
		vc_log "TIMING cluster (corosync, libvirtd, virtckptd, Pacemaker) ready in ${VC_PCMK_START_SECS}s"
	else
		vc_log "TIMING cluster ($n full nodes: corosync, libvirtd, virtckptd, Pacemaker; $m remote nodes: libvirtd, pacemaker-remoted) ready in ${VC_PCMK_START_SECS}s"
	fi
}

# ------------------------------------------------------------------- state --

# crm_mon's XML, from the first running node.
_vc_crm_xml() {
	local n
	n=$(_vc_pcmk_node) || return 1
	vc_on "$n" timeout 20 crm_mon -1 --output-as=xml 2>/dev/null
}

# vc_rsc_node RSC : node where RSC is started (role Started), or nothing.
vc_rsc_node() {
	local rsc=${1:?vc_rsc_node RSC}
	_vc_crm_xml | awk -v r="$rsc" '
		/<resource / {
			inr = (index($0, " id=\"" r "\"") > 0 && $0 ~ /role="Started"/ &&
				$0 ~ /failed="false"/ && $0 ~ /nodes_running_on="1"/)
			if ($0 ~ /\/>[[:space:]]*$/) inr = 0
			next
		}
		inr && /<node name=/ {
			s = $0; sub(/.*<node name="/, "", s); sub(/".*/, "", s); print s; exit
		}
		/<\/resource>/ { inr = 0 }'
	return 0
}

vc_vm_node() {
	vc_rsc_node "${1:?vc_vm_node NAME}"
}

# vc_pcmk_failures : failed actions, "RSC TASK NODE RC_TEXT" per line.
vc_pcmk_failures() {
	_vc_crm_xml | awk '
		/<failure / {
			line = ""
			n = split("op_key node exitreason status", k, " ")
			for (i = 1; i <= n; i++) {
				v = $0
				if (match(v, " " k[i] "=\"[^\"]*\"")) {
					v = substr(v, RSTART + length(k[i]) + 3, RLENGTH - length(k[i]) - 4)
					line = line (line == "" ? "" : " ") k[i] "=" v
				}
			}
			print line
		}'
	return 0
}

# vc_vm_ops NAME NODE : tasks run for resource NAME on NODE, in call order
# (from the CIB status section: lrm_rsc_op entries, one per operation key).
vc_vm_ops() {
	local rsc=${1:?vc_vm_ops RSC NODE} node=${2:?vc_vm_ops RSC NODE} n
	n=$(_vc_pcmk_node) || return 1
	vc_on "$n" timeout 20 cibadmin -Q -o status 2>/dev/null | awk -v r="$rsc" -v node="$node" '
		/<node_state / { s = $0; inn = (s ~ (" uname=\"" node "\"")) }
		inn && /<lrm_resource / { inr = ($0 ~ (" id=\"" r "\"")) }
		inn && inr && /<lrm_rsc_op / {
			t = $0; sub(/.* operation="/, "", t); sub(/".*/, "", t)
			c = $0; sub(/.* call-id="/, "", c); sub(/".*/, "", c)
			print c, t
		}
		/<\/lrm_resource>/ { inr = 0 }' | sort -n | awk '{ print $2 }'
}

# vc_wait_idle [TIMEOUT] : until Pacemaker has nothing left to do.  Fails
# at once when an action failed (a failure makes Pacemaker recover, which
# may never settle).  Sets VC_WAIT_SECS.
vc_wait_idle() {
	local timeout=${1:-$VC_PCMK_TIMEOUT} n t0 out fails
	t0=$SECONDS
	while :; do
		n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
		fails=$(vc_pcmk_failures)
		[[ -z "$fails" ]] || vc_fail "failed actions: $fails"
		if out=$(vc_on "$n" crm_resource --wait --timeout=5s 2>&1); then
			fails=$(vc_pcmk_failures)
			[[ -z "$fails" ]] || vc_fail "failed actions: $fails"
			break
		fi
		((SECONDS - t0 < timeout)) || vc_fail "cluster not idle after ${timeout}s: $out"
	done
	VC_WAIT_SECS=$((SECONDS - t0))
}

# ------------------------------------------------------------------- VMs ---

_vc_nv() { # ID NAME VALUE
	printf '<nvpair id="%s" name="%s" value="%s"/>' "$1" "$2" "$(_vc_xml_escape "$3")"
}

# _vc_wait_running NODE TIMEOUT RSC... : until every RSC runs, all on one
# node: NODE; any node for ""; any node but X for "!X" (failed actions,
# which a crash leaves, are then the caller's business; otherwise one
# fails the wait at once).  Sets VC_VM_NODE.
_vc_wait_running() {
	local node=$1 timeout=$2 off="" t0 r where all fails what
	shift 2
	if [[ "$node" == '!'* ]]; then
		off=${node#!}
		node=""
	fi
	what="$*${node:+ on $node}${off:+ on a node other than $off}"
	t0=$SECONDS
	while :; do
		all=1
		VC_VM_NODE=""
		for r in "$@"; do
			where=$(vc_rsc_node "$r")
			if [[ -z "$where" || (-n "$node" && "$where" != "$node") ||
				(-n "$off" && "$where" == "$off") ||
				(-n "$VC_VM_NODE" && "$where" != "$VC_VM_NODE") ]]; then
				all=0
				break
			fi
			VC_VM_NODE=$where
		done
		((all)) && return 0
		if [[ -z "$off" ]]; then
			fails=$(vc_pcmk_failures)
			[[ -z "$fails" ]] || vc_fail "waiting for $what: failed actions: $fails"
		fi
		if ((SECONDS - t0 >= timeout)); then
			vc_log "failed actions: $(vc_pcmk_failures)"
			vc_fail "$what: not running after ${timeout}s"
		fi
		sleep 0.2
	done
}

# vc_vm_create NAME IMAGE [--no-migrate] [--ckpt-migrate]
#              [--ckpt-monitor SECS] [--node NODE] [--disk IMAGE]...
vc_vm_create() {
	local name=${1:?vc_vm_create NAME IMAGE [OPTION]...} img=${2:?vc_vm_create NAME IMAGE [OPTION]...}
	shift 2
	local migrate=true ckmigrate=false ckmon=10 node="" imgs=() n nd xml ck t0 vm ckpt=1
	imgs=("$img")
	while (($#)); do
		case $1 in
		--no-migrate) migrate=false ;;
		--no-ckpt) ckpt=0 ;;
		--ckpt-migrate) ckmigrate=true ;;
		--ckpt-monitor) ckmon=${2:?--ckpt-monitor SECS}; shift ;;
		--node) node=${2:?--node NODE}; shift ;;
		--disk) imgs+=("${2:?--disk IMAGE}"); shift ;;
		*) _vc_error "vc_vm_create: unknown option '$1'" ;;
		esac
		shift
	done
	[[ "$migrate" == true ]] || ckmigrate=false
	[[ -z "$node" ]] || _vc_need_node "$node"
	for n in "${!imgs[@]}"; do
		[[ "${imgs[n]}" == /* ]] || imgs[n]=$VC_SHARED/${imgs[n]}
		[[ -f "${imgs[n]}" ]] || vc_fail "vc_vm_create: no image ${imgs[n]}"
	done
	n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
	xml=$VC_SHARED/$name.xml
	vc_domain_xml "$name" "${imgs[@]}" >"$xml"
	chmod 0644 "$xml"
	ck=$name-ckpt
	# Both created stopped, then the constraints, then started: Pacemaker
	# never runs one without the others.
	vm=$(
		printf '<primitive id="%s" class="ocf" provider="heartbeat" type="VirtualDomain">' "$name"
		printf '<instance_attributes id="%s-ia">' "$name"
		_vc_nv "$name-config" config "$xml"
		_vc_nv "$name-hv" hypervisor qemu:///system
		_vc_nv "$name-mt" migration_transport tcp
		_vc_nv "$name-mo" migrate_options --unsafe
		# no guest OS: an ACPI shutdown would wait for the stop timeout
		_vc_nv "$name-fs" force_stop true
		printf '</instance_attributes><meta_attributes id="%s-meta">' "$name"
		_vc_nv "$name-am" allow-migrate "$migrate"
		_vc_nv "$name-tr" target-role Stopped
		printf '</meta_attributes>'
		_vc_ops "$name" 90s 90s 120s 120s 10 30s
		printf '</primitive>'
	)
	_vc_cib_add resources "$vm"
	if ((ckpt == 0)); then
		touch "$VC_SHARED/$name.no-ckpt"
		[[ -z "$node" ]] ||
			_vc_cib_add constraints "<rsc_location id=\"$name-home\" rsc=\"$name\" node=\"$node\" score=\"50\"/>"
		t0=$EPOCHREALTIME
		vc_on "$n" crm_resource --resource "$name" --meta --delete-parameter target-role \
			>/dev/null || vc_fail "cannot enable $name"
		_vc_wait_running "$node" "$VC_PCMK_TIMEOUT" "$name"
		vc_wait_idle "$VC_PCMK_TIMEOUT"
		vc_log "vm $name (allow-migrate=$migrate, no checkpoints resource) started on $VC_VM_NODE in $(vc_elapsed "$t0")s"
		return 0
	fi
	vm=$(
		printf '<primitive id="%s" class="ocf" provider="virtckpt" type="checkpoints">' "$ck"
		printf '<instance_attributes id="%s-ia">' "$ck"
		_vc_nv "$ck-config" config "$xml"
		_vc_nv "$ck-virtckpt" virtckpt "$VIRTCKPT"
		_vc_nv "$ck-sync" sync_timeout 60
		_vc_nv "$ck-dw" domain_wait 30
		printf '</instance_attributes>'
		# Each node's replica, which is virtckpt's default store in
		# production: what the agent writes when virtckptd is down must
		# land there, not in the real host's default store.  None on a
		# remote node: virtckpt uses the cluster's store through a full
		# node there, and would use an explicit one alone.
		for nd in "${VC_NODES[@]}"; do
			vc_node_is_remote "$nd" ||
				_vc_node_ia "$ck" "$nd" store "$(node_store "$nd")"
		done
		printf '<meta_attributes id="%s-meta">' "$ck"
		_vc_nv "$ck-am" allow-migrate "$ckmigrate"
		_vc_nv "$ck-tr" target-role Stopped
		printf '</meta_attributes>'
		_vc_ops "$ck" 120s 60s 60s 120s "$ckmon" 60s
		printf '</primitive>'
	)
	_vc_cib_add resources "$vm"
	_vc_colocate "$ck-with-$name" "$ck" "$name"
	_vc_order "$ck-after-$name" "$name" "$ck"
	if [[ "$VC_PCMK_DAEMON" == agent ]]; then
		_vc_order "$ck-after-virtckptd" virtckptd-clone "$ck"
		# Where remote nodes may run VMs, NAME-ckpt runs there without a
		# virtckptd of its own (pacemaker-remote.sh).
		((${#VC_REMOTE_NODES[@]} > 0)) ||
			_vc_colocate "$ck-with-virtckptd" "$ck" virtckptd-clone
	fi
	if [[ -n "$node" ]]; then
		_vc_cib_add constraints "<rsc_location id=\"$name-home\" rsc=\"$name\" node=\"$node\" score=\"50\"/>"
	fi
	t0=$EPOCHREALTIME
	vc_on "$n" crm_resource --resource "$ck" --meta --delete-parameter target-role \
		>/dev/null || vc_fail "cannot enable $ck"
	vc_on "$n" crm_resource --resource "$name" --meta --delete-parameter target-role \
		>/dev/null || vc_fail "cannot enable $name"
	_vc_wait_running "$node" "$VC_PCMK_TIMEOUT" "$name" "$ck"
	vc_wait_idle "$VC_PCMK_TIMEOUT"
	vc_log "vm $name (allow-migrate=$migrate, $ck allow-migrate=$ckmigrate) started on $VC_VM_NODE in $(vc_elapsed "$t0")s"
}

# vc_vm_setup NAME MIB NODE [OPTION]...
vc_vm_setup() {
	local name=${1:?vc_vm_setup NAME MIB NODE} mib=${2:?vc_vm_setup NAME MIB NODE}
	local node=${3:?vc_vm_setup NAME MIB NODE}
	shift 3
	ref_disk "$name" "$mib"
	mv "$VC_TMP/$name.qcow2" "$VC_SHARED/$name.qcow2"
	vc_vm_create "$name" "$name.qcow2" --node "$node" "$@"
	[[ "$VC_VM_NODE" == "$node" ]] || vc_fail "$name started on $VC_VM_NODE, not on $node"
	# shellcheck disable=SC2034 # for the tests
	VC_BACKUPS=$VC_SHARED/backups/$name
}

# vc_vm_backup NODE NAME ID LEVEL : a virtckpt backup of VM NAME on NODE
# into $VC_SHARED/backups/NAME (vc_vm_setup's VC_BACKUPS) that must be
# backup ID at LEVEL (full, inc): which level the chain allows after a move
# is what the scenarios are about.  Keeps NAME's reference disk (ref_disk)
# as it is now under tag ID, for the restore of backup ID to be compared
# with; $VC_ERR keeps what the backup said.
vc_vm_backup() {
	local node=${1:?vc_vm_backup NODE NAME ID LEVEL} name=${2:?vc_vm_backup NODE NAME ID LEVEL}
	local id=${3:?vc_vm_backup NODE NAME ID LEVEL} level=${4:?vc_vm_backup NODE NAME ID LEVEL}
	expect_exit 0 vnck "$node" backup "$name" -o "$VC_SHARED/backups/$name"
	grep -q "backup $id ($level) of $name done" <<<"$VC_ERR" ||
		vc_fail "backup $id of $name on $node was not $level: $VC_ERR"
	ref_snapshot "$name" "$id"
}

# vc_sched_nodes NAME ID : a scheduled backup is a job of the node's
# virtckptd running "virtckpt schedule run", whose output the daemon logs
# ("schedule: NAME: backed up into DIR (backup ID, LEVEL)").
vc_sched_nodes() {
	local name=${1:?vc_sched_nodes NAME ID} id=${2:?vc_sched_nodes NAME ID} node
	for node in "${VC_NODES[@]}"; do
		if awk -v p="schedule: $name: backed up into " -v b=" (backup $id, " \
			'index($0, p) && index($0, b) { f = 1 } END { exit !f }' \
			"$VC_TMP/hosts/$node/log/virtckptd.log" 2>/dev/null; then
			printf '%s\n' "$node"
		fi
	done
	return 0
}

# vc_sched_log NAME
vc_sched_log() {
	local name=${1:?vc_sched_log NAME} node
	for node in "${VC_NODES[@]}"; do
		awk -v n="$node" -v a="schedule: $name: " -v b="schedule of $name" -v c=" of $name " \
			'index($0, a) || index($0, b) || (index($0, "schedule") && index($0, c)) {
				print "    " n ": " $0 }' "$VC_TMP/hosts/$node/log/virtckptd.log" 2>/dev/null || true
	done
}

# vc_last_backup NODE NAME
vc_last_backup() {
	local node=${1:?vc_last_backup NODE NAME} name=${2:?vc_last_backup NODE NAME} out
	out=$(vnck "$node" status --json -- "$name") || vc_fail "status --json $name on $node failed"
	python3 -c '
import json, sys
lb = json.loads(sys.argv[1])["domains"][0]["last_backup"]
if lb:
    print(lb["id"], lb["node"], lb["result"])' "$out"
}

# vc_node_id NODE
vc_node_id() {
	vnck "${1:?vc_node_id NODE}" status | sed -n 's/^node: *//p'
}

# vc_node_attr NODE NAME : attrd_updater prints name="N" host="H"
# value="V"; nothing (or an error) when NODE has no such attribute.
vc_node_attr() {
	local node=${1:?vc_node_attr NODE NAME} name=${2:?vc_node_attr NODE NAME} n out
	n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
	out=$(vc_on "$n" attrd_updater -Q -n "$name" -N "$node" 2>/dev/null) || return 0
	sed -n 's/.* value="\(.*\)"$/\1/p' <<<"$out"
}

# vc_wait_node_attr NODE NAME REGEX
vc_wait_node_attr() {
	local node=$1 name=$2 want=$3 v="" deadline=$((SECONDS + VC_PCMK_TIMEOUT))
	while ((SECONDS < deadline)); do
		v=$(vc_node_attr "$node" "$name")
		[[ "$v" =~ $want ]] && return 0
		sleep 1
	done
	vc_fail "node attribute $name of $node is '$v', not /$want/ after ${VC_PCMK_TIMEOUT}s"
}

# vc_rsc_meta RSC NAME VALUE : a meta attribute of resource RSC.
vc_rsc_meta() {
	_vc_rsc_set --meta "$@"
}

# vc_rsc_param RSC NAME VALUE : an instance attribute (a parameter of the
# agent) of resource RSC.
vc_rsc_param() {
	_vc_rsc_set "" "$@"
}

# _vc_rsc_set --meta|"" RSC NAME VALUE
_vc_rsc_set() {
	local kind=$1 rsc=${2:?RSC NAME VALUE} attr=${3:?RSC NAME VALUE} v=${4?RSC NAME VALUE} n
	n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
	vc_on "$n" crm_resource --resource "$rsc" ${kind:+"$kind"} --set-parameter "$attr" \
		--parameter-value "$v" >/dev/null || vc_fail "cannot set $attr=$v on $rsc"
	vc_log "$rsc: $attr=$v"
}

# vc_vm_move NAME NODE : sets VC_MOVE_SECS.
vc_vm_move() {
	local name=${1:?vc_vm_move NAME NODE} node=${2:?vc_vm_move NAME NODE} n t0 from out
	_vc_need_node "$node"
	n=$(_vc_pcmk_node) || vc_fail "no cluster node runs"
	from=$(vc_vm_node "$name")
	t0=$EPOCHREALTIME
	out=$(vc_on "$n" crm_resource --move --resource "$name" --node "$node" 2>&1) ||
		vc_fail "crm_resource --move $name to $node: $out"
	if [[ -e "$VC_SHARED/$name.no-ckpt" ]]; then
		_vc_wait_running "$node" "$VC_PCMK_TIMEOUT" "$name"
	else
		_vc_wait_running "$node" "$VC_PCMK_TIMEOUT" "$name" "$name-ckpt"
	fi
	vc_wait_idle "$VC_PCMK_TIMEOUT"
	VC_MOVE_SECS=$(vc_elapsed "$t0")
	vc_log "TIMING vm $name moved ${from:-?} -> $node in ${VC_MOVE_SECS}s"
}

# ---------------------------------------------------------------- crashes --

# _vc_node_tree NODE PID... : each PID and all its descendants (PIDs
# inside NODE), one a line.
_vc_node_tree() {
	local name=$1
	shift
	vc_on "$name" ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) { keep[r[i]] = 1; print r[i] } }
		{ parent[$1] = $2 }
		END {
			do {
				grew = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1; print p }
			} while (grew)
		}'
}

# vc_node_crash NODE [DOM]...
vc_node_crash() {
	local name=${1:?vc_node_crash NODE [DOM]...} dir p dom pcmk=() pids=()
	shift
	_vc_need_node "$name"
	dir=$(_vc_hostdir "$name")
	mapfile -t pcmk < <(vc_on "$name" pgrep '^pacemaker' || true)
	((${#pcmk[@]} > 0)) || vc_fail "node $name: no Pacemaker daemon runs"
	mapfile -t pids < <(_vc_node_tree "$name" "${pcmk[@]}")
	p=$(cat "$dir/corosync.pid" 2>/dev/null) || vc_fail "node $name: corosync is not running"
	pids+=("$p")
	for dom in "$@"; do
		p=$(vc_on "$name" cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null) ||
			vc_fail "node $name: no QEMU runs $dom"
		pids+=("$p")
	done
	# shellcheck disable=SC2034  # for the caller
	VC_CRASH_T0=$EPOCHREALTIME
	_vc_kill_all "$name" "processes" "${pids[@]}"
	rm -f "$dir/corosync.pid" "$dir/pacemakerd.pid"
	vc_log "node $name crashed: SIGKILL to ${#pcmk[@]} Pacemaker daemons (and $((${#pids[@]} - ${#pcmk[@]} - 1 - $#)) agent processes), corosync${*:+ and the QEMU of $*}"
}

# _vc_kill_all NODE WHAT PID...: SIGKILL, and wait (10 s at most) until
# none of them is left, as a crash would leave the node.
_vc_kill_all() {
	local name=$1 what=$2 p left i
	shift 2
	vc_on "$name" kill -KILL "$@" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		left=""
		for p in "$@"; do
			_vc_node_alive "$name" "$p" && left+=" $p"
		done
		[[ -n "$left" ]] || return 0
		sleep 0.1
	done
	vc_fail "node $name: $what survived SIGKILL:$left"
}

# vc_pcmk_kill NODE
vc_pcmk_kill() {
	local name=${1:?vc_pcmk_kill NODE} pcmk=() pids=()
	_vc_need_node "$name"
	mapfile -t pcmk < <(vc_on "$name" pgrep '^pacemaker' || true)
	((${#pcmk[@]} > 0)) || return 0
	mapfile -t pids < <(_vc_node_tree "$name" "${pcmk[@]}")
	_vc_kill_all "$name" "Pacemaker processes" "${pids[@]}"
	rm -f "$(_vc_hostdir "$name")/pacemakerd.pid"
	vc_log "node $name: SIGKILL to ${#pcmk[@]} Pacemaker daemons (and $((${#pids[@]} - ${#pcmk[@]})) agent processes)"
}

# vc_wait_running_off NODE RSC...
vc_wait_running_off() {
	local off=${1:?vc_wait_running_off NODE RSC...}
	shift
	_vc_wait_running "!$off" "$VC_PCMK_TIMEOUT" "$@"
}

# shellcheck source-path=SCRIPTDIR source=pacemaker-remote.sh
. "$(dirname "${BASH_SOURCE[0]}")/pacemaker-remote.sh"
