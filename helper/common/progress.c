/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "common/progress.h"

static double
since (const struct timespec *a, const struct timespec *b)
{
  return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

void
vc_progress_start (struct vc_progress *p, uint64_t total, bool enabled)
{
  memset (p, 0, sizeof *p);
  p->total = total;
  p->enabled = enabled;
  clock_gettime (CLOCK_MONOTONIC, &p->start);
  p->last = p->start;
}

static void
show (struct vc_progress *p, const struct timespec *now)
{
  double secs = since (&p->start, now);
  double rate = secs > 0 ? p->done / secs : 0;
  double left = rate > 0 ? (p->total - p->done) / rate : 0;
  unsigned pct = p->total ? (unsigned) (100.0 * p->done / p->total) : 100;

  fprintf (stderr, "\r%8.1f / %.1f MiB  %3u%%  %7.1f MiB/s  ETA %u:%02u ",
           p->done / 1048576.0, p->total / 1048576.0, pct, rate / 1048576.0,
           (unsigned) left / 60, (unsigned) left % 60);
  fflush (stderr);
  p->shown = true;
}

void
vc_progress_add (struct vc_progress *p, uint64_t bytes)
{
  struct timespec now;

  p->done += bytes;
  if (!p->enabled)
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  if (since (&p->last, &now) < 0.25)
    return;
  p->last = now;
  show (p, &now);
}

void
vc_progress_finish (struct vc_progress *p)
{
  struct timespec now;

  /* The final state is shown even when the work was too quick for an
   * update: the terminal then keeps a record of the rate.
   */
  if (!p->enabled || (!p->shown && p->done == 0))
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  show (p, &now);
  fputc ('\n', stderr);
  p->shown = false;
  p->enabled = false;           /* finished once */
}
