#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The OCF agent ocf:virtckpt:checkpoints (agent/checkpoints), run inside a
# private libvirt host as Pacemaker runs it (OCF environment, no daemon:
# require_daemon=false and a private store):
#  - meta-data is well-formed XML and, but for its OCF 1.1 additions
#    (reloadable, reload-agent, unique-group), valid against ra-api-1.dtd;
#  - validate-all: exit 6 without domain or config, 5 for a missing file;
#  - probes and monitors of a domain that does not run here: 7, never an
#    error; stop is idempotent and succeeds when the domain is gone;
#  - start fails with a clear reason when the domain does not come up, when
#    virtckptd is required and absent, or when the store is damaged;
#  - start redefines a captured chain after the domain was re-created;
#    stop and monitor capture; monitor redefines a chain libvirt lost
#    entirely, and records checkpoints deleted by another tool;
#  - migrate_to captures, migrate_from redefines;
#  - a broken chain (a bitmap removed from the stopped image): start
#    succeeds with a warning, libvirt holds no partial chain, the store
#    says broken;
#  - stop gives a running backup backup_wait seconds, cancels it (it keeps
#    what it copied, and the next backup resumes it) and holds new backups;
#    start releases the hold;
#  - ocf-tester passes but for the DTD check of the OCF 1.1 metadata;
#  - a domain named like an option (--help) reaches virtckpt as a name;
#  - the backup health as a node attribute (attrd_updater, a stand-in that
#    records its calls): set by start and monitor (never, broken, ok with
#    the last backup), deleted by stop and migrate_to, not touched by a
#    probe, renamed or disabled by health_attribute; an attrd_updater that
#    fails never fails monitor.

set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/virtckpt.sh
. "$(dirname "$0")/../lib/virtckpt.sh"

AGENT=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/agent/checkpoints
[[ -x "$AGENT" ]] || { echo "agent not executable: $AGENT" >&2; exit 99; }
[[ "$AGENT" == /* ]] || AGENT=$PWD/$AGENT
[[ -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]] ||
	_vc_skip "resource-agents not installed (no /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs)"
command -v xmllint >/dev/null || _vc_skip "xmllint not installed (libxml2-utils)"

vc_single_host h1
DOM=vm1

# A stand-in for Pacemaker's attrd_updater, first in the agent's PATH: it
# records its arguments, and fails while $VC_TMP/attrd.fail exists.
mkdir "$VC_TMP/attrd-bin"
cat >"$VC_TMP/attrd-bin/attrd_updater" <<EOF
#!/bin/bash
echo "\$*" >>"$VC_TMP/attrd.log"
if [ -e "$VC_TMP/attrd.fail" ]; then
	echo "Could not connect to the attribute manager" >&2
	exit 102
fi
EOF
chmod 755 "$VC_TMP/attrd-bin/attrd_updater"
touch "$VC_TMP/attrd.log"
ATTR=virtckpt-ckpt-vm1

# attrd_calls : how many calls the stand-in had; attrd_last : the last one.
attrd_calls() { grep -c . "$VC_TMP/attrd.log" || true; }
attrd_last() { tail -n 1 "$VC_TMP/attrd.log"; }

# ra ACTION [VAR=VALUE]... : the agent in host $H, in the environment
# Pacemaker gives it (a recurring monitor unless the interval is set to 0),
# run through the command in RA_WRAP if any (e.g. timeout).
RA_WRAP=()
ra() {
	local action=$1
	shift
	vc_on "$H" "${RA_WRAP[@]}" env -i PATH="$VC_TMP/attrd-bin":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 \
		OCF_RESOURCE_INSTANCE=ckpt-vm1 OCF_RESOURCE_TYPE=checkpoints \
		OCF_RESOURCE_PROVIDER=virtckpt \
		OCF_RESKEY_CRM_meta_timeout=120000 OCF_RESKEY_CRM_meta_interval=30000 \
		OCF_RESKEY_domain="$DOM" OCF_RESKEY_virtckpt="$VIRTCKPT" \
		OCF_RESKEY_store="$VC_STORE" OCF_RESKEY_require_daemon=false \
		"$@" "$AGENT" "$action"
}

# expect_ra CODE ACTION [VAR=VALUE]... : runs the agent, checks its exit code;
# its stderr (logs and exit reason) is in $VC_ERR.
expect_ra() {
	local want=$1
	shift
	expect_exit "$want" ra "$@"
	vc_log "ok: $1 ${*:2} -> $want"
}

# expect_log PATTERN MSG : the last agent run logged PATTERN (extended regex).
expect_log() {
	grep -qE -- "$1" <<<"$VC_ERR" || {
		vc_log "stderr: $VC_ERR"
		vc_fail "$2: no /$1/ in the agent's output"
	}
	vc_log "ok: $2: $(grep -E -- "$1" <<<"$VC_ERR" | head -n 1)"
}

# The stored chain of $DOM (names, parents first) and its state.
stored_names() {
	vck "$H" checkpoints show -- "$DOM" | awk '/^Checkpoints:/ { f = 1; next } f { print $1 }' | xargs
}
stored_state() {
	vck "$H" checkpoints show -- "$DOM" | sed -n 's/^State: *//p'
}
live_names() {
	checkpoint_names "$H" "$DOM" | xargs
}

# --- meta-data -------------------------------------------------------------
expect_ra 0 meta-data
printf '%s\n' "$VC_OUT" >"$VC_TMP/meta.xml"
xmllint --noout "$VC_TMP/meta.xml" || vc_fail "meta-data is not well-formed XML"
params=$(xmllint --xpath '//parameters/parameter/@name' "$VC_TMP/meta.xml" |
	sed 's/ *name="\([^"]*\)"/\1 /g' | xargs)
vc_assert_eq "domain config hypervisor sync_timeout domain_wait virtckpt store backup_wait require_daemon health_attribute" \
	"$params" "meta-data lists the parameters"
actions=$(xmllint --xpath '//actions/action/@name' "$VC_TMP/meta.xml" |
	sed 's/ *name="\([^"]*\)"/\1 /g' | xargs)
vc_assert_eq "start stop monitor migrate_to migrate_from reload-agent validate-all meta-data" \
	"$actions" "meta-data lists the actions"
vc_assert_eq "1.1" "$(xmllint --xpath 'string(/resource-agent/version)' "$VC_TMP/meta.xml")" \
	"OCF version 1.1"
vc_assert_eq "sync_timeout domain_wait virtckpt backup_wait require_daemon health_attribute" \
	"$(xmllint --xpath '//parameter[@reloadable="1"]/@name' "$VC_TMP/meta.xml" |
		sed 's/ *name="\([^"]*\)"/\1 /g' | xargs)" "reloadable parameters"
# ra-api-1.dtd (OCF 1.0) knows neither reloadable, unique-group nor
# reload-agent; without them the metadata is valid against it.
if [[ -r /usr/share/resource-agents/ra-api-1.dtd ]]; then
	sed -e 's/ reloadable="1"//' -e 's/ unique-group="[^"]*"//' -e '/name="reload-agent"/d' \
		-e '1a <!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' "$VC_TMP/meta.xml" |
		(cd /usr/share/resource-agents && xmllint --noout --valid -) ||
		vc_fail "meta-data (less its OCF 1.1 additions) is not valid against ra-api-1.dtd"
	vc_log "ok: meta-data less reloadable/unique-group/reload-agent is valid against ra-api-1.dtd"
fi
expect_ra 3 no-such-action

# --- validate-all ----------------------------------------------------------
vc_make_image "$VC_TMP/$DOM.qcow2" 128M
vc_domain_xml "$DOM" "$VC_TMP/$DOM.qcow2" >"$VC_TMP/$DOM.xml"
expect_ra 0 validate-all
expect_ra 6 validate-all OCF_RESKEY_domain=
expect_log "^ocf-exit-reason:neither domain nor config is set" "no domain/config: ERR_CONFIGURED"
expect_ra 0 validate-all OCF_RESKEY_domain= OCF_RESKEY_config="$VC_TMP/$DOM.xml"
expect_ra 0 validate-all OCF_RESKEY_config="$VC_TMP/$DOM.xml"
expect_ra 6 validate-all OCF_RESKEY_domain=other OCF_RESKEY_config="$VC_TMP/$DOM.xml"
expect_log "^ocf-exit-reason:domain 'other' differs from the name in" "domain/config mismatch"
expect_ra 5 validate-all OCF_RESKEY_domain= OCF_RESKEY_config="$VC_TMP/none.xml"
expect_log "^ocf-exit-reason:configuration file .*none.xml does not exist" "config missing: ERR_INSTALLED"
expect_ra 6 validate-all OCF_RESKEY_sync_timeout=soon
expect_ra 6 validate-all OCF_RESKEY_require_daemon=maybe
expect_ra 6 validate-all OCF_RESKEY_health_attribute='two words'
expect_log "^ocf-exit-reason:health_attribute must be a name" "a health_attribute that is no name"
expect_ra 0 validate-all OCF_RESKEY_health_attribute=
expect_ra 5 validate-all OCF_RESKEY_virtckpt=/nonexistent/virtckpt
expect_log "^ocf-exit-reason:virtckpt \(/nonexistent/virtckpt\) is not installed" "virtckpt missing"
expect_ra 0 reload-agent

# --- nothing runs here yet ---------------------------------------------------
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_domain= OCF_RESKEY_config="$VC_TMP/none.xml"
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_virtckpt=/nonexistent/virtckpt
expect_ra 7 monitor
expect_ra 0 stop
expect_ra 0 stop
expect_ra 0 stop OCF_RESKEY_domain=
expect_ra 1 start OCF_RESKEY_domain_wait=2
expect_log "^ocf-exit-reason:domain vm1 is not running here after 2 s \(absent\)" "start without the domain"
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 0 stop
expect_ra 1 start OCF_RESKEY_require_daemon=true OCF_RESKEY_sync_timeout=1
expect_log "^ocf-exit-reason:virtckptd is not synced on this node after 1 s: virtckptd is not running" \
	"start without virtckptd when it is required"
expect_ra 0 stop

# --- start, monitor, stop ---------------------------------------------------
vc_virsh "$H" create "$VC_TMP/$DOM.xml" >/dev/null
vc_virsh "$H" checkpoint-create-as "$DOM" c1 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x11 0 64k
vc_virsh "$H" checkpoint-create-as "$DOM" c2 >/dev/null
vc_guest_write "$H" "$DOM" vda 0x22 1M 64k
vc_assert_eq "" "$(grep -v -- "^-n $ATTR -D$" "$VC_TMP/attrd.log" || true)" \
	"the stops so far deleted the attribute, nothing set it"
expect_ra 0 start
expect_log "no checkpoints stored for vm1: nothing to redefine" "start with nothing stored"
vc_assert_eq "-n $ATTR -U never" "$(attrd_last)" "start published: never"
expect_ra 0 monitor
vc_assert_eq "c1 c2" "$(stored_names)" "monitor captured c1 c2"
vc_assert_eq "-n $ATTR -U never" "$(attrd_last)" "monitor published: never (no backup yet)"
calls=$(attrd_calls)
expect_ra 0 monitor OCF_RESKEY_CRM_meta_interval=0
vc_assert_eq "$calls" "$(attrd_calls)" "a probe does not touch the attribute"
vc_virsh "$H" checkpoint-create-as "$DOM" c3 >/dev/null
expect_ra 0 stop
vc_assert_eq "-n $ATTR -D" "$(attrd_last)" "stop deleted the attribute"
vc_assert_eq "c1 c2 c3" "$(stored_names)" "stop captured c3, made with virsh"
expect_ra 7 monitor
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0
vc_virsh "$H" destroy "$DOM" >/dev/null
expect_ra 0 stop
expect_log "domain vm1 is not defined here: nothing to capture" "stop after the domain is gone"

# --- re-created: start redefines ---------------------------------------------
vc_virsh "$H" create "$VC_TMP/$DOM.xml" >/dev/null
vc_assert_eq "" "$(live_names)" "the re-created domain has no checkpoints"
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 0 start OCF_RESKEY_domain= OCF_RESKEY_config="$VC_TMP/$DOM.xml"
vc_assert_eq "c1 c2 c3" "$(live_names)" "start redefined c1 c2 c3 (domain read from config)"
expect_ra 0 start
vc_assert_eq "c1 c2 c3" "$(live_names)" "a second start changes nothing"
# Probes never fail, even when libvirt or virtckpt cannot be reached; a
# recurring monitor that cannot ask libvirt fails with the reason.
NOLIBVIRT='qemu:///system?socket=/run/no-libvirt.sock'
expect_ra 0 monitor OCF_RESKEY_CRM_meta_interval=0
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_hypervisor="$NOLIBVIRT"
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_virtckpt=/nonexistent/virtckpt
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_domain= OCF_RESKEY_config="$VC_TMP/none.xml"
expect_ra 1 monitor OCF_RESKEY_hypervisor="$NOLIBVIRT"
expect_log "^ocf-exit-reason:cannot ask libvirt about vm1: failed to connect to the hypervisor" \
	"monitor without libvirt"
# With require_daemon (the default), monitor warns that captures are not
# replicated when no virtckptd runs.
expect_ra 0 monitor OCF_RESKEY_require_daemon=true
expect_log "WARNING: virtckptd is not running on this node: .* flagged unreplicated" "monitor without virtckptd"

# A start killed by its timeout while redefining (here: after the redefine,
# which then hangs) may leave part of the chain: the stop that follows must
# not capture it.  timeout kills the whole process group, as Pacemaker does.
cat >"$VC_TMP/virtckpt-hangs" <<EOF
#!/bin/bash
"$VIRTCKPT" "\$@"
rc=\$?
case " \$* " in *" redefine "*) sleep 60 ;; esac
exit \$rc
EOF
chmod 755 "$VC_TMP/virtckpt-hangs"
rc=0
RA_WRAP=(timeout -s KILL 5)
ra start OCF_RESKEY_virtckpt="$VC_TMP/virtckpt-hangs" 2>/dev/null || rc=$?
RA_WRAP=()
[[ $rc -ne 0 ]] || vc_fail "the start that hangs was not killed"
vc_log "ok: start killed while redefining (exit $rc)"
expect_ra 7 monitor OCF_RESKEY_CRM_meta_interval=0
vc_virsh "$H" checkpoint-create-as "$DOM" c5 >/dev/null
expect_ra 0 stop
expect_log "WARNING: a redefine of vm1 was interrupted .*not capturing it" "stop after a killed start"
vc_assert_eq "c1 c2 c3" "$(stored_names)" "that stop did not capture (c5 is not stored)"
vc_virsh "$H" checkpoint-delete "$DOM" c5 >/dev/null
expect_ra 0 start
expect_ra 0 monitor
expect_ra 0 monitor OCF_RESKEY_CRM_meta_interval=0

# A checkpoint deleted in libvirt by another tool: recorded, not redefined
# (redefining a checkpoint whose bitmap was really deleted would mark the
# whole chain broken).
vc_virsh "$H" checkpoint-delete "$DOM" c3 --metadata >/dev/null
expect_ra 0 monitor
expect_log "checkpoint\(s\) c3 of vm1 were deleted in libvirt by another tool" "monitor saw c3 deleted"
vc_assert_eq "c1 c2" "$(live_names)" "monitor did not redefine c3"
vc_assert_eq "c1 c2" "$(stored_names)" "monitor recorded the deletion of c3"

# All of them gone from libvirt (the domain lost its metadata): redefined.
vc_virsh "$H" checkpoint-delete "$DOM" c2 --metadata >/dev/null
vc_virsh "$H" checkpoint-delete "$DOM" c1 --metadata >/dev/null
expect_ra 0 monitor
expect_log "libvirt holds none of the stored checkpoints of vm1 .*: redefining them" \
	"monitor saw the chain lost"
vc_assert_eq "c1 c2" "$(live_names)" "monitor redefined c1 c2"
vc_assert_eq "c1 c2" "$(stored_names)" "the stored chain is unchanged"

# --- migrate_to captures, migrate_from redefines ------------------------------
vc_virsh "$H" checkpoint-create-as "$DOM" c4 >/dev/null
before=$(attrd_calls)
expect_ra 0 migrate_to OCF_RESKEY_CRM_meta_migrate_target=h2
vc_assert_eq "c1 c2 c4" "$(stored_names)" "migrate_to captured c4"
# An attribute change mid-migration would abort Pacemaker's transition:
# migrate_to leaves it to the stop that follows.
vc_assert_eq "$before" "$(attrd_calls)" "migrate_to left the attribute alone"
vc_virsh "$H" destroy "$DOM" >/dev/null
expect_ra 7 monitor
expect_ra 0 migrate_to OCF_RESKEY_CRM_meta_migrate_target=h2
expect_log "domain vm1 has already left this node: nothing to capture" "migrate_to after the domain left"
vc_virsh "$H" create "$VC_TMP/$DOM.xml" >/dev/null
before=$(attrd_calls)
expect_ra 0 migrate_from OCF_RESKEY_CRM_meta_migrate_source=h2
vc_assert_eq "c1 c2 c4" "$(live_names)" "migrate_from redefined c1 c2 c4"
vc_assert_eq "$before" "$(attrd_calls)" "migrate_from left the attribute to the monitor"
expect_ra 0 monitor
vc_assert_eq "-n $ATTR -U never" "$(attrd_last)" "the monitor after migrate_from published the attribute"

# --- a damaged store: start fails with virtckpt's error --------------------------
expect_ra 0 stop
vc_virsh "$H" destroy "$DOM" >/dev/null
vc_virsh "$H" create "$VC_TMP/$DOM.xml" >/dev/null
cp "$VC_STORE/$DOM.xml" "$VC_TMP/doc.keep"
echo "<virtckpt-domain" >"$VC_STORE/$DOM.xml"
expect_ra 1 start
expect_log "^ocf-exit-reason:cannot redefine the checkpoints of vm1: store document .*vm1.xml is damaged" \
	"start with a damaged store document"
vc_assert_eq "" "$(live_names)" "nothing redefined from a damaged store"
expect_ra 0 stop
cp "$VC_TMP/doc.keep" "$VC_STORE/$DOM.xml"

# --- ocf-tester against the running domain -----------------------------------------
# ocf-tester runs meta-data as nobody: give it a copy that nobody can reach
# wherever the source tree is.
mkdir -m 0755 "$VC_TMP/ocf"
install -m 0755 "$AGENT" "$VC_TMP/ocf/checkpoints"
install -m 0644 "${abs_top_builddir:-${AGENT%/*/*}}/agent/virtckpt-shellfuncs" "$VC_TMP/ocf/virtckpt-shellfuncs"
vc_on "$H" env OCF_ROOT=/usr/lib/ocf ocf-tester -n test -o domain="$DOM" \
	-o virtckpt="$VIRTCKPT" -o store="$VC_STORE" -o require_daemon=false \
	"$VC_TMP/ocf/checkpoints" >"$VC_TMP/ocf-tester.out" 2>&1 || true
vc_log "ocf-tester: $(tr '\n' '|' <"$VC_TMP/ocf-tester.out")"
failures=$(grep '^\* rc=' "$VC_TMP/ocf-tester.out" | sed 's/^\* rc=[0-9]*:/* rc=N:/' || true)
vc_assert_eq "* rc=N: Your agent produces meta-data which does not conform to ra-api-1.dtd" \
	"$failures" "ocf-tester: only the DTD check (OCF 1.0) fails"
vc_assert_eq "c1 c2 c4" "$(live_names)" "ocf-tester's starts and stops kept the chain"
vc_assert_eq "c1 c2 c4" "$(stored_names)" "and the stored chain"
expect_ra 0 stop

# --- a broken chain: start succeeds, nothing half-defined, store says broken -------
vc_virsh "$H" destroy "$DOM" >/dev/null
qemu-img bitmap --remove "$VC_TMP/$DOM.qcow2" c2
vc_virsh "$H" create "$VC_TMP/$DOM.xml" >/dev/null
expect_ra 0 start
expect_log "WARNING: the checkpoint chain of vm1 is broken \(.*missing or broken bitmap 'c2'.*\): nothing was redefined" \
	"start warned about the broken chain"
vc_assert_eq "" "$(live_names)" "libvirt holds no partial chain"
stored_state | grep -q "^broken: checkpoint c2" ||
	vc_fail "the store does not say broken: $(stored_state)"
vc_log "ok: the store says: $(stored_state)"
vc_assert_eq "-n $ATTR -U broken" "$(attrd_last)" "start published: broken"
expect_ra 0 monitor
vc_assert_eq "-n $ATTR -U broken" "$(attrd_last)" "monitor published: broken"
expect_ra 0 stop
vc_assert_eq "c1 c2 c4" "$(stored_names)" "the broken chain is kept until a full backup"
stored_state | grep -q "^broken" || vc_fail "broken mark lost: $(stored_state)"

# --- stop ends a running backup and holds new ones; start releases them -----------
expect_ra 0 start
for i in 0 1 2 3 4 5 6 7 8 9 a b; do
	vc_guest_write "$H" "$DOM" vda "0x4$i" "$((16#$i * 10 + 2))M" 8M
done
backup_in_background "$VC_TMP/b" vck "$H" backup "$DOM" -o "$VC_TMP/b" --connections 1 \
	--in-flight 1 --request-size 65536
suspend_backup
expect_ra 0 stop OCF_RESKEY_backup_wait=1
expect_log "waiting up to 1 s for the backup of vm1" "stop gave the running backup backup_wait seconds"
expect_log "the backup of vm1 \(pid [0-9]+\) was cancelled" "stop cancelled the running backup"
expect_log "backups of vm1 are held on this host for 120 s" "stop holds new backups"
resume_backup
wait_backup_interrupted "stop with a running backup"
[[ -f "$VC_TMP/b/.partial-1/progress.xml" ]] ||
	vc_fail "the cancelled backup did not keep what it copied for the next backup"
expect_error 1 "backups of vm1 are held on this host" vck "$H" -q backup "$DOM" -o "$VC_TMP/b"
expect_ra 0 start
expect_log "backups of vm1 are no longer held" "start released the hold"
expect_exit 0 vck "$H" backup "$DOM" -o "$VC_TMP/b"
grep -q "backup 1 of vm1 resumes the backup interrupted" <<<"$VC_ERR" ||
	vc_fail "the backup after start did not resume the cancelled one: $VC_ERR"
vc_log "ok: a backup after start: $(grep -o 'backup 1 (full) of vm1 done.*' <<<"$VC_ERR")"
expect_ra 0 monitor
value=$(vck "$H" status --attribute -- "$DOM")
[[ "$value" =~ ^ok\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}Z\ full$ ]] ||
	vc_fail "status --attribute after the full backup: $value"
vc_assert_eq "-n $ATTR -U $value" "$(attrd_last)" "monitor published the full backup: $value"
calls=$(attrd_calls)
expect_ra 0 monitor OCF_RESKEY_health_attribute=
vc_assert_eq "$calls" "$(attrd_calls)" "an empty health_attribute publishes nothing"
expect_ra 0 monitor OCF_RESKEY_health_attribute=backup.vm1
vc_assert_eq "-n backup.vm1 -U $value" "$(attrd_last)" "health_attribute names the attribute"
touch "$VC_TMP/attrd.fail"
expect_ra 0 monitor
expect_log "WARNING: cannot set the node attribute $ATTR=\"$value\": Could not connect" \
	"an attribute manager that fails does not fail monitor"
expect_ra 0 stop
expect_log "WARNING: cannot delete the node attribute $ATTR" "nor stop"
rm "$VC_TMP/attrd.fail"
expect_ra 0 start
expect_ra 0 stop

# --- a domain named like an option reaches virtckpt as a name ---------------
# ("virtckpt checkpoints capture --help" would print the help and succeed.)
DOM=--help
vc_make_image "$VC_TMP/odd.qcow2" 32M
vc_domain_xml "$DOM" "$VC_TMP/odd.qcow2" >"$VC_TMP/odd.xml"
vc_virsh "$H" create "$VC_TMP/odd.xml" >/dev/null
expect_ra 0 start
vc_virsh "$H" checkpoint-create-as --domain="$DOM" --name c1 >/dev/null
expect_ra 0 monitor
vc_assert_eq "c1" "$(stored_names)" "monitor captured the domain named --help"
expect_ra 0 stop
expect_log "backups of --help are held on this host" "stop held the backups of --help"
vc_virsh "$H" destroy --domain="$DOM" >/dev/null
vc_virsh "$H" create "$VC_TMP/odd.xml" >/dev/null
expect_ra 0 start
expect_log "backups of --help are no longer held" "start released the hold of --help"
vc_assert_eq "c1" "$(vc_virsh "$H" checkpoint-list --domain="$DOM" --name | xargs)" \
	"start redefined the chain of --help"
expect_ra 0 stop
vc_log PASS
