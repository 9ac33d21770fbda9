/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt's side of the IPC with virtckptd. */
#ifndef VIRTCKPT_DAEMON_CLIENT_H
#define VIRTCKPT_DAEMON_CLIENT_H

#include <stddef.h>

struct vc_daemon;

/* Connects to the daemon of this node.  NULL (quietly) when it cannot,
 * errno saying why: ENOENT none runs, EACCES it refused this user,
 * EPROTO it answered oddly, EPERM the process that answered is no
 * trustworthy daemon (not root, or its replica is not root's alone);
 * vc_daemon_unreachable (errno) says it in words.
 */
extern struct vc_daemon *vc_daemon_connect (void);
extern const char *vc_daemon_unreachable (int err);
extern void vc_daemon_close (struct vc_daemon *d);

/* The daemon's store directory (owned by d). */
extern const char *vc_daemon_store_dir (struct vc_daemon *d);

/* Replicates a document / a tombstone; returns once applied on this node.
 * Logs and returns -1 on failure.
 */
extern int vc_daemon_put (struct vc_daemon *d, const char *domain,
                          const char *text, size_t len);
extern int vc_daemon_forget (struct vc_daemon *d, const char *domain);

/* Waits up to seconds for the daemon to be synced: 1 synced, 0 not (yet),
 * -1 no answer.
 */
extern int vc_daemon_wait_synced (struct vc_daemon *d, unsigned seconds);

/* The status text (malloc'd), or NULL. */
extern char *vc_daemon_status (struct vc_daemon *d);

/* --- leases and jobs (replica/jobs.h) --- */

/* Takes domain's cluster-wide lease for job, held until d is closed.
 * 0 held; -1 with errno EBUSY (held elsewhere) or ENOTCONN (no cluster
 * with quorum) and *why (malloc'd) saying it.
 */
extern int vc_daemon_lease (struct vc_daemon *d, const char *domain,
                            const char *job, char **why);
/* Hands "virtckpt KIND DOMAIN ARGS..." over to the member where domain
 * runs; *id names it for vc_daemon_job_poll.  -1 with *why on failure.
 */
extern int vc_daemon_job_submit (struct vc_daemon *d, const char *kind,
                                 const char *domain, const char *const *args,
                                 size_t nargs, char **id, char **why);
/* The job's state line and the output since the last poll (malloc'd),
 * or NULL (errno set).
 */
extern char *vc_daemon_job_poll (struct vc_daemon *d, const char *id);
/* Asks the scheduler to look at domain's schedule now rather than at its
 * next tick (the domain came to this node).  0, or -1 (errno set).
 */
extern int vc_daemon_schedule_now (struct vc_daemon *d, const char *domain);

#endif
