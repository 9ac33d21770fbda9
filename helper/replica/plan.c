/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "replica/plan.h"

int
vc_version_cmp (const struct vc_version *a, const struct vc_version *b)
{
  /* A version written with quorum beats one written without: only the
   * quorate partition runs the domain.  Then the newer generation, then
   * the higher node id, so that every member picks the same.
   */
  if (a->without_quorum != b->without_quorum)
    return a->without_quorum ? -1 : 1;
  if (a->generation != b->generation)
    return a->generation < b->generation ? -1 : 1;
  if (a->node != b->node)
    return a->node < b->node ? -1 : 1;
  return 0;
}

bool
vc_version_same (const struct vc_version *a, const struct vc_version *b)
{
  return a->generation == b->generation && a->node == b->node &&
    a->deleted == b->deleted && a->without_quorum == b->without_quorum;
}

int
vc_sync_entry_cmp (const void *a, const void *b)
{
  const struct vc_sync_entry *x = *(struct vc_sync_entry *const *) a;
  const struct vc_sync_entry *y = *(struct vc_sync_entry *const *) b;
  int c = strcmp (x->name, y->name);

  if (c)
    return c;
  return x->member < y->member ? -1 : x->member > y->member;
}

size_t
vc_plan_group_end (struct vc_sync_entry *const *v, size_t n, size_t i)
{
  size_t j = i;

  while (j < n && strcmp (v[j]->name, v[i]->name) == 0)
    j++;
  return j;
}

static bool
changed_since_base (const struct vc_version *v)
{
  return v->generation != v->base_generation || v->node != v->base_node;
}

static bool
any_changed (struct vc_sync_entry *const *v, size_t n)
{
  for (size_t k = 0; k < n; k++)
    if (changed_since_base (&v[k]->v))
      return true;
  return false;
}

/* f was written on top of u (or of a version later than u). */
static bool
descends (const struct vc_version *f, const struct vc_version *u)
{
  if (!changed_since_base (f))
    return false;
  return (u->generation == f->base_generation && u->node == f->base_node) ||
    u->generation < f->base_generation;
}

/* Candidates to win: the versions changed since their holder's last sync
 * that no other one was written on top of; if none changed, all of them
 * (a member that was away holds an older one).
 */
static bool
is_candidate (struct vc_sync_entry *const *v, size_t n,
              const struct vc_sync_entry *e)
{
  for (size_t k = 0; k < n; k++)
    if (!vc_version_same (&v[k]->v, &e->v) && descends (&v[k]->v, &e->v))
      return false;
  return true;
}

static const struct vc_sync_entry *
best (struct vc_sync_entry *const *v, size_t n, bool candidates_only)
{
  const struct vc_sync_entry *w = NULL;

  for (size_t k = 0; k < n; k++) {
    if (candidates_only && !is_candidate (v, n, v[k]))
      continue;
    if (w == NULL || vc_version_cmp (&v[k]->v, &w->v) > 0)
      w = v[k];
  }
  return w;
}

const struct vc_sync_entry *
vc_plan_winner (struct vc_sync_entry *const *v, size_t n)
{
  const struct vc_sync_entry *w = NULL;

  if (any_changed (v, n))
    w = best (v, n, true);
  /* Versions that each claim to descend from another (damaged or
   * hand-made bases) leave no candidate: the plan still needs a winner,
   * and the highest version is one every member agrees on.
   */
  return w ? w : best (v, n, false);
}

bool
vc_plan_conflict (struct vc_sync_entry *const *v, size_t n,
                  const struct vc_sync_entry *e,
                  const struct vc_sync_entry *winner)
{
  return !vc_version_same (&e->v, &winner->v) && any_changed (v, n) &&
    is_candidate (v, n, e);
}

void
vc_plan_domain (struct vc_sync_entry *const *v, size_t n, size_t members,
                size_t self, struct vc_domain_plan *plan)
{
  const struct vc_sync_entry *w = vc_plan_winner (v, n);
  size_t sender = SIZE_MAX;     /* the first member holding the winner */
  bool i_have = false, all_have = n == members;

  for (size_t k = 0; k < n; k++) {
    if (!vc_version_same (&v[k]->v, &w->v))
      all_have = false;
    else {
      if (v[k]->member < sender)
        sender = v[k]->member;
      if (v[k]->member == self)
        i_have = true;
    }
  }
  plan->winner = w;
  plan->send = !all_have && sender == self;
  plan->expect = !all_have && sender != self && !i_have;
}
