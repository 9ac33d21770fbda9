/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's scheduler: runs the stored schedules (store/schedule.h) on
 * the node where each domain runs.
 *
 * Every tick it lists the domains running on this node's libvirt (in a
 * child, jobs.h) and, for each scheduled one whose current window it has
 * not settled yet, runs 'virtckpt schedule run -- DOMAIN' as a job under
 * the domain's cluster-wide lease.  That command decides under the lease
 * (backup/schedule-due.h, from the backup directory's manifest): so a
 * window is served once in the cluster, however many nodes saw the domain
 * during a migration, and a window missed anywhere is caught up wherever
 * the domain runs next.  It also refuses on a node Pacemaker drains and
 * while the checkpoints agent holds the domain's backups (a move).
 *
 * Only a synced, quorate member schedules.  The daemon keeps no state
 * that matters across restarts: what was served is in the manifests.
 * See doc/design.md, "Schedules".
 */
#ifndef VIRTCKPT_SCHEDULER_H
#define VIRTCKPT_SCHEDULER_H

#include <qb/qbloop.h>

#include "replica/replica.h"

/* The longest tick; shorter when a schedule's period is short: a
 * quarter of the shortest period, at least 1 s.
 */
#define VC_SCHEDULER_TICK_MAX 10
/* Scheduled backups run at once on one node; the others wait a tick. */
#define VC_SCHEDULER_JOBS 2
/* A failed backup is tried again after half a period, at most this. */
#define VC_SCHEDULER_RETRY_MAX 300

extern void vc_scheduler_init (qb_loop_t *loop, struct vc_replica *r);
extern void vc_scheduler_shutdown (void);
/* Look at domain's schedule now, not at its next settled time: it came to
 * this node (the checkpoints agent's start and migrate_from), so that a
 * window, or a backup a move interrupted, goes on at once.
 */
extern void vc_scheduler_look_now (const char *domain);
/* Status lines (kv-lines.h), malloc'd. */
extern char *vc_scheduler_status (void);

#endif
