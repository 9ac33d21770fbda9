/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Jobs handed over between members (jobs.h, the JOB messages): the
 * asking side (a CLI's backup or cancel, or the daemon's own locate,
 * sent to every member, answered by the one where the domain runs) and
 * the running side (a RUN checked against this node's libvirt, then run
 * as a job here).
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qb/qbipcs.h>

#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "replica/children.h"
#include "replica/job-args.h"
#include "replica/jobs.h"
#include "replica/jobs-internal.h"
#include "replica/lease.h"
#include "replica/wire.h"
#include "store/ipc-protocol.h"

/* Output kept for a client between two polls; beyond, lines are dropped
 * (and counted).
 */
#define ASK_OUTPUT_MAX (1024 * 1024)
#define POLL_REPLY_MAX (VC_IPC_MAX_MSG / 2)

/* --- the asking side ------------------------------------------------------------ */

struct ask {
  uint64_t id;
  enum vc_job_kind kind;
  char *domain;
  qb_ipcs_connection_t *c;      /* the CLI polling it; NULL: internal */
  vc_locate_fn located;
  void *opaque;
  vc_member_vector answered;    /* members that said NOTHERE */
  bool have_runner;
  struct vc_member runner;
  bool done;
  int status;
  char *message;                /* a final error, or NULL */
  char *out;                    /* "1 line\n" / "2 line\n" records to hand */
  size_t out_len;
  uint64_t dropped;
  qb_loop_timer_handle timer;
  bool timer_armed;
};
DEFINE_VECTOR_TYPE (ask_vector, struct ask *);
static ask_vector asks;

static void
ask_free (struct ask *a)
{
  for (size_t i = 0; i < asks.len; i++)
    if (asks.ptr[i] == a) {
      ask_vector_remove (&asks, i);
      break;
    }
  if (a->timer_armed)
    qb_loop_timer_del (vc_jobs.loop, a->timer);
  if (a->c)
    qb_ipcs_connection_unref (a->c);
  vc_member_vector_reset (&a->answered);
  free (a->domain);
  free (a->message);
  free (a->out);
  free (a);
}

static struct ask *
ask_find (uint64_t id)
{
  for (size_t i = 0; i < asks.len; i++)
    if (asks.ptr[i]->id == id)
      return asks.ptr[i];
  return NULL;
}

static void
ask_finish (struct ask *a, int status, const char *message)
{
  if (a->done)
    return;
  a->done = true;
  a->status = status;
  free (a->message);
  a->message = message ? strdup (message) : NULL;
  if (a->timer_armed) {
    qb_loop_timer_del (vc_jobs.loop, a->timer);
    a->timer_armed = false;
  }
  if (a->kind == VC_JOB_LOCATE) {
    a->located (a->opaque, a->domain, status == 0 && a->have_runner
                ? (int64_t) a->runner.nodeid : status == 0 ? 0 : -1);
    ask_free (a);
  }
}

static void
ask_output (struct ask *a, int stream, const char *line)
{
  size_t n = strlen (line) + 3;
  char *p;

  if (a->out_len + n > ASK_OUTPUT_MAX || (p = realloc (a->out, a->out_len + n + 1)) == NULL) {
    a->dropped++;
    return;
  }
  a->out = p;
  snprintf (p + a->out_len, n + 1, "%d %s\n", stream, line);
  a->out_len += n;
}

/* All members answered and none runs it. */
static void
ask_check_nowhere (struct ask *a)
{
  const vc_member_vector *m = &vc_jobs.r->members;

  if (a->done || a->have_runner)
    return;
  for (size_t i = 0; i < m->len; i++) {
    bool seen = false;
    for (size_t k = 0; k < a->answered.len; k++)
      seen |= vc_member_eq (a->answered.ptr[k], m->ptr[i]);
    if (!seen)
      return;
  }
  ask_finish (a, 0, NULL);      /* no runner: "nowhere" */
}

static void
ask_timeout (void *data)
{
  struct ask *a = data;
  CLEANUP_FREE char *msg =
    vc_printf ("no member of the cluster said within %d s whether %s runs "
               "there", VC_JOB_LOCATE_SECONDS, a->domain);

  a->timer_armed = false;
  if (!a->have_runner)
    ask_finish (a, VC_EXIT_ERROR, msg);
}

static int
send_fields (size_t n, const char *const *f)
{
  CLEANUP_FREE char *payload = vc_wire_join (n, f);

  if (payload == NULL || vc_replica_send_job (vc_jobs.r, payload, strlen (payload)) == -1)
    return -1;
  vc_jobs.flush ();
  return 0;
}

/* args: the arguments after DOMAIN (validated by the runner again). */
static struct ask *
ask_start (enum vc_job_kind kind, const char *domain, char **args, size_t nargs,
           int *err)
{
  struct ask *a = calloc (1, sizeof *a);
  char node[16], pid[16], id[24];
  const char **f = calloc (nargs + 6, sizeof *f);
  int r;

  *err = ENOMEM;
  if (a == NULL || f == NULL || (a->domain = strdup (domain)) == NULL ||
      ask_vector_append (&asks, a) == -1) {
    if (a)
      free (a->domain);
    free (a);
    free (f);
    return NULL;
  }
  a->id = ++vc_jobs.next_id;
  a->kind = kind;
  snprintf (node, sizeof node, "%" PRIu32, vc_jobs.r->self.nodeid);
  snprintf (pid, sizeof pid, "%" PRIu32, vc_jobs.r->self.pid);
  snprintf (id, sizeof id, "%" PRIu64, a->id);
  f[0] = "RUN"; f[1] = node; f[2] = pid; f[3] = id; f[4] = vc_job_kinds[kind]; f[5] = domain;
  for (size_t i = 0; i < nargs; i++)
    f[6 + i] = args[i];
  r = send_fields (nargs + 6, f);
  free (f);
  if (r == -1) {
    *err = errno;
    ask_free (a);
    return NULL;
  }
  if (qb_loop_timer_add (vc_jobs.loop, QB_LOOP_MED,
                         (uint64_t) VC_JOB_LOCATE_SECONDS * QB_TIME_NS_IN_SEC,
                         a, ask_timeout, &a->timer) == 0)
    a->timer_armed = true;
  return a;
}

int
vc_job_locate (const char *domain, vc_locate_fn done, void *opaque)
{
  int err;
  struct ask *a = ask_start (VC_JOB_LOCATE, domain, NULL, 0, &err);

  if (a == NULL) {
    errno = err;
    return -1;
  }
  a->located = done;
  a->opaque = opaque;
  return 0;
}

/* An answer to one of our asks. */
static void
on_answer (struct vc_member from, const char *op, char **f, size_t n)
{
  struct ask *a = ask_find (strtoull (f[3], NULL, 10));

  if (a == NULL || a->done)
    return;
  if (strcmp (op, "NOTHERE") == 0 && n == 5) {
    if (vc_member_vector_append (&a->answered, from) == 0)
      ask_check_nowhere (a);
  }
  else if (strcmp (op, "START") == 0 && n == 4) {
    if (a->have_runner)
      return;
    a->have_runner = true;
    a->runner = from;
    if (a->kind == VC_JOB_LOCATE)
      ask_finish (a, 0, NULL);
    else if (a->timer_armed) {
      qb_loop_timer_del (vc_jobs.loop, a->timer);
      a->timer_armed = false;
    }
  }
  else if (strcmp (op, "OUT") == 0 && n == 6 && a->have_runner &&
           vc_member_eq (a->runner, from))
    ask_output (a, f[4][0] == '1' ? 1 : 2, f[5]);
  else if (strcmp (op, "END") == 0 && n == 6) {
    char *end;
    long st = strtol (f[4], &end, 10);
    if (*end || st < 0 || st > 255)
      return;
    if (!a->have_runner) {
      a->have_runner = true;
      a->runner = from;
    }
    ask_finish (a, (int) st, *f[5] ? f[5] : NULL);
  }
}

/* --- the running side ----------------------------------------------------------- */

/* A RUN from another member (or ourselves), on its way here. */
struct runner {
  struct vc_member asker;
  char *asker_node, *asker_pid, *id;  /* as they came */
  enum vc_job_kind kind;
  char *domain, *job_id;
  string_vector args;           /* virtckpt's, NULL-terminated */
  struct child *check;
  struct vc_job *job;
};

static void
runner_free (struct runner *rn)
{
  free (rn->asker_node);
  free (rn->asker_pid);
  free (rn->id);
  free (rn->domain);
  free (rn->job_id);
  vc_string_vector_free (&rn->args);
  free (rn);
}

static void
runner_send (struct runner *rn, const char *op, const char *a, const char *b)
{
  const char *f[] = { op, rn->asker_node, rn->asker_pid, rn->id, a, b };
  size_t n = 4 + (a != NULL) + (b != NULL);

  if (send_fields (n, f) == -1)
    vc_warn ("cannot answer node %s about %s: %m", rn->asker_node, rn->domain);
}

static void
runner_line (void *opaque, struct vc_job *j, int stream, const char *line)
{
  struct runner *rn = opaque;

  runner_send (rn, "OUT", stream == 1 ? "1" : "2", line);
}

static void
runner_started (void *opaque, struct vc_job *j)
{
  if (((struct runner *) opaque)->kind == VC_JOB_BACKUP)
    runner_send (opaque, "START", NULL, NULL);
}

static void
runner_end (void *opaque, struct vc_job *j, int status, const char *why)
{
  struct runner *rn = opaque;
  char st[16];
  const struct vc_lease *h = vc_lease_holder (&vc_jobs.r->leases, rn->domain);

  /* The same handed-over job runs on another member (both saw the domain
   * running, during a migration): that one answers.
   */
  if (why && h && strcmp (h->job, rn->job_id) == 0 &&
      !vc_member_eq (h->holder, vc_jobs.r->self)) {
    runner_send (rn, "NOTHERE", "the job runs on another node", NULL);
    runner_free (rn);
    return;
  }
  if (why)
    runner_send (rn, "START", NULL, NULL);
  snprintf (st, sizeof st, "%d", status);
  runner_send (rn, "END", st, why ? why : "");
  runner_free (rn);
}

static void
runner_checked (struct child *ch)
{
  struct runner *rn = ch->owner;
  struct vc_job_spec spec = {
    .domain = rn->domain, .job_id = rn->job_id, .lease = rn->kind == VC_JOB_BACKUP,
    .args = (const char *const *) rn->args.ptr, .line = runner_line,
    .started = runner_started, .end = runner_end, .opaque = rn,
  };

  rn->check = NULL;
  if (ch->status != 0) {
    runner_send (rn, "NOTHERE", ch->status == 1 ? "not running here"
                 : "libvirt not reachable here", NULL);
    runner_free (rn);
    return;
  }
  if (rn->kind == VC_JOB_LOCATE) {
    runner_send (rn, "START", NULL, NULL);
    runner_send (rn, "END", "0", "");
    runner_free (rn);
    return;
  }
  vc_notice ("node %s hands over a %s of %s (job %s)", rn->asker_node,
             vc_job_kinds[rn->kind], rn->domain, rn->job_id);
  rn->job = vc_job_start (&spec);
  /* A backup announces itself once it holds the lease (runner_end says
   * START for one refused); a cancel at once.
   */
  if (rn->job && rn->kind == VC_JOB_CANCEL)
    runner_send (rn, "START", NULL, NULL);
  else if (rn->job == NULL) {
    runner_send (rn, "START", NULL, NULL);
    runner_send (rn, "END", "1", "virtckptd could not start the job");
    runner_free (rn);
  }
}

static int
store_args (struct runner *rn, char **f, size_t n)
{
  const char *head[] = { vc_job_kinds[rn->kind], rn->domain };

  for (size_t i = 0; i < 2 + n; i++) {
    char *a = strdup (i < 2 ? head[i] : f[i - 2]);
    if (a == NULL || string_vector_append (&rn->args, a) == -1) {
      free (a);
      return -1;
    }
  }
  /* The daemon's own replica, when not the default one. */
  if (strcmp (vc_jobs.store_dir, STORE_DIR) != 0) {
    char *a = strdup ("--store"), *b = strdup (vc_jobs.store_dir);
    if (a == NULL || b == NULL || string_vector_append (&rn->args, a) == -1) {
      free (a);
      free (b);
      return -1;
    }
    if (string_vector_append (&rn->args, b) == -1) {
      free (b);
      return -1;
    }
  }
  if (string_vector_append (&rn->args, NULL) == -1)
    return -1;
  rn->args.len--;
  return 0;
}

static void
on_run (struct vc_member from, char **f, size_t n)
{
  struct runner *rn;
  size_t k;

  for (k = 0; vc_job_kinds[k] && strcmp (vc_job_kinds[k], f[4]) != 0; k++)
    ;
  if (vc_job_kinds[k] == NULL || !vc_job_text_ok (f[5], VC_LEASE_NAME_MAX) ||
      strtoul (f[1], NULL, 10) != from.nodeid || strtoul (f[2], NULL, 10) != from.pid ||
      !vc_job_args_allowed (k, f + 6, n - 6)) {
    vc_warn ("refused a malformed job from node %" PRIu32, from.nodeid);
    return;
  }
  rn = calloc (1, sizeof *rn);
  if (rn == NULL)
    return;
  rn->asker = from;
  rn->kind = k;
  rn->asker_node = strdup (f[1]);
  rn->asker_pid = strdup (f[2]);
  rn->id = strdup (f[3]);
  rn->domain = strdup (f[5]);
  rn->job_id = vc_printf ("%s:%s:%s", f[1], f[2], f[3]);
  if (!rn->asker_node || !rn->asker_pid || !rn->id || !rn->domain || !rn->job_id ||
      store_args (rn, f + 6, n - 6) == -1 ||
      (rn->check = vc_child_check_running (rn->domain, runner_checked, rn)) == NULL) {
    vc_error ("cannot take a job from node %" PRIu32, from.nodeid);
    runner_free (rn);
  }
}

void
vc_handover_on_message (void *opaque, struct vc_member from, const char *payload,
                        size_t len)
{
  char *f[64];
  ssize_t n = vc_wire_split (payload, len, 64, f);

  if (n < 4) {
    if (n > 0)
      vc_wire_fields_free (n, f);
    vc_warn ("dropped a malformed job message from node %" PRIu32, from.nodeid);
    return;
  }
  if (strcmp (f[0], "RUN") == 0) {
    if (n >= 6)
      on_run (from, f, n);
  }
  else if (strtoul (f[1], NULL, 10) == vc_jobs.r->self.nodeid &&
           strtoul (f[2], NULL, 10) == vc_jobs.r->self.pid)
    on_answer (from, f[0], f, n);
  vc_wire_fields_free (n, f);
}

/* --- IPC from the CLI, membership, shutdown -------------------------------------- */

/* JOB_SUBMIT payload: KIND DOMAIN ARG... (fields) -> the request id. */
void
vc_handover_ipc_submit (qb_ipcs_connection_t *c, int32_t id, const char *payload,
                        size_t len)
{
  char *f[64];
  ssize_t n = vc_wire_split (payload, len, 64, f);
  size_t k = 0;
  struct ask *a;
  int err;

  if (n >= 2)
    for (k = 0; vc_job_kinds[k] && strcmp (vc_job_kinds[k], f[0]) != 0; k++)
      ;
  if (n < 2 || vc_job_kinds[k] == NULL || k == VC_JOB_LOCATE ||
      !vc_job_text_ok (f[1], VC_LEASE_NAME_MAX) || !vc_job_args_allowed (k, f + 2, n - 2)) {
    if (n > 0)
      vc_wire_fields_free (n, f);
    vc_jobs_reply (c, id, -EINVAL, "malformed job request");
    return;
  }
  a = ask_start (k, f[1], f + 2, n - 2, &err);
  vc_wire_fields_free (n, f);
  if (a == NULL) {
    vc_jobs_reply (c, id, -err, err == ENOTCONN ? "virtckptd is not synced with the cluster"
           : strerror (err));
    return;
  }
  qb_ipcs_connection_ref (c);
  a->c = c;
  char text[24];
  snprintf (text, sizeof text, "%" PRIu64, a->id);
  vc_jobs_reply (c, id, 0, text);
}

/* JOB_POLL payload: the id -> "STATE\n" then output records; STATE is
 * "waiting", "running NODE", "done STATUS [NODE]" or "nowhere", and a
 * done request's message comes as a "2 " record.
 */
void
vc_handover_ipc_poll (qb_ipcs_connection_t *c, int32_t id, const char *payload,
                      size_t len)
{
  char buf[24];
  struct ask *a;
  size_t take;
  char *text;

  snprintf (buf, sizeof buf, "%.*s", (int) (len < 23 ? len : 23), payload);
  a = ask_find (strtoull (buf, NULL, 10));
  if (a == NULL || a->c != c) {
    vc_jobs_reply (c, id, -ENOENT, "no such job");
    return;
  }
  for (take = 0; take < a->out_len; ) {
    char *nl = memchr (a->out + take, '\n', a->out_len - take);
    if (nl == NULL || (size_t) (nl + 1 - a->out) > POLL_REPLY_MAX)
      break;
    take = nl + 1 - a->out;
  }
  bool all = take == a->out_len;
  if (all && a->done && !a->have_runner)
    text = vc_printf ("nowhere\n");
  else if (all && a->done)
    text = vc_printf ("done %d %" PRIu32 "\n%.*s%s%s%s", a->status, a->runner.nodeid,
                      (int) take, a->out ? a->out : "", a->message ? "2 " : "",
                      a->message ? a->message : "", a->message ? "\n" : "");
  else if (a->have_runner)
    text = vc_printf ("running %" PRIu32 "\n%.*s", a->runner.nodeid, (int) take,
                      a->out ? a->out : "");
  else
    text = vc_printf ("waiting\n");
  if (text == NULL) {
    vc_jobs_reply (c, id, -ENOMEM, "out of memory");
    return;
  }
  memmove (a->out, a->out + take, a->out_len - take);
  a->out_len -= take;
  vc_jobs_reply (c, id, 0, text);
  free (text);
  if (all && a->done)
    ask_free (a);
}

void
vc_handover_ipc_closed (qb_ipcs_connection_t *c)
{
  /* A CLI gone (ended or killed): the job it handed over goes on. */
  for (size_t i = asks.len; i-- > 0;)
    if (asks.ptr[i]->c == c)
      ask_free (asks.ptr[i]);
}

void
vc_handover_confchg (void)
{
  for (size_t i = asks.len; i-- > 0;) {
    struct ask *a = asks.ptr[i];
    if (a->done)
      continue;
    bool present = false;
    for (size_t k = 0; k < vc_jobs.r->members.len; k++)
      present |= vc_member_eq (vc_jobs.r->members.ptr[k], a->runner);
    if (a->have_runner && !present) {
      CLEANUP_FREE char *msg =
        vc_printf ("node %" PRIu32 ", which ran the %s of %s, left the cluster: "
                   "the job's outcome is unknown", a->runner.nodeid,
                   vc_job_kinds[a->kind], a->domain);
      ask_finish (a, VC_EXIT_ERROR, msg);
    }
    else if (!a->have_runner)
      ask_check_nowhere (a);
  }
}

void
vc_handover_shutdown_asks (void)
{
  while (asks.len)
    ask_free (asks.ptr[0]);
  ask_vector_reset (&asks);
}

void
vc_handover_release_child (struct child *ch)
{
  if (ch->done == runner_checked)
    runner_free (ch->owner);
}

void
vc_handover_release_job (vc_job_end_fn end, void *opaque)
{
  if (end == runner_end)
    runner_free (opaque);
}
