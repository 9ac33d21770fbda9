/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sorted lists of byte ranges, and the set operations that turn NBD block
 * status into the plan of a backup image.
 */
#ifndef VIRTCKPT_EXTENT_H
#define VIRTCKPT_EXTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/vector.h"

struct vc_range {
  uint64_t offset;
  uint64_t length;
};
DEFINE_VECTOR_TYPE (vc_range_vector, struct vc_range);

/* Appends [offset, offset+length), merging with the last range when they
 * touch.  Ranges must be appended in increasing order.
 */
extern int vc_ranges_add (vc_range_vector *v, uint64_t offset, uint64_t length);

/* Widens every range to multiples of align (a power of two), clamped to
 * limit, merging ranges that then touch or overlap.  In place.
 */
extern void vc_ranges_align (vc_range_vector *v, uint64_t align, uint64_t limit);

/* out = a ∩ b, out = a − b.  Inputs sorted and disjoint; out must be empty
 * and distinct from the inputs.
 */
extern int vc_ranges_intersect (const vc_range_vector *a, const vc_range_vector *b,
                                vc_range_vector *out);
extern int vc_ranges_subtract (const vc_range_vector *a, const vc_range_vector *b,
                               vc_range_vector *out);

/* out = a ∪ b (same rules). */
extern int vc_ranges_union (const vc_range_vector *a, const vc_range_vector *b,
                            vc_range_vector *out);

/* out = the parts of a before offset end. */
extern int vc_ranges_below (const vc_range_vector *a, uint64_t end,
                            vc_range_vector *out);

extern uint64_t vc_ranges_total (const vc_range_vector *v);

#endif
