/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan of a sync: with every member's summary in, which version of
 * each domain wins, who sends it and who lacks it.  Every member runs
 * these pure functions on the same entries and reaches the same plan,
 * so the plan itself never travels.
 */
#ifndef VIRTCKPT_PLAN_H
#define VIRTCKPT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/vector.h"
#include "store/version.h"

/* What one member's summary says of one domain. */
struct vc_sync_entry {
  char *name;
  size_t member;                /* index in the sorted member list */
  struct vc_version v;
};
DEFINE_VECTOR_TYPE (vc_sync_entry_vector, struct vc_sync_entry *);

/* Orders versions: < 0, 0, > 0 as a loses to, ties or beats b. */
extern int vc_version_cmp (const struct vc_version *a, const struct vc_version *b);

/* Whether two members hold the same version. */
extern bool vc_version_same (const struct vc_version *a, const struct vc_version *b);

/* For qsort of struct vc_sync_entry *: by name, then member, so that
 * the entries of one domain are next to each other.
 */
extern int vc_sync_entry_cmp (const void *a, const void *b);

/* The end of the run of entries, from i, that name v[i]'s domain. */
extern size_t vc_plan_group_end (struct vc_sync_entry *const *v, size_t n,
                                 size_t i);

/* The winner among the n (n > 0) entries of one domain; never NULL. */
extern const struct vc_sync_entry *vc_plan_winner (struct vc_sync_entry *const *v,
                                                   size_t n);

/* Whether e, which lost to winner, was changed apart from it: a conflict. */
extern bool vc_plan_conflict (struct vc_sync_entry *const *v, size_t n,
                              const struct vc_sync_entry *e,
                              const struct vc_sync_entry *winner);

struct vc_domain_plan {
  const struct vc_sync_entry *winner;
  bool send;                    /* this member sends the winner */
  bool expect;                  /* this member lacks it and waits for it */
};

/* The plan of one domain's n entries, for member self of members. */
extern void vc_plan_domain (struct vc_sync_entry *const *v, size_t n,
                            size_t members, size_t self,
                            struct vc_domain_plan *plan);

#endif
