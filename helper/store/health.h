/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A domain's backup health, from its store document alone, so that every
 * node tells the same (virtckpt status, the checkpoints agent's node
 * attribute).
 */
#ifndef VIRTCKPT_HEALTH_H
#define VIRTCKPT_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store/chain.h"

enum vc_health {
  VC_HEALTH_OK,                 /* the last backup ended ok, the chain is whole */
  VC_HEALTH_NEVER,              /* no backup recorded */
  /* the last backup was cancelled or stopped: the next one resumes it */
  VC_HEALTH_INTERRUPTED,
  VC_HEALTH_OVERDUE,            /* no ok backup for two of its schedule's periods */
  VC_HEALTH_BROKEN,             /* the next backup is full */
  VC_HEALTH_FAILED,             /* the last backup failed */
};

/* In that order: the first that holds.  failed, broken, overdue;
 * interrupted; never; ok.
 */
extern enum vc_health vc_health_state (const struct vc_chain *chain, int64_t now);

extern const char *vc_health_name (enum vc_health h);

/* What status --check counts as a problem: failed, broken, overdue. */
extern bool vc_health_is_problem (enum vc_health h);

/* True when a backup every `every` seconds (> 0) is overdue at now: none
 * ended ok within two periods (one of slack: a window's backup may run
 * late in it).  Never overdue before a first ok backup: the schedule may
 * be new.
 */
extern bool vc_health_overdue (const struct vc_chain *chain, int64_t every,
                               int64_t now);

#endif
