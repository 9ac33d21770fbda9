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

#endif
