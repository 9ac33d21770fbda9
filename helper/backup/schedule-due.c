/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <string.h>

#include "backup/schedule-due.h"

int64_t
vc_schedule_window (uint64_t every, int64_t t)
{
  int64_t r;

  if (every == 0 || every > INT64_MAX)
    return t;
  r = t % (int64_t) every;
  /* C rounds towards zero: before the epoch, go down to the multiple. */
  if (r < 0)
    r += (int64_t) every;
  return t - r;
}

static bool
is_copy (const struct vc_backup *b)
{
  return b->level == NULL || strcmp (b->level, "copy") == 0;
}

/* The newest backup that serves a window (not a copy), or NULL. */
static const struct vc_backup *
last_backup (const struct vc_manifest *m)
{
  for (size_t i = m->backups.len; i-- > 0; )
    if (!is_copy (&m->backups.ptr[i]))
      return &m->backups.ptr[i];
  return NULL;
}

/* The full backup that b's chain starts with, or NULL when the parents
 * lead elsewhere.  Bounded: a manifest is untrusted.
 */
static const struct vc_backup *
chain_full (const struct vc_manifest *m, const struct vc_backup *b)
{
  for (size_t steps = 0; b && steps <= m->backups.len; steps++) {
    if (b->level && strcmp (b->level, "full") == 0)
      return b;
    if (b->parent == 0)
      return NULL;
    b = vc_manifest_find (m, b->parent);
  }
  return NULL;
}

/* True when the window of full is at least full_every before window. */
static bool
full_too_old (const struct vc_schedule *s, const struct vc_backup *full,
              int64_t window)
{
  int64_t full_window = vc_schedule_window (s->every, full->started);

  if (full_window > window)
    return false;               /* a clock that went back: not old */
  return (uint64_t) window - (uint64_t) full_window >= s->full_every;
}

void
vc_schedule_due (const struct vc_schedule *s, const struct vc_manifest *m,
                 bool chain_broken, int64_t now, struct vc_schedule_due *out)
{
  uint64_t every = s->every ? s->every : 1;
  const struct vc_backup *last = m ? last_backup (m) : NULL;
  const struct vc_backup *tip = m ? vc_manifest_tip (m) : NULL;
  const struct vc_backup *full;

  memset (out, 0, sizeof *out);
  out->window = vc_schedule_window (every, now);
  out->next = (uint64_t) INT64_MAX - (uint64_t) out->window < every
    ? INT64_MAX : out->window + (int64_t) every;

  if (last && last->started >= out->window) {
    out->why = "backed up in this window";
    return;
  }
  out->due = true;
  out->full = true;
  if (tip == NULL)
    out->why = "no backup chain yet";
  else if (chain_broken)
    out->why = "the checkpoint chain is broken";
  else if ((full = chain_full (m, tip)) == NULL)
    out->why = "the chain has no full backup";
  else if (s->full_every && full_too_old (s, full, out->window))
    out->why = "the last full backup is older than full-every";
  else {
    out->full = false;
    out->why = "not backed up in this window";
  }
}
