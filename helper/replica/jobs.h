/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's jobs: virtckpt run as child processes of the daemon, under
 * a domain's cluster-wide lease (lease.h), and jobs handed over from the
 * node where a command was given to the node where the domain runs.
 *
 * Everything runs in the daemon's main loop: children are spawned
 * (posix_spawn, argv, never a shell), their output comes through pipes
 * polled by the loop, SIGCHLD is a loop signal.  See doc/design.md,
 * "Leases and jobs".
 *
 * JOB messages (wire.h: tab-separated, %-escaped fields), each naming
 * the asking member (node id, pid) and its request id:
 *   RUN     ASKER-NODE ASKER-PID ID KIND DOMAIN ARG...   (to every member)
 *   NOTHERE ASKER-NODE ASKER-PID ID WHY   the domain does not run here
 *   START   ASKER-NODE ASKER-PID ID       the job runs here
 *   OUT     ASKER-NODE ASKER-PID ID STREAM LINE   (STREAM 1 or 2)
 *   END     ASKER-NODE ASKER-PID ID STATUS MESSAGE
 */
#ifndef VIRTCKPT_JOBS_H
#define VIRTCKPT_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "replica/replica.h"

/* How long the members may take to say whether a domain runs there. */
#define VC_JOB_LOCATE_SECONDS 60
/* How long one member's libvirt may take to answer. */
#define VC_JOB_CHECK_SECONDS 15

struct vc_job;

/* The end of a job: status is the child's exit code (or 128 + signal),
 * or VC_EXIT_ERROR with why when it did not run (lease refused: "backup
 * of DOMAIN already running on node N").  The job is freed after.
 */
typedef void (*vc_job_end_fn) (void *opaque, struct vc_job *j, int status,
                               const char *why);
/* A line the child wrote (stream 1 stdout, 2 stderr), without its '\n'. */
typedef void (*vc_job_line_fn) (void *opaque, struct vc_job *j, int stream,
                                const char *line);

struct vc_job_spec {
  const char *domain;
  const char *job_id;           /* the lease's job id, unique in the cluster */
  bool lease;                   /* take domain's lease first, release at end */
  const char *const *args;      /* virtckpt's arguments, NULL-terminated */
  vc_job_line_fn line;          /* may be NULL */
  void (*started) (void *opaque, struct vc_job *j);  /* child runs; may be NULL */
  vc_job_end_fn end;
  void *opaque;
};

/* Set up once, with the daemon's loop and replica; argv0 locates
 * virtckpt when /proc/self/exe does not.
 */
extern void vc_jobs_init (qb_loop_t *loop, struct vc_replica *r,
                          const char *store_dir, const char *argv0,
                          void (*flush) (void));
extern void vc_jobs_shutdown (void);

/* Runs virtckpt ARGS on this node, as a child of the daemon; with
 * spec->lease, only once this member holds domain's lease (asked for
 * now), which it releases when the child ends.  Once it returned a job,
 * end is called exactly once, later (also when the lease is refused).
 * NULL: nothing started, end not called (logged).
 */
extern struct vc_job *vc_job_start (const struct vc_job_spec *spec);
/* Ends the child (SIGTERM: a backup rolls back); end follows when it
 * has ended, or is called before this returns if the job still waited
 * for its lease.
 */
extern void vc_job_terminate (struct vc_job *j);

/* Which member runs domain: every member's daemon asks its libvirt
 * (read-only).  done(opaque, domain, nodeid) later, with the node running
 * it, 0 when it runs nowhere, or -1 when a member did not answer within
 * VC_JOB_LOCATE_SECONDS.  -1 (errno ENOTCONN: not synced) when it cannot
 * ask; done is then not called.
 */
typedef void (*vc_locate_fn) (void *opaque, const char *domain, int64_t nodeid);
extern int vc_job_locate (const char *domain, vc_locate_fn done, void *opaque);

/* The domains running on this node's libvirt (read-only, in a child):
 * done(opaque, names, 0) later, or (opaque, empty, -1) when libvirt did
 * not answer within VC_JOB_CHECK_SECONDS.  -1 when it cannot ask (logged);
 * done is then not called.
 */
typedef void (*vc_running_fn) (void *opaque, const string_vector *names, int status);
extern int vc_job_list_running (vc_running_fn done, void *opaque);

/* --- the daemon's hooks --- */

/* IPC requests JOB_SUBMIT, JOB_POLL, LEASE: 1 when handled. */
extern int vc_jobs_ipc (qb_ipcs_connection_t *c, int32_t id,
                        const char *payload, size_t len);
extern void vc_jobs_ipc_closed (qb_ipcs_connection_t *c);
/* After each membership change. */
extern void vc_jobs_confchg (void);
/* A status line per job, appended to the daemon's status (malloc'd). */
extern char *vc_jobs_status (void);

#endif
