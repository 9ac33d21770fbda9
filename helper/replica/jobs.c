/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's jobs (jobs.h): jobs run as children (children.h), and
 * leases held for them and for local clients.  Jobs handed over between
 * members are job-handover.c's.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <qb/qbipc_common.h>
#include <libvirt/libvirt.h>

#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/kv-lines.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "replica/job-args.h"
#include "replica/children.h"
#include "replica/jobs.h"
#include "replica/jobs-internal.h"
#include "replica/lease.h"
#include "store/ipc-protocol.h"

struct vc_jobs_state vc_jobs;

/* --- jobs run here ------------------------------------------------------------- */

enum job_state { JOB_LEASING, JOB_RUNNING, JOB_ENDED };

struct vc_job {
  char *domain, *job_id;
  bool lease, holds_lease;
  string_vector args;
  enum job_state state;
  struct child *child;
  vc_job_line_fn line;
  void (*started) (void *opaque, struct vc_job *j);
  vc_job_end_fn end;
  void *opaque;
};
DEFINE_VECTOR_TYPE (job_vector, struct vc_job *);
static job_vector jobs;

static void
job_free (struct vc_job *j)
{
  for (size_t i = 0; i < jobs.len; i++)
    if (jobs.ptr[i] == j) {
      job_vector_remove (&jobs, i);
      break;
    }
  vc_string_vector_free (&j->args);
  free (j->domain);
  free (j->job_id);
  free (j);
}

static void
job_end (struct vc_job *j, int status, const char *why)
{
  if (j->holds_lease || (j->lease && j->state == JOB_LEASING)) {
    vc_lease_release (&vc_jobs.r->leases, j->domain, j->job_id);
    vc_jobs.flush ();
  }
  j->state = JOB_ENDED;
  j->end (j->opaque, j, status, why);
  job_free (j);
}

static void
job_line (void *opaque, struct vc_job *unused, int stream, const char *line)
{
  struct vc_job *j = opaque;

  if (j->line)
    j->line (j->opaque, j, stream, line);
}

static void
job_child_done (struct child *ch)
{
  struct vc_job *j = ch->owner;

  vc_notice ("job %s (%s of %s) ended with status %d", j->job_id,
             j->args.ptr[0], j->domain, ch->status);
  j->child = NULL;
  job_end (j, ch->status, NULL);
}

/* -1 when the child could not be started (logged): the caller ends j. */
static int
job_run (struct vc_job *j)
{
  j->child = vc_child_spawn_virtckpt ((const char *const *) j->args.ptr, j->job_id,
                             job_child_done, job_line, j);
  if (j->child == NULL)
    return -1;
  j->state = JOB_RUNNING;
  vc_notice ("job %s: %s of %s runs as pid %d", j->job_id, j->args.ptr[0],
             j->domain, (int) j->child->pid);
  if (j->started)
    j->started (j->opaque, j);
  return 0;
}

struct vc_job *
vc_job_start (const struct vc_job_spec *spec)
{
  struct vc_job *j = calloc (1, sizeof *j);

  if (j == NULL || (j->domain = strdup (spec->domain)) == NULL ||
      (j->job_id = strdup (spec->job_id)) == NULL ||
      job_vector_append (&jobs, j) == -1)
    goto nomem;
  for (size_t i = 0; spec->args[i]; i++) {
    char *a = strdup (spec->args[i]);
    if (a == NULL || string_vector_append (&j->args, a) == -1) {
      free (a);
      goto nomem;
    }
  }
  if (string_vector_append (&j->args, NULL) == -1)
    goto nomem;
  j->args.len--;
  j->lease = spec->lease;
  j->line = spec->line;
  j->started = spec->started;
  j->end = spec->end;
  j->opaque = spec->opaque;
  if (!j->lease) {
    if (job_run (j) == -1) {
      job_free (j);
      return NULL;
    }
    return j;
  }
  j->state = JOB_LEASING;
  if (vc_lease_acquire (&vc_jobs.r->leases, j->domain, j->job_id) == -1) {
    vc_error ("cannot ask for the lease of %s: %m", j->domain);
    job_free (j);
    return NULL;
  }
  vc_jobs.flush ();
  return j;

 nomem:
  vc_error ("out of memory starting a job");
  if (j) {
    vc_string_vector_free (&j->args);
    free (j->domain);
    free (j->job_id);
    for (size_t i = 0; i < jobs.len; i++)
      if (jobs.ptr[i] == j)
        job_vector_remove (&jobs, i);
    free (j);
  }
  return NULL;
}

void
vc_job_terminate (struct vc_job *j)
{
  if (j->state == JOB_RUNNING && j->child)
    kill (j->child->pid, SIGTERM);
  else if (j->state == JOB_LEASING)
    job_end (j, VC_EXIT_ERROR, "cancelled before it started");
}

/* --- leases of local clients --------------------------------------------------- */

/* A lease a virtckpt on this node holds through its connection: released
 * when the connection ends (the CLI ended, or was killed).
 */
struct conn_lease {
  qb_ipcs_connection_t *c;
  char *domain, *job_id;
  bool granted;
};
DEFINE_VECTOR_TYPE (conn_lease_vector, struct conn_lease);
static conn_lease_vector conn_leases;

void
vc_jobs_reply (qb_ipcs_connection_t *c, int32_t id, int error, const char *text)
{
  size_t len = text ? strlen (text) : 0;
  struct qb_ipc_response_header h = { .id = id, .size = sizeof h + len, .error = error };
  struct iovec iov[2] = { { &h, sizeof h }, { (void *) text, len } };

  if (qb_ipcs_response_sendv (c, iov, 2) < 0)
    vc_debug ("could not answer a client");
}

static char *
busy_message (const char *domain, const struct vc_lease *holder)
{
  if (holder == NULL)
    return vc_printf ("no lease for a backup of %s: this node's partition "
                      "has no quorum", domain);
  return vc_printf ("backup of %s already running on node %" PRIu32 " (job %s)",
                    domain, holder->holder.nodeid, holder->job);
}

static void
conn_lease_remove (size_t i)
{
  qb_ipcs_connection_unref (conn_leases.ptr[i].c);
  free (conn_leases.ptr[i].domain);
  free (conn_leases.ptr[i].job_id);
  conn_lease_vector_remove (&conn_leases, i);
}

static void
on_lease_event (void *opaque, enum vc_lease_event ev, const struct vc_lease *req,
                const struct vc_lease *holder)
{
  if (!vc_member_eq (req->holder, vc_jobs.r->self))
    return;

  for (size_t i = 0; i < conn_leases.len; i++) {
    struct conn_lease *cl = &conn_leases.ptr[i];
    if (strcmp (cl->domain, req->domain) || strcmp (cl->job_id, req->job))
      continue;
    if (ev == VC_LEASE_GRANTED && !cl->granted) {
      cl->granted = true;
      vc_jobs_reply (cl->c, VC_IPC_LEASE, 0, NULL);
    }
    else if (ev == VC_LEASE_DENIED && !cl->granted) {
      CLEANUP_FREE char *msg = busy_message (req->domain, holder);
      vc_jobs_reply (cl->c, VC_IPC_LEASE, holder ? -EBUSY : -ENOTCONN, msg);
      conn_lease_remove (i);
    }
    else if (ev == VC_LEASE_LOST)
      vc_error ("lease of %s (job %s) lost to node %" PRIu32 " after a "
                "partition: two backups of %s may run", req->domain, req->job,
                holder->holder.nodeid, req->domain);
    return;
  }
  for (size_t i = 0; i < jobs.len; i++) {
    struct vc_job *j = jobs.ptr[i];
    if (strcmp (j->domain, req->domain) || strcmp (j->job_id, req->job))
      continue;
    if (ev == VC_LEASE_GRANTED && j->state == JOB_LEASING) {
      j->holds_lease = true;
      if (job_run (j) == -1)
        job_end (j, VC_EXIT_ERROR, "virtckptd could not start virtckpt");
    }
    else if (ev == VC_LEASE_DENIED && j->state == JOB_LEASING) {
      CLEANUP_FREE char *msg = busy_message (req->domain, holder);
      j->lease = false;         /* nothing to release */
      job_end (j, VC_EXIT_ERROR, msg);
    }
    else if (ev == VC_LEASE_LOST) {
      vc_error ("lease of %s (job %s) lost to node %" PRIu32 " after a "
                "partition: ending the job here", req->domain, req->job,
                holder->holder.nodeid);
      j->holds_lease = false;
      vc_job_terminate (j);
    }
    return;
  }
  /* Granted to a job or client gone meanwhile: give it back. */
  if (ev == VC_LEASE_GRANTED) {
    vc_lease_release (&vc_jobs.r->leases, req->domain, req->job);
    vc_jobs.flush ();
  }
}

/* payload: DOMAIN JOB (fields). */
static void
ipc_lease (qb_ipcs_connection_t *c, int32_t id, const char *payload, size_t len)
{
  char *f[2];
  ssize_t n = vc_wire_split (payload, len, 2, f);
  const struct vc_lease *h;
  struct conn_lease cl = { .c = c };

  if (n != 2 || !*f[0] || strlen (f[0]) > VC_LEASE_NAME_MAX || !*f[1] ||
      strlen (f[1]) > VC_LEASE_JOB_MAX) {
    if (n > 0)
      vc_wire_fields_free (n, f);
    vc_jobs_reply (c, id, -EINVAL, "malformed lease request");
    return;
  }
  /* A child of ours asking for the lease its job holds already. */
  h = vc_lease_holder (&vc_jobs.r->leases, f[0]);
  if (h && vc_member_eq (h->holder, vc_jobs.r->self) && strcmp (h->job, f[1]) == 0) {
    bool ours = false;
    for (size_t i = 0; i < jobs.len; i++)
      ours |= jobs.ptr[i]->holds_lease && strcmp (jobs.ptr[i]->job_id, f[1]) == 0;
    if (ours) {
      vc_wire_fields_free (2, f);
      vc_jobs_reply (c, id, 0, NULL);
      return;
    }
  }
  /* Syncing: the request waits for the end of the sync. */
  if (vc_jobs.r->state == VC_REPLICA_OFFLINE || !vc_jobs.r->quorate) {
    vc_wire_fields_free (2, f);
    vc_jobs_reply (c, id, -ENOTCONN, vc_jobs.r->state == VC_REPLICA_OFFLINE
           ? "virtckptd is not connected to the cluster"
           : "this node's partition has no quorum");
    return;
  }
  cl.domain = f[0];
  cl.job_id = f[1];
  if (conn_lease_vector_append (&conn_leases, cl) == -1 ||
      vc_lease_acquire (&vc_jobs.r->leases, cl.domain, cl.job_id) == -1) {
    vc_wire_fields_free (2, f);
    vc_jobs_reply (c, id, -ENOMEM, "out of memory");
    return;
  }
  qb_ipcs_connection_ref (c);
  vc_jobs.flush ();
}

/* --- IPC ---------------------------------------------------------------------- */

int
vc_jobs_ipc (qb_ipcs_connection_t *c, int32_t id, const char *payload, size_t len)
{
  switch (id) {
  case VC_IPC_JOB_SUBMIT:
    vc_handover_ipc_submit (c, id, payload, len);
    return 1;
  case VC_IPC_JOB_POLL:
    vc_handover_ipc_poll (c, id, payload, len);
    return 1;
  case VC_IPC_LEASE:
    ipc_lease (c, id, payload, len);
    return 1;
  default:
    return 0;
  }
}

void
vc_jobs_ipc_closed (qb_ipcs_connection_t *c)
{
  for (size_t i = conn_leases.len; i-- > 0;)
    if (conn_leases.ptr[i].c == c) {
      vc_lease_release (&vc_jobs.r->leases, conn_leases.ptr[i].domain,
                        conn_leases.ptr[i].job_id);
      conn_lease_remove (i);
      vc_jobs.flush ();
    }
  vc_handover_ipc_closed (c);
}

void
vc_jobs_confchg (void)
{
  vc_handover_confchg ();
}

char *
vc_jobs_status (void)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);

  if (fp == NULL)
    return NULL;
  /* Names escaped (kv-lines.h): a value never spans lines. */
  for (size_t i = 0; i < vc_jobs.r->leases.table.len; i++) {
    const struct vc_lease *l = &vc_jobs.r->leases.table.ptr[i];
    CLEANUP_FREE char *v = vc_printf ("%s node %" PRIu32 " job %s", l->domain,
                                      l->holder.nodeid, l->job);
    if (v)
      vc_kv_put (fp, "lease", v);
  }
  for (size_t i = 0; i < jobs.len; i++) {
    const struct vc_job *j = jobs.ptr[i];
    CLEANUP_FREE char *v = vc_printf ("%s %s %s %s", j->job_id, j->args.ptr[0],
                                      j->domain, j->state == JOB_RUNNING
                                      ? "running" : "waiting-for-lease");
    if (v)
      vc_kv_put (fp, "job", v);
  }
  fclose (fp);
  return text;
}

/* --- setup -------------------------------------------------------------------- */

/* virtckpt in the directory of path (a file), if it is there. */
static char *
sibling (const char *path)
{
  const char *slash = path ? strrchr (path, '/') : NULL;
  char *exe = slash ? vc_printf ("%.*s/virtckpt", (int) (slash - path), path) : NULL;

  if (exe && access (exe, X_OK) == -1) {
    free (exe);
    exe = NULL;
  }
  return exe;
}

void
vc_jobs_init (qb_loop_t *loop, struct vc_replica *r, const char *store_dir,
              const char *argv0, void (*flush) (void))
{
  char self[PATH_MAX], *exe;
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  vc_jobs.loop = loop;
  vc_jobs.r = r;
  vc_jobs.store_dir = store_dir;
  vc_jobs.flush = flush;
  /* virtckpt is installed next to virtckptd (both in sbin), as in the
   * build tree; under a tool such as valgrind, /proc/self/exe is the
   * tool's, argv[0] still ours.
   */
  if (n > 0)
    self[n] = '\0';
  exe = sibling (n > 0 ? self : NULL);
  if (exe == NULL)
    exe = sibling (argv0);
  if (exe == NULL)
    exe = vc_printf ("%s/virtckpt", SBIN_DIR);
  vc_children_init (loop, exe);
  vc_replica_set_job_hooks (r, on_lease_event, vc_handover_on_message, NULL);
}

void
vc_jobs_shutdown (void)
{
  /* Children go on (a backup is not cut short by a daemon restart); their
   * leases go with this member.
   */
  vc_handover_shutdown_asks ();
  while (conn_leases.len)
    conn_lease_remove (conn_leases.len - 1);
  vc_children_shutdown (vc_handover_release_child);
  while (jobs.len) {
    struct vc_job *j = jobs.ptr[0];
    vc_handover_release_job (j->end, j->opaque);
    job_free (j);
  }
  job_vector_reset (&jobs);
  conn_lease_vector_reset (&conn_leases);
}
