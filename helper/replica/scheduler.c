/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's scheduler (scheduler.h). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/kv-lines.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "replica/jobs.h"
#include "replica/lease.h"
#include "replica/scheduler.h"
#include "store/store-scan.h"

/* What the scheduler knows of one scheduled domain. */
struct sched {
  char *domain;
  uint64_t every;
  int64_t set;                  /* the schedule's stamp: a new one resets */
  int64_t next_check;           /* look again from then (0: at once) */
  struct vc_job *job;           /* its 'schedule run', while it runs */
  int64_t job_started;          /* when that run started */
  bool seen;                    /* in this tick's scan */
};
DEFINE_VECTOR_TYPE (sched_vector, struct sched);

static struct {
  qb_loop_t *loop;
  struct vc_replica *r;
  qb_loop_timer_handle timer;
  bool timer_armed;
  unsigned tick;                /* seconds */
  sched_vector scheds;          /* sorted by domain */
  bool listing;                 /* a lister child runs */
  size_t running;               /* jobs */
  uint64_t next_job;
  /* The replica as of the last scan: the daemon is its only writer, by
   * updates and syncs, so the table is current while these are.
   */
  bool scanned;
  uint64_t scanned_updates, scanned_syncs;
  bool warned_libvirt;
  /* For status. */
  uint64_t runs, failures;
} S;

static void tick (void *unused);

/* Why nothing is scheduled now, or NULL. */
static const char *
paused (void)
{
  if (S.r->state != VC_REPLICA_SYNCED)
    return "not synced with the cluster";
  if (!S.r->quorate)
    return "no quorum";
  return NULL;
}

static void
arm (void)
{
  if (qb_loop_timer_add (S.loop, QB_LOOP_LOW, (uint64_t) S.tick * QB_TIME_NS_IN_SEC,
                         NULL, tick, &S.timer) == 0)
    S.timer_armed = true;
  else
    vc_error ("cannot arm the scheduler's timer: backups are not scheduled");
}

static int
compare_sched (const void *a, const void *b)
{
  return strcmp (((const struct sched *) a)->domain,
                 ((const struct sched *) b)->domain);
}

static struct sched *
find (const char *domain)
{
  struct sched key = { .domain = (char *) domain };

  return S.scheds.len ? bsearch (&key, S.scheds.ptr, S.scheds.len,
                                 sizeof key, compare_sched) : NULL;
}

static void
sched_remove (size_t i)
{
  free (S.scheds.ptr[i].domain);
  sched_vector_remove (&S.scheds, i);
}

/* Start of the window after the one t is in. */
static int64_t
next_window (uint64_t every, int64_t t)
{
  return t - t % (int64_t) every + (int64_t) every;
}

/* --- the schedules, from the store ------------------------------------------- */

static int
scan_one (const struct vc_doc_summary *s, void *unused)
{
  struct sched *e;

  if (s->schedule_every == 0)
    return 0;
  e = find (s->domain);
  if (e == NULL) {
    struct sched n = { .domain = strdup (s->domain), .every = s->schedule_every,
                       .set = s->schedule_set };
    size_t at = 0, end;
    if (n.domain == NULL || sched_vector_append (&S.scheds, n) == -1) {
      free (n.domain);
      return 0;
    }
    /* Keep the order: move it into place, found by bisection (a linear
     * search made the first scan quadratic: 2.9 s at 50 000 schedules).
     */
    end = S.scheds.len - 1;
    while (at < end) {
      size_t mid = at + (end - at) / 2;
      if (strcmp (S.scheds.ptr[mid].domain, n.domain) < 0)
        at = mid + 1;
      else
        end = mid;
    }
    memmove (&S.scheds.ptr[at + 1], &S.scheds.ptr[at],
             (S.scheds.len - 1 - at) * sizeof n);
    S.scheds.ptr[at] = n;
    e = &S.scheds.ptr[at];
  }
  else if (e->set != s->schedule_set || e->every != s->schedule_every) {
    e->every = s->schedule_every;
    e->set = s->schedule_set;
    e->next_check = 0;
  }
  e->seen = true;
  return 0;
}

/* Brings the table up to the store; sets the tick from the periods.
 * -1 when the store could not be listed (logged).
 */
static int
refresh (void)
{
  uint64_t shortest = VC_SCHEDULER_TICK_MAX * 4;

  for (size_t i = 0; i < S.scheds.len; i++)
    S.scheds.ptr[i].seen = false;
  if (vc_store_scan (S.r->store, scan_one, NULL) == -1) {
    for (size_t i = 0; i < S.scheds.len; i++)
      S.scheds.ptr[i].seen = true;
    return -1;
  }
  for (size_t i = S.scheds.len; i-- > 0;) {
    struct sched *e = &S.scheds.ptr[i];
    if (!e->seen && e->job == NULL)
      sched_remove (i);
    else if (e->every < shortest)
      shortest = e->every;
  }
  S.tick = shortest / 4 ? shortest / 4 : 1;
  return 0;
}

/* --- runs ------------------------------------------------------------------- */

static void
run_line (void *opaque, struct vc_job *j, int stream, const char *line)
{
  vc_notice ("schedule: %s", line);
}

static void
run_end (void *opaque, struct vc_job *j, int status, const char *why)
{
  int64_t now = time (NULL);
  struct sched *e = NULL;

  S.running--;
  for (size_t i = 0; i < S.scheds.len; i++)
    if (S.scheds.ptr[i].job == j)
      e = &S.scheds.ptr[i];
  if (e == NULL)
    return;
  e->job = NULL;
  if (why) {
    /* Its lease is another node's (a backup of it runs there): that one
     * serves the window, or leaves it to the next look.
     */
    vc_info ("schedule of %s: %s", e->domain, why);
    e->next_check = now + S.tick;
  }
  else if (status == VC_EXIT_OK)
    /* Served the window it started in (or found it served): the next
     * one is due from its start, also when the backup ran into it.
     */
    e->next_check = next_window (e->every, e->job_started);
  else if (status == VC_EXIT_BUSY)
    e->next_check = now + S.tick;      /* held or drained: said why */
  else {
    int64_t retry = e->every / 2;
    if (retry > VC_SCHEDULER_RETRY_MAX)
      retry = VC_SCHEDULER_RETRY_MAX;
    if (retry < S.tick)
      retry = S.tick;
    S.failures++;
    vc_warn ("the scheduled backup of %s failed (exit status %d): "
             "tried again in %" PRId64 " s", e->domain, status, retry);
    e->next_check = now + retry;
  }
  /* A schedule removed meanwhile. */
  if (!e->seen)
    sched_remove (e - S.scheds.ptr);
}

static void
run (struct sched *e)
{
  const char *args[8];
  size_t n = 0;
  CLEANUP_FREE char *job_id = vc_printf ("schedule:%" PRIu32 ":%" PRIu64,
                                         S.r->self.nodeid, ++S.next_job);
  struct vc_job_spec spec = {
    .domain = e->domain, .lease = true, .args = args,
    .line = run_line, .end = run_end,
  };

  if (job_id == NULL)
    return;
  args[n++] = "schedule";
  args[n++] = "run";
  if (strcmp (S.r->store->dir, STORE_DIR) != 0) {
    args[n++] = "--store";
    args[n++] = S.r->store->dir;
  }
  args[n++] = "--";
  args[n++] = e->domain;
  args[n] = NULL;
  spec.job_id = job_id;
  e->job_started = time (NULL);
  e->job = vc_job_start (&spec);
  if (e->job == NULL) {
    e->next_check = time (NULL) + S.tick;
    return;
  }
  S.running++;
  S.runs++;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
on_running (void *unused, const string_vector *names, int status)
{
  int64_t now = time (NULL);
  CLEANUP_FREE char **sorted = NULL;

  S.listing = false;
  if (status == -1) {
    if (!S.warned_libvirt)
      vc_warn ("scheduler: libvirt did not list its domains: no scheduled "
               "backup starts on this node until it does");
    S.warned_libvirt = true;
    return;
  }
  if (S.warned_libvirt)
    vc_notice ("scheduler: libvirt answers again");
  S.warned_libvirt = false;
  if (S.r->state != VC_REPLICA_SYNCED || !S.r->quorate || names->len == 0)
    return;
  sorted = malloc (names->len * sizeof *sorted);
  if (sorted == NULL)
    return;
  memcpy (sorted, names->ptr, names->len * sizeof *sorted);
  qsort (sorted, names->len, sizeof *sorted, compare_names);
  for (size_t i = 0; i < S.scheds.len && S.running < VC_SCHEDULER_JOBS; i++) {
    struct sched *e = &S.scheds.ptr[i];
    if (e->job || e->next_check > now || !e->seen)
      continue;
    /* A backup of it runs (by hand, handed over, or another node's run):
     * look again next tick, quietly.
     */
    if (vc_lease_holder (&S.r->leases, e->domain))
      continue;
    if (bsearch (&e->domain, sorted, names->len, sizeof *sorted, compare_names))
      run (e);
  }
}

static void
tick (void *unused)
{
  int64_t now = time (NULL);
  bool look = false;

  S.timer_armed = false;
  if (paused () == NULL) {
    if (!S.scanned || S.scanned_updates != S.r->updates_applied ||
        S.scanned_syncs != S.r->syncs) {
      S.scanned = refresh () == 0;
      S.scanned_updates = S.r->updates_applied;
      S.scanned_syncs = S.r->syncs;
    }
    for (size_t i = 0; i < S.scheds.len && !look; i++)
      look = S.scheds.ptr[i].job == NULL && S.scheds.ptr[i].next_check <= now;
    if (look && !S.listing && S.running < VC_SCHEDULER_JOBS &&
        vc_job_list_running (on_running, NULL) == 0)
      S.listing = true;
  }
  arm ();
}

void
vc_scheduler_look_now (const char *domain)
{
  struct sched *e = find (domain);

  vc_notice ("scheduler: looking at %s now", domain);
  if (e)
    e->next_check = 0;
  /* A new schedule is in the table after this tick's scan. */
  if (S.timer_armed)
    qb_loop_timer_del (S.loop, S.timer);
  S.timer_armed = false;
  tick (NULL);
}

void
vc_scheduler_init (qb_loop_t *loop, struct vc_replica *r)
{
  S.loop = loop;
  S.r = r;
  S.tick = VC_SCHEDULER_TICK_MAX;
  arm ();
}

void
vc_scheduler_shutdown (void)
{
  /* Runs go on (jobs.h); the next daemon finds what they served. */
  if (S.timer_armed)
    qb_loop_timer_del (S.loop, S.timer);
  S.timer_armed = false;
  while (S.scheds.len)
    sched_remove (S.scheds.len - 1);
  sched_vector_reset (&S.scheds);
}

char *
vc_scheduler_status (void)
{
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);

  if (fp == NULL)
    return NULL;
  fprintf (fp, "schedules: %zu\n", S.scheds.len);
  fprintf (fp, "scheduler: %s\n", paused () ? paused () : "running");
  fprintf (fp, "scheduled-runs: %" PRIu64 "\n", S.runs);
  fprintf (fp, "scheduled-failures: %" PRIu64 "\n", S.failures);
  for (size_t i = 0; i < S.scheds.len; i++)
    if (S.scheds.ptr[i].job)
      vc_kv_put (fp, "scheduled-running", S.scheds.ptr[i].domain);
  fclose (fp);
  return text;
}
