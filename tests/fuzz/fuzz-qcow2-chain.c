/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the qcow2 reader and the chain map of a restore, on
 * hostile images.
 *
 * The first byte chooses how many links (1 to 3); the rest is cut into
 * that many images.  An image is sparse: its bytes are laid out SLICE at
 * a time, one slice at the start of each 64 KiB cluster, the rest of the
 * cluster zero, so that a few KiB of input make a header, an L1 table,
 * L2 tables and data clusters that all lie inside the file.  Whatever the
 * input, nothing may be read outside a file, and a map that is accepted
 * must hold what restore-map.h promises: every run inside its link's
 * file, cluster aligned, runs of a link disjoint, guest ranges in order
 * and inside the disk, as many data clusters as runs cover.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/restore-map.h"
#include "fuzz-common.h"

#define SLICE 512
#define CS VC_QCOW2_CLUSTER_SIZE
#define MAX_LINKS 3

struct sparse {
  const uint8_t *data;
  size_t len;
};

static int
sparse_pread (void *opaque, void *buf, size_t len, uint64_t off)
{
  const struct sparse *s = opaque;
  unsigned char *p = buf;
  uint64_t file_size = ((s->len + SLICE - 1) / SLICE) * CS;

  if (off > file_size || len > file_size - off)
    fuzz_fail ("read of %zu bytes at %llu past the end of a %llu-byte file", len,
               (unsigned long long) off, (unsigned long long) file_size);
  for (size_t i = 0; i < len; i++) {
    uint64_t o = off + i, in = (o / CS) * SLICE + o % CS;
    p[i] = o % CS < SLICE && in < s->len ? s->data[in] : 0;
  }
  return 0;
}

static void
check_map (const struct vc_qcow2_image *links, size_t n, const struct vc_chain_map *m)
{
  uint64_t covered = 0, end = 0, limit;

  limit = (m->virtual_size + CS - 1) / CS * CS;
  for (size_t k = 0; k < n; k++)
    for (size_t j = 0; j < m->runs[k].len; j++) {
      const struct vc_run *r = &m->runs[k].ptr[j];
      if (r->host % CS || r->guest % CS || r->length == 0 || r->length % CS ||
          r->host > links[k].file_size || r->length > links[k].file_size - r->host)
        fuzz_fail ("a run outside its file or not aligned");
      if (j && r->host < m->runs[k].ptr[j - 1].host + m->runs[k].ptr[j - 1].length)
        fuzz_fail ("runs of a link overlap");
      if (r->guest >= limit || r->length > limit - r->guest)
        fuzz_fail ("a run past the end of the disk");
      covered += r->length;
    }
  for (size_t i = 0; i < m->data.len; i++) {
    if (m->data.ptr[i].offset < end)
      fuzz_fail ("guest ranges out of order");
    end = m->data.ptr[i].offset + m->data.ptr[i].length;
    if (end > limit)
      fuzz_fail ("a guest range past the end of the disk");
  }
  if (covered != vc_ranges_total (&m->data) || covered != m->data_clusters * CS)
    fuzz_fail ("runs cover %llu bytes, the guest ranges %llu",
               (unsigned long long) covered,
               (unsigned long long) vc_ranges_total (&m->data));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vc_qcow2_image links[MAX_LINKS];
  struct sparse files[MAX_LINKS];
  struct vc_chain_map map;
  size_t n, part, bad, opened = 0;

  if (size < 1)
    return 0;
  n = 1 + data[0] % MAX_LINKS;
  part = (size - 1) / n;
  for (size_t k = 0; k < n; k++) {
    files[k] = (struct sparse) { data + 1 + k * part, part };
    links[k] = (struct vc_qcow2_image) {
      .pread = sparse_pread, .opaque = &files[k],
      .file_size = ((part + SLICE - 1) / SLICE) * CS,
    };
  }
  for (; opened < n; opened++) {
    const char *why = vc_qcow2_read_open (&links[opened]);
    if (why) {
      vc_qcow2_read_close (&links[opened]);
      goto out;
    }
    /* A huge sparse disk is valid, but too slow to walk here. */
    if (links[opened].l1_entries > 64) {
      vc_qcow2_read_close (&links[opened]);
      goto out;
    }
  }
  if (vc_chain_map_build (links, n, &map, &bad) == NULL)
    check_map (links, n, &map);
  else if (bad >= n)
    fuzz_fail ("the link at fault is out of range");
  vc_chain_map_clear (&map, n);
 out:
  for (size_t k = 0; k < opened; k++)
    vc_qcow2_read_close (&links[k]);
  return 0;
}
