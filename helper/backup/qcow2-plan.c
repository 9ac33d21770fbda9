/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/full-io.h"
#include "backup/qcow2-plan.h"

#define CS VC_QCOW2_CLUSTER_SIZE
#define L2_ENTRIES (CS / 8)
#define L2_COVERS (L2_ENTRIES * CS)          /* guest bytes per L2 table */
#define REFCOUNTS_PER_BLOCK (CS / 2)          /* refcount_order 4: 16 bits */
#define HEADER_LENGTH 104
#define EXT_BACKING_FORMAT 0xE2792ACAu
#define OFLAG_COPIED (UINT64_C (1) << 63)
#define OFLAG_ZERO UINT64_C (1)

static uint64_t
div_round_up (uint64_t a, uint64_t b)
{
  return (a + b - 1) / b;
}

/* Calls fn for each L2 table index touched by any range of v, in order. */
static uint64_t
count_l2 (const vc_range_vector *a, const vc_range_vector *b)
{
  size_t i = 0, j = 0;
  uint64_t count = 0, last = UINT64_MAX;

  while (i < a->len || j < b->len) {
    const struct vc_range *r;
    if (j >= b->len || (i < a->len && a->ptr[i].offset < b->ptr[j].offset))
      r = &a->ptr[i++];
    else
      r = &b->ptr[j++];
    uint64_t first = r->offset / L2_COVERS;
    uint64_t end = (r->offset + r->length - 1) / L2_COVERS;
    if (first == last)
      first++;
    if (end >= first)
      count += end - first + 1;
    if (last == UINT64_MAX || end > last)
      last = end;
  }
  return count;
}

static int
check_ranges (const vc_range_vector *v, uint64_t limit)
{
  uint64_t prev_end = 0;
  for (size_t i = 0; i < v->len; i++) {
    const struct vc_range *r = &v->ptr[i];
    if (r->length == 0 || r->offset % CS || r->length % CS ||
        r->offset < prev_end || r->length > limit || r->offset > limit - r->length)
      return -1;
    prev_end = r->offset + r->length;
  }
  return 0;
}

int
vc_qcow2_plan_layout (struct vc_qcow2_plan *p)
{
  uint64_t limit = div_round_up (p->virtual_size, CS) * CS;
  size_t header_need = HEADER_LENGTH + 8 /* end of extensions */;

  if (p->backing_fmt)
    header_need += 8 + ((strlen (p->backing_fmt) + 7) & ~7u);
  if (p->backing)
    header_need += strlen (p->backing);
  if (header_need > CS || (p->backing && strlen (p->backing) > 1023) ||
      check_ranges (p->data, limit) == -1 || check_ranges (p->zero, limit) == -1) {
    errno = EINVAL;
    return -1;
  }
  {
    vc_range_vector both = empty_vector;
    int r = vc_ranges_intersect (p->data, p->zero, &both);
    size_t overlap = both.len;
    vc_range_vector_reset (&both);
    if (r == -1)
      return -1;
    if (overlap) {
      errno = EINVAL;           /* a cluster cannot be both data and zero */
      return -1;
    }
  }

  p->l1_entries = div_round_up (p->virtual_size, L2_COVERS);
  uint64_t l1_clusters = div_round_up (p->l1_entries * 8, CS);
  p->l2_tables = count_l2 (p->data, p->zero);
  p->data_clusters = vc_ranges_total (p->data) / CS;

  /* The refcount structures count themselves: iterate to a fixpoint. */
  uint64_t fixed = 1 + l1_clusters + p->l2_tables + p->data_clusters;
  uint64_t blocks = 0, table = 0, total;
  for (;;) {
    total = fixed + blocks + table;
    uint64_t nb = div_round_up (total, REFCOUNTS_PER_BLOCK);
    uint64_t nt = div_round_up (nb * 8, CS);
    if (nb == blocks && nt == table)
      break;
    blocks = nb;
    table = nt;
  }

  p->l1_offset = CS;
  p->refcount_table_offset = p->l1_offset + l1_clusters * CS;
  p->refcount_table_clusters = table;
  p->refcount_blocks_offset = p->refcount_table_offset + table * CS;
  p->refcount_blocks = blocks;
  p->l2_offset = p->refcount_blocks_offset + blocks * CS;
  p->data_offset = p->l2_offset + p->l2_tables * CS;
  p->file_size = total * CS;
  return 0;
}

static void
put_be32 (unsigned char *p, uint32_t v)
{
  v = htobe32 (v);
  memcpy (p, &v, 4);
}

static void
put_be64 (unsigned char *p, uint64_t v)
{
  v = htobe64 (v);
  memcpy (p, &v, 8);
}

static void
make_header (const struct vc_qcow2_plan *p, unsigned char *h)
{
  size_t pos = HEADER_LENGTH;

  memset (h, 0, CS);
  memcpy (h, "QFI\xfb", 4);
  put_be32 (h + 4, 3);
  put_be32 (h + 20, VC_QCOW2_CLUSTER_BITS);
  put_be64 (h + 24, p->virtual_size);
  put_be32 (h + 36, p->l1_entries);
  put_be64 (h + 40, p->l1_offset);
  put_be64 (h + 48, p->refcount_table_offset);
  put_be32 (h + 56, p->refcount_table_clusters);
  put_be32 (h + 96, 4);                         /* refcount_order */
  put_be32 (h + 100, HEADER_LENGTH);

  if (p->backing_fmt) {
    size_t n = strlen (p->backing_fmt);
    put_be32 (h + pos, EXT_BACKING_FORMAT);
    put_be32 (h + pos + 4, n);
    memcpy (h + pos + 8, p->backing_fmt, n);
    pos += 8 + ((n + 7) & ~(size_t) 7);
  }
  pos += 8;                                     /* end-of-extensions: zeroes */
  if (p->backing) {
    size_t n = strlen (p->backing);
    put_be64 (h + 8, pos);
    put_be32 (h + 16, n);
    memcpy (h + pos, p->backing, n);
  }
}

/* Walks data and zero ranges in guest order, cluster by cluster. */
struct cursor {
  const vc_range_vector *data, *zero;
  size_t di, zi;
  uint64_t next_host;           /* host offset of the next data cluster */
};

static uint64_t
l2_entry (struct cursor *c, uint64_t guest)
{
  while (c->di < c->data->len &&
         c->data->ptr[c->di].offset + c->data->ptr[c->di].length <= guest)
    c->di++;
  while (c->zi < c->zero->len &&
         c->zero->ptr[c->zi].offset + c->zero->ptr[c->zi].length <= guest)
    c->zi++;
  if (c->di < c->data->len && c->data->ptr[c->di].offset <= guest) {
    uint64_t host = c->next_host;
    c->next_host += CS;
    return host | OFLAG_COPIED;
  }
  if (c->zi < c->zero->len && c->zero->ptr[c->zi].offset <= guest)
    return OFLAG_ZERO;
  return 0;
}

/* Index of the next L2 table touched at or after guest offset pos. */
static uint64_t
next_l2 (const struct cursor *c, uint64_t pos)
{
  uint64_t best = UINT64_MAX;
  for (size_t i = c->di; i < c->data->len; i++) {
    const struct vc_range *r = &c->data->ptr[i];
    if (r->offset + r->length > pos) {
      best = (r->offset > pos ? r->offset : pos) / L2_COVERS;
      break;
    }
  }
  for (size_t i = c->zi; i < c->zero->len; i++) {
    const struct vc_range *r = &c->zero->ptr[i];
    if (r->offset + r->length > pos) {
      uint64_t t = (r->offset > pos ? r->offset : pos) / L2_COVERS;
      if (t < best)
        best = t;
      break;
    }
  }
  return best;
}

int
vc_qcow2_plan_emit_metadata (const struct vc_qcow2_plan *p,
                             vc_emit_fn emit, void *opaque)
{
  CLEANUP_FREE unsigned char *buf = malloc (CS);
  struct cursor c = { p->data, p->zero, 0, 0, p->data_offset };
  uint64_t i, pos, table, written;

  if (buf == NULL)
    return -1;

  make_header (p, buf);
  if (emit (opaque, buf, CS) == -1)
    return -1;

  /* L1: the touched L2 tables, in order, from l2_offset on. */
  {
    struct cursor scan = c;
    uint64_t entries_per_cluster = CS / 8, done = 0, l2_host = p->l2_offset;
    uint64_t next = next_l2 (&scan, 0);
    uint64_t l1_clusters = (p->refcount_table_offset - p->l1_offset) / CS;

    for (uint64_t k = 0; k < l1_clusters; k++) {
      memset (buf, 0, CS);
      for (i = 0; i < entries_per_cluster && done < p->l1_entries; i++, done++) {
        if (done == next) {
          put_be64 (buf + i * 8, l2_host | OFLAG_COPIED);
          l2_host += CS;
          /* Advance the scan past this table. */
          uint64_t end = (done + 1) * L2_COVERS;
          while (scan.di < scan.data->len &&
                 scan.data->ptr[scan.di].offset + scan.data->ptr[scan.di].length <= end)
            scan.di++;
          while (scan.zi < scan.zero->len &&
                 scan.zero->ptr[scan.zi].offset + scan.zero->ptr[scan.zi].length <= end)
            scan.zi++;
          next = next_l2 (&scan, end);
        }
      }
      if (emit (opaque, buf, CS) == -1)
        return -1;
    }
  }

  /* Refcount table, then blocks: every cluster of the file is used once. */
  uint64_t total_clusters = p->file_size / CS;
  for (uint64_t k = 0; k < p->refcount_table_clusters; k++) {
    memset (buf, 0, CS);
    for (i = 0; i < CS / 8; i++) {
      uint64_t block = k * (CS / 8) + i;
      if (block < p->refcount_blocks)
        put_be64 (buf + i * 8, p->refcount_blocks_offset + block * CS);
    }
    if (emit (opaque, buf, CS) == -1)
      return -1;
  }
  for (uint64_t k = 0; k < p->refcount_blocks; k++) {
    memset (buf, 0, CS);
    for (i = 0; i < REFCOUNTS_PER_BLOCK; i++) {
      if (k * REFCOUNTS_PER_BLOCK + i < total_clusters) {
        buf[i * 2] = 0;
        buf[i * 2 + 1] = 1;
      }
    }
    if (emit (opaque, buf, CS) == -1)
      return -1;
  }

  /* L2 tables in order, entries from the same guest-order walk that
   * assigns data clusters their host offsets.
   */
  written = 0;
  pos = 0;
  while (written < p->l2_tables) {
    table = next_l2 (&c, pos);
    if (table == UINT64_MAX)
      break;
    memset (buf, 0, CS);
    for (i = 0; i < L2_ENTRIES; i++) {
      uint64_t guest = table * L2_COVERS + i * CS;
      if (guest >= p->virtual_size)
        break;
      put_be64 (buf + i * 8, l2_entry (&c, guest));
    }
    if (emit (opaque, buf, CS) == -1)
      return -1;
    written++;
    pos = (table + 1) * L2_COVERS;
  }
  if (written != p->l2_tables || c.next_host != p->data_offset + p->data_clusters * CS) {
    errno = EINVAL;             /* the plan contradicts itself: a bug */
    return -1;
  }
  return 0;
}

struct fd_sink {
  int fd;
  uint64_t pos;
};

static int
fd_emit (void *opaque, const void *buf, size_t len)
{
  struct fd_sink *s = opaque;

  if (vc_pwrite_full (s->fd, buf, len, s->pos) == -1)
    return -1;
  s->pos += len;
  return 0;
}

int
vc_qcow2_plan_write_metadata (const struct vc_qcow2_plan *p, int fd)
{
  struct fd_sink s = { fd, 0 };

  return vc_qcow2_plan_emit_metadata (p, fd_emit, &s);
}
