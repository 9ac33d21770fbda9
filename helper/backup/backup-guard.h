/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which backup of a domain runs on this host, and ending it.
 *
 * A backup holds RUNDIR/NAME.lock (flock) while it runs and records
 * itself in it (lock-owner.h), so one backup per domain runs at a time and
 * "virtckpt cancel" can find it, and only it.  RUNDIR must be root's alone
 * (trusted-dir.h).  RUNDIR/NAME.hold, written by "cancel --hold",
 * holds the time until which new backups of the domain are refused: the
 * OCF agent cancels and holds backups while Pacemaker moves the domain,
 * because a running backup job blocks a live migration (libvirt's job
 * lock) until it times out and Pacemaker recovers the VM by a restart.
 */
#ifndef VIRTCKPT_BACKUP_GUARD_H
#define VIRTCKPT_BACKUP_GUARD_H

#include <libvirt/libvirt.h>

/* Takes domain's run lock and records this process in it; fails (logged)
 * when another backup of domain runs or backups are held.  Returns the
 * lock's fd.
 */
extern int vc_backup_guard_take (const char *rundir, const char *domain);
/* Whether a backup of domain runs here, without refusing: 1 runs, 0 none
 * (*fd then holds the run lock, so none starts meanwhile), -1 error
 * (logged).
 */
extern int vc_backup_guard_probe (const char *rundir, const char *domain, int *fd);
/* Seconds left of a hold on domain's backups (cancel --hold), 0 when
 * none, -1 when the runtime directory cannot be used (logged).
 */
extern long vc_backup_guard_held (const char *rundir, const char *domain);
/* Empties the lock file, then releases the lock; *fd becomes -1. */
extern void vc_backup_guard_release (int *fd);

/* A backup job of dom whose NBD socket is under rundir and that no
 * virtckpt runs (the caller holds the run lock) was left by a killed
 * virtckpt: ends it.  0 ended or none, 1 a job virtckpt did not start,
 * -1 error (logged).
 */
extern int vc_backup_end_stale_job (virDomainPtr dom, const char *rundir,
                                    const char *domain);

struct vc_cancel_options {
  const char *rundir;
  const char *domain;
  unsigned grace;               /* let a running backup finish this long */
  unsigned wait;                /* then wait this long for it to end */
  int hold;                     /* >= 0: refuse new backups this long */
};

/* Ends the virtckpt backup of domain running on this host (SIGTERM: it
 * rolls back), after the grace period, and ends a backup job left by a
 * killed virtckpt.  conn may be NULL (no libvirt checks).  Returns a
 * VC_EXIT_* code: OK when no virtckpt backup of domain runs any more.
 */
extern int vc_backup_cancel (virConnectPtr conn, const struct vc_cancel_options *o);

#endif
