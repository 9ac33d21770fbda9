/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include "store/health.h"
#include "store/schedule.h"
#include "store/last-backup.h"

static const char *const names[] = {
  [VC_HEALTH_OK] = "ok", [VC_HEALTH_NEVER] = "never",
  [VC_HEALTH_INTERRUPTED] = "interrupted", [VC_HEALTH_OVERDUE] = "overdue",
  [VC_HEALTH_BROKEN] = "broken", [VC_HEALTH_FAILED] = "failed",
};

const char *
vc_health_name (enum vc_health h)
{
  return h <= VC_HEALTH_FAILED ? names[h] : "failed";
}

bool
vc_health_is_problem (enum vc_health h)
{
  return h == VC_HEALTH_FAILED || h == VC_HEALTH_BROKEN || h == VC_HEALTH_OVERDUE;
}

bool
vc_health_overdue (const struct vc_chain *chain, int64_t every, int64_t now)
{
  const struct vc_last_backup *lb = chain->last_backup;

  if (every <= 0 || lb == NULL || lb->ok_time <= 0)
    return false;
  return now - lb->ok_time > 2 * every;
}

enum vc_health
vc_health_state (const struct vc_chain *chain, int64_t now)
{
  const struct vc_last_backup *lb = chain->last_backup;
  /* The period of the domain's schedule, 0 without one. */
  int64_t every = chain->schedule ? (int64_t) chain->schedule->every : 0;

  if (lb && lb->result == VC_RESULT_FAILED)
    return VC_HEALTH_FAILED;
  if (chain->broken)
    return VC_HEALTH_BROKEN;
  if (vc_health_overdue (chain, every, now))
    return VC_HEALTH_OVERDUE;
  if (lb && lb->result == VC_RESULT_INTERRUPTED)
    return VC_HEALTH_INTERRUPTED;
  return lb ? VC_HEALTH_OK : VC_HEALTH_NEVER;
}
