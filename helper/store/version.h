/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The version of a store document, as replication orders and plans them.
 *
 * Declared here, the lowest layer that stores it: the document format
 * (store/document.c), the store's scan (store-scan.h) and virtckptd's
 * planner (replica/plan.h) all speak of the same fields.
 */
#ifndef VIRTCKPT_VERSION_H
#define VIRTCKPT_VERSION_H

#include <stdbool.h>
#include <stdint.h>

struct vc_version {
  /* Replication orders documents by (generation, node); a local write
   * bumps the generation.
   */
  uint64_t generation;
  uint32_t node;
  /* Whether the writer's partition lacked quorum: only the quorate
   * partition runs the domain, so its versions win (doc/design.md).
   */
  bool without_quorum;
  /* A tombstone: the domain was forgotten. */
  bool deleted;
  /* The version this node agreed on at its last sync: a document whose
   * version differs from its base was changed since.
   */
  uint64_t base_generation;
  uint32_t base_node;
};

/* Every write makes a generation above its base (the version it was
 * written on top of); a sync makes the version its own base.  Anything
 * else was not written by virtckpt, and the sync planner could not order
 * it: a document or a summary saying so is refused.
 */
static inline bool
vc_version_valid (const struct vc_version *v)
{
  return v->generation > v->base_generation ||
    (v->generation == v->base_generation && v->node == v->base_node);
}

#endif
