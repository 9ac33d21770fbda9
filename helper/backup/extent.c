/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include "backup/extent.h"

int
vc_ranges_add (vc_range_vector *v, uint64_t offset, uint64_t length)
{
  if (length == 0)
    return 0;
  if (v->len > 0) {
    struct vc_range *last = &v->ptr[v->len - 1];
    if (last->offset + last->length >= offset) {
      uint64_t end = offset + length;
      if (end > last->offset + last->length)
        last->length = end - last->offset;
      return 0;
    }
  }
  return vc_range_vector_append (v, (struct vc_range) { offset, length });
}

void
vc_ranges_align (vc_range_vector *v, uint64_t align, uint64_t limit)
{
  size_t out = 0;

  for (size_t i = 0; i < v->len; i++) {
    uint64_t start = v->ptr[i].offset & ~(align - 1);
    uint64_t end = v->ptr[i].offset + v->ptr[i].length;
    if (start >= limit)
      continue;
    end = (end + align - 1) & ~(align - 1);
    if (end > limit)
      end = limit;
    if (out > 0 && v->ptr[out - 1].offset + v->ptr[out - 1].length >= start) {
      struct vc_range *last = &v->ptr[out - 1];
      if (end > last->offset + last->length)
        last->length = end - last->offset;
    }
    else
      v->ptr[out++] = (struct vc_range) { start, end - start };
  }
  v->len = out;
}

int
vc_ranges_intersect (const vc_range_vector *a, const vc_range_vector *b,
                     vc_range_vector *out)
{
  size_t i = 0, j = 0;

  while (i < a->len && j < b->len) {
    uint64_t a_end = a->ptr[i].offset + a->ptr[i].length;
    uint64_t b_end = b->ptr[j].offset + b->ptr[j].length;
    uint64_t start = a->ptr[i].offset > b->ptr[j].offset
      ? a->ptr[i].offset : b->ptr[j].offset;
    uint64_t end = a_end < b_end ? a_end : b_end;

    if (start < end && vc_ranges_add (out, start, end - start) == -1)
      return -1;
    if (a_end < b_end)
      i++;
    else
      j++;
  }
  return 0;
}

int
vc_ranges_subtract (const vc_range_vector *a, const vc_range_vector *b,
                    vc_range_vector *out)
{
  size_t j = 0;

  for (size_t i = 0; i < a->len; i++) {
    uint64_t pos = a->ptr[i].offset;
    uint64_t end = pos + a->ptr[i].length;

    while (j < b->len && b->ptr[j].offset + b->ptr[j].length <= pos)
      j++;
    for (size_t k = j; k < b->len && b->ptr[k].offset < end; k++) {
      if (b->ptr[k].offset > pos &&
          vc_ranges_add (out, pos, b->ptr[k].offset - pos) == -1)
        return -1;
      uint64_t b_end = b->ptr[k].offset + b->ptr[k].length;
      if (b_end > pos)
        pos = b_end;
    }
    if (pos < end && vc_ranges_add (out, pos, end - pos) == -1)
      return -1;
  }
  return 0;
}

int
vc_ranges_union (const vc_range_vector *a, const vc_range_vector *b,
                 vc_range_vector *out)
{
  size_t i = 0, j = 0;

  while (i < a->len || j < b->len) {
    const struct vc_range *r;
    if (j >= b->len || (i < a->len && a->ptr[i].offset <= b->ptr[j].offset))
      r = &a->ptr[i++];
    else
      r = &b->ptr[j++];
    if (vc_ranges_add (out, r->offset, r->length) == -1)
      return -1;
  }
  return 0;
}

int
vc_ranges_below (const vc_range_vector *a, uint64_t end, vc_range_vector *out)
{
  for (size_t i = 0; i < a->len && a->ptr[i].offset < end; i++) {
    uint64_t e = a->ptr[i].offset + a->ptr[i].length;
    if (vc_ranges_add (out, a->ptr[i].offset,
                       (e < end ? e : end) - a->ptr[i].offset) == -1)
      return -1;
  }
  return 0;
}

uint64_t
vc_ranges_total (const vc_range_vector *v)
{
  uint64_t total = 0;
  for (size_t i = 0; i < v->len; i++)
    total += v->ptr[i].length;
  return total;
}
