/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the schedule commands share (cmd-schedule.c: set, remove, show,
 * list; cmd-schedule-run.c: run).
 */
#ifndef VIRTCKPT_SCHEDULE_COMMON_H
#define VIRTCKPT_SCHEDULE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/manifest.h"
#include "backup/schedule-due.h"
#include "cli/commands.h"
#include "store/chain.h"
#include "store/store.h"

/* "virtckpt: schedule CMD: ..." and the hint; returns VC_EXIT_USAGE. */
extern int vc_sched_usage (const char *cmd, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* The store as the command line names it; a VC_EXIT_* code. */
extern int vc_sched_open_store (const struct vc_options *opts,
                                struct vc_store *store, bool writes);

/* What is due for a schedule, seen from this node. */
struct vc_due_state {
  bool known;                   /* the backup directory could be read */
  struct vc_schedule_due due;
};

/* Loads the manifest of s->dir: a missing directory or manifest is no
 * backup yet; anything else unreadable leaves the answer unknown (the
 * directory may be mounted on another node only).  m is cleared by the
 * caller.  Returns 0 with *m (NULL when none), or -1 (logged).
 */
extern int vc_sched_load_manifest (const struct vc_schedule *s,
                                   struct vc_manifest *m, struct vc_manifest **out);
extern void vc_sched_compute_due (const struct vc_chain *chain, int64_t now,
                                  struct vc_due_state *st);
/* Local time, with the zone when zone. */
extern void vc_sched_format_time (int64_t t, char *buf, size_t len, bool zone);

/* Calls fn for every scheduled domain in the store (those of names when
 * given), in name order.  A domain named that has no schedule, or a
 * document that cannot be read, makes the result VC_EXIT_ERROR; the
 * others are still visited.
 */
typedef int vc_sched_visit_fn (const struct vc_options *o, const struct vc_chain *chain,
                      void *data);
extern int vc_sched_for_each (const struct vc_options *o, struct vc_store *store,
                              int argc, char **argv, vc_sched_visit_fn *fn,
                              void *data);

#endif
