/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's child processes: virtckpt run with an argument vector
 * (never a shell), and forked read-only questions to libvirt, their
 * output read line by line through pipes polled by the daemon's loop,
 * their end seen through SIGCHLD, a loop signal.  jobs.c and the
 * scheduler build on these.
 */
#ifndef VIRTCKPT_CHILDREN_H
#define VIRTCKPT_CHILDREN_H

#include <stdbool.h>
#include <sys/types.h>
#include <qb/qbloop.h>

#include "common/vector.h"
#include "replica/jobs.h"

struct child;
typedef void child_done_fn (struct child *ch);

/* A child; freed after done returns. */
struct child {
  pid_t pid;
  int fd[3];                    /* [1] stdout, [2] stderr read ends, -1 at EOF */
  char *buf[3];
  size_t len[3];
  bool exited;
  int status;                   /* exit code, or 128 + signal */
  qb_loop_timer_handle timer;
  bool timer_armed;
  child_done_fn *done;
  vc_job_line_fn line;          /* (opaque, NULL, stream, line) */
  void *owner;
};
DEFINE_VECTOR_TYPE (child_vector, struct child *);

/* Set up once: the loop, and the virtckpt to run (owned from then). */
extern void vc_children_init (qb_loop_t *loop, char *exe);
/* Frees every child without calling done, after release (may be NULL)
 * gave each owner back; the processes go on.
 */
extern void vc_children_shutdown (void (*release) (struct child *ch));

/* virtckpt ARGS as a child; the lease's job id (may be NULL) in
 * VIRTCKPT_LEASE_JOB, so that its own lease request is the job's.  NULL
 * when it could not start (logged).
 */
extern struct child *vc_child_spawn_virtckpt (const char *const *args,
                                              const char *job_id,
                                              child_done_fn *done,
                                              vc_job_line_fn line, void *owner);
/* Whether domain runs here, asked of libvirt in a forked child: it exits
 * 0 running, 1 not running or not defined, 2 libvirt unreachable.
 */
extern struct child *vc_child_check_running (const char *domain,
                                             child_done_fn *done, void *owner);
extern void vc_child_free (struct child *ch);

#endif
