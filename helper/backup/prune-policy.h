/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which backups a retention policy keeps, as restic and borg "forget"
 * decide it.  Pure: no I/O, no clock; times are the backups' start times
 * (UTC).
 *
 *   keep-last N     the N newest points
 *   keep-daily N    the newest point of each of the N most recent days
 *                   (UTC) that have points; keep-weekly: ISO weeks (the
 *                   ISO year and week, Monday first), keep-monthly: months
 *   tip             the newest point of any chain (what the next
 *                   incremental builds on), always
 *   resume          a point an interrupted backup (.partial-ID) builds
 *                   on, always
 *
 * A point is kept when any rule keeps it.  Copies are points too (they
 * count for every rule) but never the tip.  Points are ordered newest
 * first by start time, then by id.
 */
#ifndef VIRTCKPT_PRUNE_POLICY_H
#define VIRTCKPT_PRUNE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vc_prune_policy {
  unsigned last, daily, weekly, monthly;
};

/* Why a point is kept: a set of these bits, 0 when it is removed. */
enum {
  VC_KEEP_LAST = 1 << 0,
  VC_KEEP_DAILY = 1 << 1,
  VC_KEEP_WEEKLY = 1 << 2,
  VC_KEEP_MONTHLY = 1 << 3,
  VC_KEEP_TIP = 1 << 4,
  VC_KEEP_RESUME = 1 << 5,
};

struct vc_prune_point {
  unsigned id;
  int64_t time;                 /* seconds since 1970, UTC */
  bool tip;
  bool pinned;                  /* an interrupted backup builds on it */
  unsigned keep;                /* output: VC_KEEP_* bits */
};

/* Whether the policy keeps anything at all (some N > 0). */
extern bool vc_prune_policy_valid (const struct vc_prune_policy *p);

/* Sets keep of each of the n points.  Returns 0, or -1 (ENOMEM). */
extern int vc_prune_policy_apply (const struct vc_prune_policy *p,
                                  struct vc_prune_point *points, size_t n);

/* "last,daily,tip,resume": the reasons in bits, comma separated, into buf. */
extern const char *vc_prune_reasons (unsigned keep, char *buf, size_t len);

#endif
