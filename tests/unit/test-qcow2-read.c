/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/qcow2-read.c and restore-map.c: images the
 * writer (qcow2-plan) makes are read back; a chain maps each cluster to
 * the topmost link that has it; each hostile change of one table entry or
 * header field is refused, never followed.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backup/qcow2-plan.h"
#include "backup/restore-map.h"
#include "unit-common.h"

#define CS VC_QCOW2_CLUSTER_SIZE

struct image {
  unsigned char *buf;
  size_t len;
  struct vc_qcow2_plan plan;
};

static int
sink (void *opaque, const void *buf, size_t len)
{
  struct image *im = opaque;

  memcpy (im->buf + im->len, buf, len);
  im->len += len;
  return 0;
}

/* An image of clusters clusters: data where data[i] is non-zero (filled
 * with that byte), zero where it is 'z', unallocated where 0.
 */
static struct image *
make_image (const char *map, uint64_t clusters)
{
  struct image *im = calloc (1, sizeof *im);
  vc_range_vector *data = calloc (1, sizeof *data), *zero = calloc (1, sizeof *zero);

  assert_non_null (im);
  for (uint64_t i = 0; map[i]; i++)
    if (map[i] != '.')
      assert_int_equal (vc_ranges_add (map[i] == 'z' ? zero : data, i * CS, CS), 0);
  im->plan = (struct vc_qcow2_plan) {
    .virtual_size = clusters * CS, .data = data, .zero = zero,
  };
  assert_int_equal (vc_qcow2_plan_layout (&im->plan), 0);
  im->buf = calloc (1, im->plan.file_size);
  assert_non_null (im->buf);
  assert_int_equal (vc_qcow2_plan_emit_metadata (&im->plan, sink, im), 0);
  for (uint64_t i = 0, k = 0; map[i]; i++)
    if (map[i] != '.' && map[i] != 'z')
      memset (im->buf + im->plan.data_offset + CS * k++, map[i], CS);
  im->len = im->plan.file_size;
  return im;
}

static void
free_image (struct image *im)
{
  vc_range_vector_reset ((vc_range_vector *) im->plan.data);
  vc_range_vector_reset ((vc_range_vector *) im->plan.zero);
  free ((void *) im->plan.data);
  free ((void *) im->plan.zero);
  free (im->buf);
  free (im);
}

static int
mem_pread (void *opaque, void *buf, size_t len, uint64_t off)
{
  struct image *im = opaque;

  if (off > im->len || len > im->len - off) {
    errno = EIO;
    return -1;
  }
  memcpy (buf, im->buf + off, len);
  return 0;
}

static struct vc_qcow2_image
reader (struct image *im)
{
  return (struct vc_qcow2_image) { .pread = mem_pread, .opaque = im,
                                   .file_size = im->len };
}

static void
put64 (unsigned char *p, uint64_t v)
{
  v = htobe64 (v);
  memcpy (p, &v, 8);
}

/* The byte each guest cluster of the mapped chain reads as ('0' for
 * zero), from the runs and the images themselves.
 */
static void
render (struct image **ims, size_t n, const struct vc_chain_map *m, char *out,
        uint64_t clusters)
{
  memset (out, '0', clusters);
  out[clusters] = 0;
  for (size_t k = 0; k < n; k++)
    for (size_t j = 0; j < m->runs[k].len; j++) {
      const struct vc_run *r = &m->runs[k].ptr[j];
      for (uint64_t d = 0; d < r->length; d += CS)
        out[(r->guest + d) / CS] = ims[k]->buf[r->host + d];
    }
}

static void
test_chain_topmost_wins (void **state)
{
  /* Top first.  'z' hides what is below; '.' shows it. */
  struct image *ims[3] = {
    make_image ("..c.z...", 8),
    make_image (".bz.bb", 6),           /* a shorter middle link */
    make_image ("aaaaaaa", 7),
  };
  struct vc_qcow2_image links[3];
  struct vc_chain_map m;
  char got[9];
  size_t bad;

  for (size_t k = 0; k < 3; k++) {
    links[k] = reader (ims[k]);
    assert_null (vc_qcow2_read_open (&links[k]));
  }
  assert_null (vc_chain_map_build (links, 3, &m, &bad));
  render (ims, 3, &m, got, 8);
  /* Cluster 6 and 7: past the middle link's end, so zero. */
  assert_string_equal (got, "abca0b00");
  assert_int_equal (m.data_clusters, 5);
  assert_int_equal (vc_ranges_total (&m.data), 5 * CS);
  vc_chain_map_clear (&m, 3);
  for (size_t k = 0; k < 3; k++) {
    vc_qcow2_read_close (&links[k]);
    free_image (ims[k]);
  }
}

struct hostile {
  const char *what;
  uint64_t where;               /* 0: the first L2 entry; 1: the L1 entry;
                                   else a header offset */
  uint64_t value;
  int size;                     /* 4 or 8 bytes */
  const char *refused;          /* a part of the reason */
};

static void
test_hostile_entries_refused (void **state)
{
  const struct hostile cases[] = {
    { "L2 past the end", 0, (UINT64_C (1) << 63) | (UINT64_C (1) << 40), 8, "outside the file" },
    { "L2 misaligned", 0, UINT64_C (0x30200), 8, "not aligned" },
    { "L2 compressed", 0, (UINT64_C (1) << 62) | 0x30000, 8, "compressed" },
    { "L2 reserved", 0, UINT64_C (0x30002), 8, "reserved" },
    { "L1 past the end", 1, (UINT64_C (1) << 63) | (UINT64_C (1) << 40), 8, "L1 entry points outside" },
    { "L1 reserved", 1, UINT64_C (0x20002), 8, "reserved" },
    { "L1 table past the end", 40, UINT64_C (1) << 40, 8, "L1 table lies outside" },
    { "L1 too small", 36, 0, 4, "L1 table size" },
    { "4 KiB clusters", 20, 12, 4, "64 KiB" },
    { "incompatible feature", 72, 16, 8, "incompatible" },
    { "encrypted", 32, 1, 4, "encrypted" },
    { "version 4", 4, 4, 4, "unknown version" },
  };

  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    struct image *im = make_image ("aa", 2);
    struct vc_qcow2_image link = reader (im);
    struct vc_chain_map m;
    const char *why;
    size_t bad;
    unsigned char *p = im->buf + (cases[i].where == 0 ? im->plan.l2_offset
                                  : cases[i].where == 1 ? im->plan.l1_offset
                                  : cases[i].where);
    if (cases[i].size == 8)
      put64 (p, cases[i].value);
    else {
      uint32_t v = htobe32 (cases[i].value);
      memcpy (p, &v, 4);
    }
    why = vc_qcow2_read_open (&link);
    if (why == NULL) {
      why = vc_chain_map_build (&link, 1, &m, &bad);
      vc_chain_map_clear (&m, 1);
    }
    if (why == NULL || strstr (why, cases[i].refused) == NULL)
      fail_msg ("%s: %s", cases[i].what, why ? why : "accepted");
    vc_qcow2_read_close (&link);
    free_image (im);
  }
}

static void
test_shared_cluster_refused (void **state)
{
  struct image *im = make_image ("ab", 2);
  struct vc_qcow2_image link = reader (im);
  struct vc_chain_map m;
  size_t bad;

  memcpy (im->buf + im->plan.l2_offset + 8, im->buf + im->plan.l2_offset, 8);
  assert_null (vc_qcow2_read_open (&link));
  assert_non_null (strstr (vc_chain_map_build (&link, 1, &m, &bad), "share"));
  vc_chain_map_clear (&m, 1);
  vc_qcow2_read_close (&link);
  free_image (im);
}

static void
test_random_bytes_never_crash (void **state)
{
  srand (14);
  for (int round = 0; round < 2000; round++) {
    struct image *im = make_image ("abz.c", 5);
    struct vc_qcow2_image link = reader (im);
    struct vc_chain_map m;
    size_t bad;

    for (int k = 0; k < 4; k++)
      im->buf[rand () % im->plan.data_offset] = rand ();
    /* A huge sparse disk is valid, but too slow to walk here. */
    if (vc_qcow2_read_open (&link) == NULL && link.l1_entries <= 64) {
      vc_chain_map_build (&link, 1, &m, &bad);
      vc_chain_map_clear (&m, 1);
    }
    vc_qcow2_read_close (&link);
    free_image (im);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_chain_topmost_wins),
    cmocka_unit_test (test_hostile_entries_refused),
    cmocka_unit_test (test_shared_cluster_refused),
    cmocka_unit_test (test_random_bytes_never_crash),
  };
  int r;

  vc_test_log_init ("test-qcow2-read");
  r = cmocka_run_group_tests_name ("qcow2-read", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
