/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include "backup/rate.h"

static double
burst (const struct vc_rate *r)
{
  return r->bytes_per_second / 10.0;
}

void
vc_rate_init (struct vc_rate *r, uint64_t bytes_per_second)
{
  r->bytes_per_second = bytes_per_second;
  r->tokens = burst (r);
  clock_gettime (CLOCK_MONOTONIC, &r->last);
}

static void
refill (struct vc_rate *r)
{
  struct timespec now;
  double elapsed;

  clock_gettime (CLOCK_MONOTONIC, &now);
  elapsed = (now.tv_sec - r->last.tv_sec) + (now.tv_nsec - r->last.tv_nsec) / 1e9;
  r->last = now;
  if (elapsed > 0)
    r->tokens += elapsed * r->bytes_per_second;
  if (r->tokens > burst (r))
    r->tokens = burst (r);
}

int
vc_rate_wait_ms (struct vc_rate *r)
{
  if (r == NULL || r->bytes_per_second == 0)
    return 0;
  refill (r);
  if (r->tokens > 0)
    return 0;
  /* Round up, and at least 1 ms: poll (0) would spin.  At most a
   * second: the caller looks at its cancel flag in between.
   */
  double ms = -r->tokens * 1000 / r->bytes_per_second + 1;
  return ms > 1000 ? 1000 : (int) ms;
}

void
vc_rate_take (struct vc_rate *r, uint64_t bytes)
{
  if (r && r->bytes_per_second)
    r->tokens -= bytes;
}
