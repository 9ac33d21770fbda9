/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inside virtckptd's jobs (jobs.h): the state jobs.c and job-handover.c
 * share, and what each calls of the other.
 */
#ifndef VIRTCKPT_JOBS_INTERNAL_H
#define VIRTCKPT_JOBS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "replica/children.h"
#include "replica/jobs.h"
#include "replica/replica.h"

struct vc_jobs_state {
  qb_loop_t *loop;
  struct vc_replica *r;
  const char *store_dir;
  void (*flush) (void);         /* sends what the replica queued */
  uint64_t next_id;             /* of this member's asks */
};
extern struct vc_jobs_state vc_jobs;

/* jobs.c: an IPC reply, error a negative errno or 0, text may be NULL. */
extern void vc_jobs_reply (qb_ipcs_connection_t *c, int32_t id, int error,
                           const char *text);

/* job-handover.c: a JOB message from a member (the replica's hook). */
extern void vc_handover_on_message (void *opaque, struct vc_member from,
                                    const char *payload, size_t len);
/* JOB_SUBMIT and JOB_POLL from a CLI, and the end of its connection. */
extern void vc_handover_ipc_submit (qb_ipcs_connection_t *c, int32_t id,
                                    const char *payload, size_t len);
extern void vc_handover_ipc_poll (qb_ipcs_connection_t *c, int32_t id,
                                  const char *payload, size_t len);
extern void vc_handover_ipc_closed (qb_ipcs_connection_t *c);
/* After a membership change: asks whose runner left end, asks every
 * remaining member answered end as "nowhere".
 */
extern void vc_handover_confchg (void);
/* At shutdown: the asks, and the runner a child or a job belongs to. */
extern void vc_handover_shutdown_asks (void);
extern void vc_handover_release_child (struct child *ch);
extern void vc_handover_release_job (vc_job_end_fn end, void *opaque);

#endif
