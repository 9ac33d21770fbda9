/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt's side of the IPC with virtckptd. */
#ifndef VIRTCKPT_DAEMON_CLIENT_H
#define VIRTCKPT_DAEMON_CLIENT_H

#include <stdbool.h>
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

/* --- from a Pacemaker Remote node (remote/remote-protocol.h) --- */

/* From a Pacemaker Remote node: the relay of virtckptd on the first of
 * servers ("HOST" or "HOST:PORT", port VC_REMOTE_PORT by default) that
 * answers, is authenticated and is fresh; NULL with errno set and the
 * reason for vc_daemon_unreachable (errno) (wrong key, no key readable,
 * none reachable, all stale: each its own text naming the servers tried).
 * errno: EKEYREJECTED a server refused our key (or we its), ENOKEY the
 * authkey cannot be used here (missing, unreadable, unsafe), ESTALE
 * every server that answered is not synced with a quorate cluster,
 * EHOSTUNREACH none answered, EINVAL a malformed server.
 * A request that fails because the connection broke (EOF, reset,
 * timeout) or because the server went stale is sent again to the next
 * server when it is safe to repeat (HELLO, STATUS, GET, LIST, FORGET,
 * SCHEDULE_NOW, JOB_POLL; a PUT restarts its pieces).  A LEASE or
 * JOB_SUBMIT in flight fails (ECONNRESET); once a lease was taken, a
 * broken connection fails every later request (ENOTCONN): the lease
 * died with it.
 */
extern struct vc_daemon *vc_daemon_connect_remote (const char *const *servers,
                                                   size_t n);
extern bool vc_daemon_is_remote (const struct vc_daemon *d);
/* "HOST:PORT" now serving, NULL when local. */
extern const char *vc_daemon_server (const struct vc_daemon *d);
/* The bytes of FILE in the serving node's replica: 0, 1 when there is
 * none, -1 error (logged).  *text is NUL-terminated.  Locally: the
 * daemon's store directory.
 */
extern int vc_daemon_get_file (struct vc_daemon *d, const char *file,
                               char **text, size_t *len);
/* The names of the documents in the serving node's replica: 0 or -1
 * (logged).
 */
extern int vc_daemon_list_files (struct vc_daemon *d, char ***names, size_t *n);
extern void vc_daemon_close (struct vc_daemon *d);

/* The daemon's store directory (owned by d); remote: the serving full
 * node's, a path on that node.
 */
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
