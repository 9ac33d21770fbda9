/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a schedule asks for now: nothing until a time, or a backup, full
 * or incremental.  Pure: the same schedule, manifest and time give the
 * same answer on every node, which is what lets any node (virtckptd's
 * scheduler, 'virtckpt schedule run') decide alone.
 *
 * Windows are [k * every, (k + 1) * every) in seconds since the epoch.
 * A window is served by a backup that started in it (any level but copy,
 * which starts no chain), and one backup serves it however many windows
 * were missed before: a missed window is caught up once.  The level is
 * full when there is no chain yet, when the store marks the chain broken,
 * or when full-every is set and the window of the chain's full backup is
 * at least full-every before the current window (measured in windows, so
 * that a full a few seconds late still counts as due on time).
 * Otherwise inc (and 'virtckpt backup --level auto' still falls back to a
 * full when libvirt cannot carry the chain).
 */
#ifndef VIRTCKPT_SCHEDULE_DUE_H
#define VIRTCKPT_SCHEDULE_DUE_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/manifest.h"
#include "store/schedule.h"

struct vc_schedule_due {
  bool due;                     /* a backup is due now */
  bool full;                    /* when due: a full backup, else inc */
  int64_t window;               /* start of the window that now is in */
  int64_t next;                 /* start of the next window: when nothing
                                   is due, when the next backup is */
  const char *why;              /* why due (and why full), or why not;
                                   static */
};

/* m: the backup directory's manifest, NULL when it has none (or cannot
 * be read: then a full is due).  chain_broken: the store marks the
 * domain's chain broken.
 */
extern void vc_schedule_due (const struct vc_schedule *s,
                             const struct vc_manifest *m, bool chain_broken,
                             int64_t now, struct vc_schedule_due *out);

/* The window of t: the largest multiple of every not after t. */
extern int64_t vc_schedule_window (uint64_t every, int64_t t);

#endif
