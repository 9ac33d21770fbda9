/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A qcow2 v3 image whose whole content is known before it is written.
 *
 * A backup knows, from NBD block status, which clusters it will write and
 * which it will mark zero before it reads any data.  So the layout is fixed
 * up front:
 *
 *   [header][L1][refcount table][refcount blocks][L2 tables][data...]
 *
 * with data clusters in guest order.  The metadata is streamed first and
 * the data then lands at known offsets, in any order; the file is written
 * once, never patched, and a SHA-256 of the whole file can be computed as
 * it streams (sha256sum of the finished file gives the same digest).
 * Memory is O(one cluster) whatever the disk size.
 */
#ifndef VIRTCKPT_QCOW2_PLAN_H
#define VIRTCKPT_QCOW2_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "backup/extent.h"

#define VC_QCOW2_CLUSTER_BITS 16
#define VC_QCOW2_CLUSTER_SIZE (UINT64_C (1) << VC_QCOW2_CLUSTER_BITS)

struct vc_qcow2_plan {
  /* Input. */
  uint64_t virtual_size;
  const vc_range_vector *data;  /* cluster aligned (the last may end at the
                                   size rounded up), sorted, disjoint */
  const vc_range_vector *zero;  /* read as zeroes; disjoint from data */
  const char *backing;          /* backing file name as stored, or NULL */
  const char *backing_fmt;      /* e.g. "qcow2", or NULL */

  /* Computed by vc_qcow2_plan_layout; offsets in bytes. */
  uint64_t l1_entries, l1_offset;
  uint64_t refcount_table_offset, refcount_table_clusters;
  uint64_t refcount_blocks_offset, refcount_blocks;
  uint64_t l2_offset, l2_tables;
  uint64_t data_offset, data_clusters;
  uint64_t file_size;
};

/* Returns -1 (errno EINVAL) when the input is unusable: a backing name
 * that does not fit in the header cluster, ranges beyond the size, or
 * ranges not aligned.
 */
extern int vc_qcow2_plan_layout (struct vc_qcow2_plan *plan);

typedef int (*vc_emit_fn) (void *opaque, const void *buf, size_t len);

/* Produces the bytes [0, data_offset) of the image, in order, through
 * emit.  Returns -1 if emit does (or on ENOMEM).
 */
extern int vc_qcow2_plan_emit_metadata (const struct vc_qcow2_plan *plan,
                                        vc_emit_fn emit, void *opaque);

/* The same, written to fd from offset 0.  -1 and errno on failure. */
extern int vc_qcow2_plan_write_metadata (const struct vc_qcow2_plan *plan, int fd);

#endif
