/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/chain.h"
#include "store/schedule.h"
#include "store/last-backup.h"
#include "common/vc-strings.h"

void
vc_disk_clear (struct vc_disk *d)
{
  free (d->name);
  free (d->mode);
  free (d->bitmap);
  memset (d, 0, sizeof *d);
}

void
vc_checkpoint_clear (struct vc_checkpoint *c)
{
  free (c->name);
  free (c->parent);
  free (c->xml);
  for (size_t i = 0; i < c->disks.len; i++)
    vc_disk_clear (&c->disks.ptr[i]);
  vc_disk_vector_reset (&c->disks);
  memset (c, 0, sizeof *c);
}

void
vc_chain_clear (struct vc_chain *chain)
{
  free (chain->domain);
  free (chain->uuid);
  free (chain->broken_reason);
  for (size_t i = 0; i < chain->checkpoints.len; i++)
    vc_checkpoint_clear (&chain->checkpoints.ptr[i]);
  vc_checkpoint_vector_reset (&chain->checkpoints);
  vc_schedule_free (chain->schedule);
  vc_last_backup_free (chain->last_backup);
  memset (chain, 0, sizeof *chain);
}

bool
vc_chain_holds_nothing (const struct vc_chain *chain)
{
  return chain->checkpoints.len == 0 && chain->schedule == NULL &&
    chain->last_backup == NULL;
}

ssize_t
vc_chain_find (const struct vc_chain *chain, const char *name)
{
  for (size_t i = 0; i < chain->checkpoints.len; i++)
    if (strcmp (chain->checkpoints.ptr[i].name, name) == 0)
      return i;
  return -1;
}

static int
sibling_order (const struct vc_checkpoint *a, const struct vc_checkpoint *b)
{
  if (a->created != b->created)
    return a->created < b->created ? -1 : 1;
  return strcmp (a->name, b->name);
}

int
vc_chain_sort (struct vc_chain *chain, char **err)
{
  size_t n = chain->checkpoints.len;
  struct vc_checkpoint *in = chain->checkpoints.ptr;
  struct vc_checkpoint *out;
  bool *placed;
  size_t done = 0;

  *err = NULL;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++)
      if (strcmp (in[i].name, in[j].name) == 0)
        return *err = vc_printf ("checkpoint %s appears twice", in[i].name), -1;
    if (in[i].parent && vc_chain_find (chain, in[i].parent) == -1)
      return *err = vc_printf ("parent %s of checkpoint %s is not in the chain",
                       in[i].parent, in[i].name), -1;
  }

  out = calloc (n ? n : 1, sizeof *out);
  placed = calloc (n ? n : 1, sizeof *placed);
  if (out == NULL || placed == NULL) {
    free (out);
    free (placed);
    return *err = vc_printf ("out of memory"), -1;
  }

  /* Kahn's algorithm: repeatedly place the earliest (by creation time, then
   * name) checkpoint whose parent is already placed.  Chains are tens of
   * checkpoints long, so the quadratic walk costs nothing and is obviously
   * deterministic.
   */
  while (done < n) {
    ssize_t best = -1;
    for (size_t i = 0; i < n; i++) {
      if (placed[i])
        continue;
      bool ready = in[i].parent == NULL;
      for (size_t k = 0; !ready && k < done; k++)
        ready = strcmp (out[k].name, in[i].parent) == 0;
      if (ready && (best == -1 || sibling_order (&in[i], &in[best]) < 0))
        best = i;
    }
    if (best == -1) {
      free (out);
      free (placed);
      return *err = vc_printf ("the checkpoints' parents form a cycle"), -1;
    }
    out[done++] = in[best];
    placed[best] = true;
  }

  if (n > 0)
    memcpy (in, out, n * sizeof *out);
  free (out);
  free (placed);
  return 0;
}

int
vc_chain_mark_broken (struct vc_chain *chain, const char *reason, int64_t now)
{
  if (chain->broken)
    return 0;
  char *r = strdup (reason);
  if (r == NULL)
    return -1;
  chain->broken = true;
  chain->broken_reason = r;
  chain->broken_since = now;
  return 0;
}

static bool
streq_null (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

bool
vc_chain_same_checkpoints (const struct vc_chain *a, const struct vc_chain *b)
{
  if (a->checkpoints.len != b->checkpoints.len || !streq_null (a->uuid, b->uuid))
    return false;
  for (size_t i = 0; i < a->checkpoints.len; i++) {
    const struct vc_checkpoint *x = &a->checkpoints.ptr[i];
    const struct vc_checkpoint *y = &b->checkpoints.ptr[i];
    if (strcmp (x->name, y->name) != 0 || !streq_null (x->parent, y->parent) ||
        !streq_null (x->xml, y->xml))
      return false;
  }
  return true;
}
