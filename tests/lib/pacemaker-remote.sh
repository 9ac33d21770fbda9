# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# tests/lib/pacemaker-remote.sh - Pacemaker Remote nodes in the lab of
# pacemaker.sh, which sources this file:
#
#     vc_pcmk_lab 3 2       # n1..n3 full nodes, r1 r2 remote nodes
#
# A remote node rI (cluster.sh: own network, mount, PID and UTS
# namespaces, address 198.18.0.(100+I), in every node's /etc/hosts) runs
# virtlogd, libvirtd --listen (live migration to and from any node) and
# pacemaker-remoted (TCP 3121 in its namespace, log in
# root/var/log/pacemaker/pacemaker.log, pid file hosts/rI/remoted.pid); no
# corosync (its /etc/corosync is empty) and no virtckptd.  Every node,
# full and remote, has the same random /etc/pacemaker/authkey (4096 bytes,
# root:haclient 0640, in its private /etc/pacemaker).  The CIB holds one
# ocf:pacemaker:remote resource per remote node, named after it, with
# server= its address; vc_pcmk_cluster waits until each is Started and its
# node online.  On a remote node vnck (daemon.sh) runs virtckpt without
# --store, and NAME-ckpt (vc_vm_create) has no store parameter: virtckpt
# finds the cluster's store through a full node by itself there.  With
# VC_PCMK_DAEMON=agent the virtckptd clone gets a
# location rule "#kind eq remote" -> -INFINITY (virtckptd-on-full-nodes),
# and NAME-ckpt is not colocated with the clone (vc_vm_create): VMs and
# their checkpoints resources run on remote nodes too, virtckptd only on
# full nodes.
#
# pacemaker-remoted: the packages pacemaker and pacemaker-remote conflict
# on Debian (installing one removes the other), so the lab takes the
# daemon out of the pacemaker-remote .deb of the installed pacemaker's
# version (apt-get download into $VC_GUEST_CACHE/debs, once, or the copy
# in apt's own cache), unpacked under $VC_TMP; it needs only libraries
# pacemaker brings.  VC_PACEMAKER_REMOTED=PATH uses that binary instead,
# and an installed pacemaker-remoted is used when there is one.
#
# What was found running this lab (Pacemaker 2.1.5):
#   - Remote nodes join 1.5-2 s after their resources are added; the lab
#     (3 + 2 nodes) is up in about 15 s.
#   - The virtckptd clone, without the #kind rule, is placed on the remote
#     nodes too (a clone may run on any node, remote ones included); its
#     start fails there at once ("corosync is not running on this node:
#     virtckptd cannot join its CPG group"), a failed action per remote
#     node.  With the rule: Started on the full nodes, Stopped on r1 r2,
#     no failure.
#   - A colocation "NAME-ckpt with virtckptd-clone" (the lab's, without
#     remote nodes) does NOT keep the VM off remote nodes: moved to r1, the
#     VM runs there and NAME-ckpt stays Stopped, without any failure: an
#     unprotected VM.  The admin guide's "VM with virtckptd-clone" keeps the
#     VM itself off every remote node.  Neither is wanted where remote
#     nodes run VMs: no colocation with the clone, the order is enough.
#   - On a remote node, crm_node -l (through pacemaker-remoted's proxy of
#     the controller's IPC) lists the full nodes only, "ID NAME STATE"
#     ("1 n1 member", ...), not the remote nodes; crm_node -n prints the
#     remote node's own name (r1).  Names resolve through /etc/hosts (the
#     lab writes every node's name and address in it): the CLI on a remote
#     node reaches n1:3122 by name.
#   - A remote node's libqb IPC answers only for what pacemaker-remoted
#     proxies (cib, attrd, controller, lrmd, ...): crm_mon, cibadmin and
#     crm_resource work there; corosync, cpg and virtckptd IPC do not.
#   - A failed start of NAME-ckpt on a node sends the VM away (the
#     colocation "NAME-ckpt with NAME" has influence=true, Pacemaker's
#     default): NAME-ckpt is stopped there (its stop captures, and never
#     fails), the VM live-migrates to the best other node, NAME-ckpt
#     starts there, within 2-3 s of the failure; fail-count INFINITY keeps
#     NAME-ckpt, and so the VM, off that node until a cleanup.
#   - A full node's crash (vc_node_crash) that held a remote node's
#     connection: another full node takes the connection over within
#     10-16 s; the VMs on the remote node keep running, unrestarted.
#   - Live migrations between any two nodes (remote or full) take 3-4 s
#     for an idle TCG guest (migrate_to, migrate_from, "running
#     (migrated)").
#
# Functions:
#   vc_remote_nodes              the remote nodes, one line
#   vc_remote_conn_node RNODE    the full node that holds RNODE's
#                                connection (where its ocf:pacemaker:remote
#                                resource runs)
#   vc_remote_block NODE PORT    NODE drops its TCP connections to PORT of
#                                every full node (iptables in its namespace,
#                                chain vc-remote-block); the rest of its
#                                traffic (pacemaker-remoted, libvirt) goes on
#   vc_remote_unblock NODE       removes them
# Knob: VC_PACEMAKER_REMOTED (see above).

_VC_REMOTED=""

# _vc_pcmk_remote_check : find pacemaker-remoted (sets _VC_REMOTED).
_vc_pcmk_remote_check() {
	local ver cache deb dir lockfd
	if [[ -n "${VC_PACEMAKER_REMOTED:-}" ]]; then
		[[ -x "$VC_PACEMAKER_REMOTED" ]] ||
			_vc_error "VC_PACEMAKER_REMOTED=$VC_PACEMAKER_REMOTED is not executable"
		_VC_REMOTED=$VC_PACEMAKER_REMOTED
		return 0
	fi
	if _VC_REMOTED=$(command -v pacemaker-remoted 2>/dev/null); then
		return 0
	fi
	ver=$(dpkg-query -W -f='${Version}' pacemaker 2>/dev/null) ||
		_vc_skip "pacemaker is not installed (dpkg)"
	cache=${VC_GUEST_CACHE:-${abs_top_builddir:-$_VC_SRCDIR}/tests/guest-cache}/debs
	mkdir -p "$cache"
	exec {lockfd}>"$cache/.pacemaker-remote.lock"
	flock "$lockfd"
	deb=$(find "$cache" /var/cache/apt/archives -maxdepth 1 \
		-name "pacemaker-remote_${ver/:/%3a}_*.deb" 2>/dev/null | head -n1)
	if [[ -z "$deb" ]]; then
		(cd "$cache" && apt-get download -q "pacemaker-remote=$ver" >/dev/null 2>&1) || {
			exec {lockfd}>&-
			_vc_skip "cannot apt-get download pacemaker-remote=$ver (apt-get update?)"
		}
		deb=$(find "$cache" -maxdepth 1 -name "pacemaker-remote_${ver/:/%3a}_*.deb" | head -n1)
	fi
	exec {lockfd}>&-
	[[ -n "$deb" ]] || _vc_skip "no pacemaker-remote_${ver}_*.deb"
	dir=$VC_TMP/pacemaker-remote
	mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir" || _vc_error "dpkg-deb -x $deb failed"
	_VC_REMOTED=$dir/usr/sbin/pacemaker-remoted
	[[ -x "$_VC_REMOTED" ]] || _vc_error "$deb has no usr/sbin/pacemaker-remoted"
}

# _vc_pcmk_authkey : one random authkey, in every node's /etc/pacemaker.
_vc_pcmk_authkey() {
	local key=$VC_TMP/authkey node f
	head -c 4096 /dev/urandom >"$key" || _vc_error "cannot make an authkey"
	for node in "${VC_NODES[@]}"; do
		f=$(_vc_hostdir "$node")/root/etc/pacemaker/authkey
		[[ -d "${f%/*}" ]] || _vc_error "node $node has no private /etc/pacemaker"
		install -m 0640 -o root -g haclient "$key" "$f" ||
			_vc_error "node $node: cannot install the authkey"
	done
	rm -f "$key"
}

# _vc_remoted_start NAME : pacemaker-remoted in remote node NAME (detached,
# child of the node's tini), waits until it listens on 3121.
_vc_remoted_start() {
	local name=$1 dir pid deadline
	dir=$(_vc_hostdir "$name")
	vc_on "$name" mkdir -p /run/resource-agents ||
		_vc_error "node $name: cannot make /run/resource-agents"
	pid=$(_vc_node_spawn "$name" "$dir/log/pacemaker-remoted.out" \
		PCMK_logfacility=none PCMK_logfile=/var/log/pacemaker/pacemaker.log \
		PCMK_remote_port=3121 "$_VC_REMOTED") ||
		_vc_error "node $name: cannot spawn pacemaker-remoted"
	echo "$pid" >"$dir/remoted.pid"
	deadline=$((SECONDS + 15))
	until vc_on "$name" ss -Hltn 'sport = :3121' 2>/dev/null | grep -q .; do
		if ! _vc_node_alive "$name" "$pid" || ((SECONDS >= deadline)); then
			tail -n 20 "$dir/log/pacemaker-remoted.out" \
				"$dir/root/var/log/pacemaker/pacemaker.log" >&2 2>/dev/null || true
			vc_fail "node $name: pacemaker-remoted does not listen on 3121"
		fi
		sleep 0.1
	done
	vc_log "node $name: pacemaker-remoted listening on 3121 (pid $pid in the node)"
}

# _vc_pcmk_remote_join : an ocf:pacemaker:remote resource per remote node;
# waits until every node is online and every connection Started.
_vc_pcmk_remote_join() {
	local node t0 xml all
	t0=$EPOCHREALTIME
	for node in "${VC_REMOTE_NODES[@]}"; do
		xml=$(
			printf '<primitive id="%s" class="ocf" provider="pacemaker" type="remote">' "$node"
			printf '<instance_attributes id="%s-ia">' "$node"
			_vc_nv "$node-server" server "$(vc_node_addr "$node")"
			_vc_nv "$node-reconnect" reconnect_interval 5s
			printf '</instance_attributes><operations>'
			printf '<op id="%s-start" name="start" interval="0s" timeout="60s"/>' "$node"
			printf '<op id="%s-monitor" name="monitor" interval="5s" timeout="20s"/>' "$node"
			printf '</operations></primitive>'
		)
		_vc_cib_add resources "$xml"
	done
	vc_wait_online "${VC_NODES[0]}" "${#VC_NODES[@]}" "$VC_PCMK_TIMEOUT"
	for node in "${VC_REMOTE_NODES[@]}"; do
		_vc_wait_running "" "$VC_PCMK_TIMEOUT" "$node"
	done
	all=""
	for node in "${VC_REMOTE_NODES[@]}"; do
		all+=" $node (via $(vc_remote_conn_node "$node"))"
	done
	vc_log "remote nodes online:$all in $(vc_elapsed "$t0")s"
}

# _vc_pcmk_daemon_full_only : no virtckptd-clone instance on remote nodes.
_vc_pcmk_daemon_full_only() {
	_vc_cib_add constraints "$(
		printf '<rsc_location id="virtckptd-on-full-nodes" rsc="virtckptd-clone">'
		printf '<rule id="virtckptd-on-full-nodes-rule" score="-INFINITY">'
		printf '<expression id="virtckptd-on-full-nodes-expr" attribute="#kind" operation="eq" value="remote"/>'
		printf '</rule></rsc_location>'
	)"
}

# vc_remote_nodes
vc_remote_nodes() {
	printf '%s\n' "${VC_REMOTE_NODES[*]}"
}

# vc_remote_conn_node RNODE
vc_remote_conn_node() {
	local r=${1:?vc_remote_conn_node RNODE}
	vc_node_is_remote "$r" || _vc_error "$r is not a remote node"
	vc_rsc_node "$r"
}

# vc_remote_block NODE PORT
vc_remote_block() {
	local name=${1:?vc_remote_block NODE PORT} port=${2:?vc_remote_block NODE PORT} n
	_vc_need_node "$name"
	if ! _vc_ipt "$name" -n -L vc-remote-block >/dev/null 2>&1; then
		if ! { _vc_ipt "$name" -N vc-remote-block &&
			_vc_ipt "$name" -I OUTPUT -j vc-remote-block; }; then
			_vc_error "node $name: cannot set up iptables chain vc-remote-block"
		fi
	fi
	for n in "${VC_NODES[@]}"; do
		vc_node_is_remote "$n" && continue
		# REJECT (a reset): the client learns at once, as from a node
		# whose relay is down; DROP would only add the connect timeout.
		_vc_ipt "$name" -A vc-remote-block -p tcp -d "$(vc_node_addr "$n")" --dport "$port" \
			-j REJECT --reject-with tcp-reset ||
			_vc_error "node $name: cannot block $n:$port"
	done
	vc_log "node $name: TCP to port $port of every full node rejected"
}

# vc_remote_unblock NODE
vc_remote_unblock() {
	local name=${1:?vc_remote_unblock NODE}
	_vc_need_node "$name"
	if _vc_ipt "$name" -n -L vc-remote-block >/dev/null 2>&1; then
		_vc_ipt "$name" -F vc-remote-block || _vc_error "node $name: cannot flush vc-remote-block"
	fi
	vc_log "node $name: unblocked"
}
