/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the schedule commands share (schedule-common.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/schedule-common.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "store/schedule.h"

int
vc_sched_usage (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "virtckpt: schedule %s: ", cmd);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\nTry 'virtckpt schedule %s --help'.\n", cmd);
  return VC_EXIT_USAGE;
}

int
vc_sched_open_store (const struct vc_options *opts, struct vc_store *store, bool writes)
{
  int r = vc_store_open_cli (store, opts->store_dir, opts->store_explicit, writes);

  if (r < 0)
    return vc_store_open_exit_code (r);
  return VC_EXIT_OK;
}

int
vc_sched_load_manifest (const struct vc_schedule *s, struct vc_manifest *m,
               struct vc_manifest **out)
{
  int fd = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;

  *out = NULL;
  memset (m, 0, sizeof *m);
  if (fd == -1) {
    if (errno == ENOENT)
      return 0;
    vc_error ("cannot open backup directory %s: %m", s->dir);
    return -1;
  }
  r = vc_manifest_load (fd, s->dir, m);
  close (fd);
  if (r == -1)
    return -1;
  if (r == 0)
    *out = m;
  return 0;
}

void
vc_sched_compute_due (const struct vc_chain *chain, int64_t now, struct vc_due_state *st)
{
  struct vc_manifest m, *mp;

  memset (st, 0, sizeof *st);
  if (vc_sched_load_manifest (chain->schedule, &m, &mp) == -1)
    return;
  st->known = true;
  vc_schedule_due (chain->schedule, mp, chain->broken, now, &st->due);
  vc_manifest_clear (&m);
}

void
vc_sched_format_time (int64_t t, char *buf, size_t len, bool zone)
{
  time_t tt = t;
  struct tm tm;

  if (localtime_r (&tt, &tm) == NULL ||
      strftime (buf, len, zone ? "%F %T %z" : "%F %T", &tm) == 0)
    snprintf (buf, len, "%" PRId64, t);
}

int
vc_sched_for_each (const struct vc_options *o, struct vc_store *store,
                   int argc, char **argv, vc_sched_visit_fn *fn, void *data)
{
  string_vector names = empty_vector;
  int ret = VC_EXIT_OK;

  if (argc == 0 && vc_store_list (store, &names) == -1)
    return VC_EXIT_ERROR;
  for (size_t i = 0; i < (argc ? (size_t) argc : names.len); i++) {
    const char *name = argc ? argv[i] : names.ptr[i];
    struct vc_chain chain;
    int r = vc_store_load (store, name, &chain);
    if (r == -1) {
      ret = VC_EXIT_ERROR;
      continue;
    }
    if (r == 1 || chain.schedule == NULL) {
      if (r == 0)
        vc_chain_clear (&chain);
      if (argc) {
        vc_error ("no schedule for '%s'", name);
        printf ("%s: no schedule\n", name);
        ret = VC_EXIT_ERROR;
      }
      continue;
    }
    if (fn (o, &chain, data) != VC_EXIT_OK)
      ret = VC_EXIT_ERROR;
    vc_chain_clear (&chain);
  }
  vc_string_vector_free (&names);
  return ret;
}
