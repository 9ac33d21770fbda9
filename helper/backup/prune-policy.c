/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup/prune-policy.h"
#include "common/cleanup.h"

bool
vc_prune_policy_valid (const struct vc_prune_policy *p)
{
  return p->last || p->daily || p->weekly || p->monthly;
}

/* Newest first: by time, then by id. */
static int
newest_first (const void *a, const void *b)
{
  const struct vc_prune_point *x = *(const struct vc_prune_point *const *) a;
  const struct vc_prune_point *y = *(const struct vc_prune_point *const *) b;

  if (x->time != y->time)
    return x->time > y->time ? -1 : 1;
  return x->id > y->id ? -1 : x->id < y->id;
}

/* The period a time falls in, as a number that differs between periods:
 * the day, the ISO week (year * 100 + week) or the month (year * 12 +
 * month).
 */
enum period { DAY, WEEK, MONTH };

static int64_t
period_of (int64_t t, enum period p)
{
  time_t tt = t;
  struct tm tm;
  char buf[16];

  switch (p) {
  case DAY:
    /* Floor division: times before 1970 have their own days too. */
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  case WEEK:
    if (gmtime_r (&tt, &tm) == NULL || strftime (buf, sizeof buf, "%G%V", &tm) == 0)
      return INT64_MIN;
    return strtoll (buf, NULL, 10);
  case MONTH:
  default:
    if (gmtime_r (&tt, &tm) == NULL)
      return INT64_MIN;
    return (int64_t) tm.tm_year * 12 + tm.tm_mon;
  }
}

/* Keeps the newest point of each of the n most recent periods. */
static void
keep_periods (struct vc_prune_point **v, size_t len, unsigned n, enum period p,
              unsigned bit)
{
  int64_t last = 0;
  bool have = false;
  unsigned kept = 0;

  for (size_t i = 0; i < len && kept < n; i++) {
    int64_t cur = period_of (v[i]->time, p);
    if (have && cur == last)
      continue;
    have = true;
    last = cur;
    v[i]->keep |= bit;
    kept++;
  }
}

int
vc_prune_policy_apply (const struct vc_prune_policy *p,
                       struct vc_prune_point *points, size_t n)
{
  CLEANUP_FREE struct vc_prune_point **v = calloc (n ? n : 1, sizeof *v);

  if (v == NULL)
    return -1;
  for (size_t i = 0; i < n; i++) {
    points[i].keep = (points[i].tip ? VC_KEEP_TIP : 0) |
      (points[i].pinned ? VC_KEEP_RESUME : 0);
    v[i] = &points[i];
  }
  qsort (v, n, sizeof *v, newest_first);
  for (size_t i = 0; i < n && i < p->last; i++)
    v[i]->keep |= VC_KEEP_LAST;
  keep_periods (v, n, p->daily, DAY, VC_KEEP_DAILY);
  keep_periods (v, n, p->weekly, WEEK, VC_KEEP_WEEKLY);
  keep_periods (v, n, p->monthly, MONTH, VC_KEEP_MONTHLY);
  return 0;
}

const char *
vc_prune_reasons (unsigned keep, char *buf, size_t len)
{
  static const struct { unsigned bit; const char *name; } names[] = {
    { VC_KEEP_LAST, "last" }, { VC_KEEP_DAILY, "daily" },
    { VC_KEEP_WEEKLY, "weekly" }, { VC_KEEP_MONTHLY, "monthly" },
    { VC_KEEP_TIP, "tip" }, { VC_KEEP_RESUME, "resume" },
  };
  size_t pos = 0;

  if (len)
    buf[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (keep & names[i].bit) {
      int r = snprintf (buf + pos, len > pos ? len - pos : 0, "%s%s",
                        pos ? "," : "", names[i].name);
      if (r > 0)
        pos += r;
    }
  return buf;
}
