/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/extent.c: the range lists a backup plan is made of.
 * The set operations are checked against a bitmap model on many random
 * inputs (fixed seed, so a failure is reproducible).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/extent.h"
#include "common/log.h"
#include "unit-common.h"

#define KiB UINT64_C (1024)
#define MiB (1024 * KiB)
#define CLUSTER (64 * KiB)

/* The model: a space of BLOCKS blocks of GRAIN bytes, one byte a block. */
#define GRAIN (4 * KiB)
#define BLOCKS 256                      /* 1 MiB */
#define RANDOM_CASES 2000

static void
add (vc_range_vector *v, uint64_t offset, uint64_t length)
{
  assert_int_equal (vc_ranges_add (v, offset, length), 0);
}

/* Appends without merging (inputs may hold touching ranges). */
static void
append_raw (vc_range_vector *v, uint64_t offset, uint64_t length)
{
  assert_int_equal (vc_range_vector_append (v, (struct vc_range) { offset, length }), 0);
}

/* v as "offset+length offset+length ..." in bytes (in a static buffer). */
static const char *
ranges_of (const vc_range_vector *v)
{
  static char buf[4096];
  size_t n = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < v->len; i++)
    n += snprintf (buf + n, sizeof buf - n, "%s%llu+%llu", i ? " " : "",
                   (unsigned long long) v->ptr[i].offset,
                   (unsigned long long) v->ptr[i].length);
  assert_true (n < sizeof buf);
  return buf;
}

/* Checks v against "offset+length offset+length ..." in bytes. */
static void
assert_ranges (const vc_range_vector *v, const char *expected)
{
  assert_string_equal (ranges_of (v), expected);
}

/* --- vc_ranges_add ----------------------------------------------------- */

static void
test_add_appends_disjoint_ranges (void **state)
{
  vc_range_vector v = empty_vector;

  add (&v, 0, 4096);
  add (&v, 8192, 4096);
  add (&v, 1 * MiB, 512);
  assert_ranges (&v, "0+4096 8192+4096 1048576+512");
  vc_range_vector_reset (&v);
}

static void
test_add_merges_touching_range (void **state)
{
  vc_range_vector v = empty_vector;

  add (&v, 4096, 4096);
  add (&v, 8192, 4096);                 /* starts where the last ends */
  add (&v, 12288, 1);
  assert_ranges (&v, "4096+8193");
  vc_range_vector_reset (&v);
}

static void
test_add_merges_overlapping_range (void **state)
{
  vc_range_vector v = empty_vector;

  add (&v, 0, 8192);
  add (&v, 4096, 8192);                 /* overlaps the tail */
  assert_ranges (&v, "0+12288");
  add (&v, 0, 4096);                    /* same start, inside */
  add (&v, 4096, 100);                  /* inside: must not shrink */
  assert_ranges (&v, "0+12288");
  add (&v, 12288, 0);
  add (&v, 20000, 10);
  assert_ranges (&v, "0+12288 20000+10");
  vc_range_vector_reset (&v);
}

static void
test_add_ignores_zero_length (void **state)
{
  vc_range_vector v = empty_vector;

  add (&v, 4096, 0);
  assert_int_equal (v.len, 0);
  add (&v, 0, 4096);
  add (&v, 4096, 0);                    /* would touch: still nothing */
  add (&v, 65536, 0);                   /* would leave a gap: nothing */
  assert_ranges (&v, "0+4096");
  add (&v, 8192, 4096);
  assert_ranges (&v, "0+4096 8192+4096");
  vc_range_vector_reset (&v);
}

static void
test_add_handles_offsets_above_4_gib (void **state)
{
  vc_range_vector v = empty_vector;
  const uint64_t t = UINT64_C (1) << 40;

  add (&v, t, 4096);
  add (&v, t + 4096, UINT64_C (1) << 33);
  assert_int_equal (v.len, 1);
  assert_true (v.ptr[0].offset == t);
  assert_true (v.ptr[0].length == 4096 + (UINT64_C (1) << 33));
  vc_range_vector_reset (&v);
}

/* --- vc_ranges_align --------------------------------------------------- */

/* Ranges, aligned to CLUSTER within a limit, and what they must become. */
struct align_case {
  const char *what;
  struct vc_range in[5];                /* up to the first of length 0 */
  uint64_t limit;
  const char *aligned;
};

static const struct align_case align_cases[] = {
  { "rounds out to the cluster",
    { { 4096, 4096 },                   /* inside cluster 0 */
      { 3 * CLUSTER - 512, 1024 },      /* straddles clusters 2 and 3 */
      { 10 * CLUSTER, CLUSTER } },      /* already aligned */
    1 * MiB, "0+65536 131072+131072 655360+65536" },
  { "merges ranges that then touch",
    { { 4096, 4096 },                   /* -> [0, 64K) */
      { CLUSTER + 4096, 4096 },         /* -> [64K, 128K): touches */
      { 3 * CLUSTER + 8192, 4096 } },   /* -> [192K, 256K): gap before */
    1 * MiB, "0+131072 196608+65536" },
  /* Three ranges in one cluster, then one spanning into the next. */
  { "merges ranges that then overlap",
    { { 4096, 4096 }, { 16384, 4096 }, { 40960, 4096 }, { 61440, 8192 },
      { 5 * CLUSTER, 1 } },
    1 * MiB, "0+131072 327680+65536" },
  /* A limit that is not cluster aligned: the last cluster would round out
   * to 1 MiB + 64 KiB.
   */
  { "clamps the last cluster to the limit",
    { { 0, 512 }, { 1 * MiB, 4096 } },
    1 * MiB + 4096, "0+65536 1048576+4096" },
  { "cuts a last range ending past the limit",
    { { 512 * KiB + 4096, 1 * MiB } },
    1 * MiB + 4096, "524288+528384" },
  { "keeps a range ending exactly at an aligned limit",
    { { 15 * CLUSTER + 1, CLUSTER - 1 } },
    1 * MiB, "983040+65536" },
};

static void
test_align_cases (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (align_cases); i++) {
    const struct align_case *t = &align_cases[i];
    vc_range_vector v = empty_vector;

    for (size_t k = 0; k < VC_TEST_ROWS (t->in) && t->in[k].length; k++)
      add (&v, t->in[k].offset, t->in[k].length);
    vc_ranges_align (&v, CLUSTER, t->limit);
    if (strcmp (ranges_of (&v), t->aligned) != 0)
      fail_msg ("%s: aligned to '%s', not '%s'", t->what, ranges_of (&v), t->aligned);
    vc_range_vector_reset (&v);
  }
}

static void
test_align_empty_list (void **state)
{
  vc_range_vector v = empty_vector;

  vc_ranges_align (&v, CLUSTER, 1 * MiB);
  assert_int_equal (v.len, 0);
}

/* --- vc_ranges_total --------------------------------------------------- */

static void
test_total_sums_lengths (void **state)
{
  vc_range_vector v = empty_vector;

  assert_true (vc_ranges_total (&v) == 0);
  add (&v, 0, 4096);
  add (&v, 8192, 512);
  add (&v, 1 * MiB, 3 * MiB);
  assert_true (vc_ranges_total (&v) == 4096 + 512 + 3 * MiB);
  /* No 32-bit truncation. */
  add (&v, UINT64_C (1) << 40, UINT64_C (5) << 32);
  assert_true (vc_ranges_total (&v) == 4096 + 512 + 3 * MiB + (UINT64_C (5) << 32));
  vc_range_vector_reset (&v);
}

/* --- intersect and subtract: fixed cases -------------------------------- */

static void
test_intersect_and_subtract_with_empty_inputs (void **state)
{
  vc_range_vector a = empty_vector, none = empty_vector, out = empty_vector;

  add (&a, 0, 4096);
  add (&a, 1 * MiB, 8192);

  assert_int_equal (vc_ranges_intersect (&a, &none, &out), 0);
  assert_int_equal (out.len, 0);
  assert_int_equal (vc_ranges_intersect (&none, &a, &out), 0);
  assert_int_equal (out.len, 0);
  assert_int_equal (vc_ranges_intersect (&none, &none, &out), 0);
  assert_int_equal (out.len, 0);

  assert_int_equal (vc_ranges_subtract (&none, &a, &out), 0);
  assert_int_equal (out.len, 0);
  assert_int_equal (vc_ranges_subtract (&none, &none, &out), 0);
  assert_int_equal (out.len, 0);
  assert_int_equal (vc_ranges_subtract (&a, &none, &out), 0);
  assert_ranges (&out, "0+4096 1048576+8192");
  vc_range_vector_reset (&out);

  assert_int_equal (vc_ranges_subtract (&a, &a, &out), 0);
  assert_int_equal (out.len, 0);
  vc_range_vector_reset (&a);
}

static void
test_intersect_dirty_with_nonzero (void **state)
{
  /* As a backup uses it: dirty ∩ allocated = clusters to copy. */
  vc_range_vector dirty = empty_vector, nonzero = empty_vector;
  vc_range_vector data = empty_vector, zero = empty_vector;

  add (&dirty, 0, 3 * CLUSTER);
  add (&dirty, 8 * CLUSTER, 2 * CLUSTER);
  add (&nonzero, CLUSTER, 8 * CLUSTER);
  assert_int_equal (vc_ranges_intersect (&dirty, &nonzero, &data), 0);
  assert_ranges (&data, "65536+131072 524288+65536");
  assert_int_equal (vc_ranges_subtract (&dirty, &data, &zero), 0);
  assert_ranges (&zero, "0+65536 589824+65536");
  vc_range_vector_reset (&dirty);
  vc_range_vector_reset (&nonzero);
  vc_range_vector_reset (&data);
  vc_range_vector_reset (&zero);
}

static void
test_subtract_range_covering_several (void **state)
{
  vc_range_vector a = empty_vector, b = empty_vector, out = empty_vector;

  /* One range of b covers the end of a[0] and the start of a[1]. */
  add (&a, 0, 8192);
  add (&a, 16384, 8192);
  add (&a, 32768, 4096);
  add (&b, 4096, 16384);
  add (&b, 32768, 4096);
  assert_int_equal (vc_ranges_subtract (&a, &b, &out), 0);
  assert_ranges (&out, "0+4096 20480+4096");
  vc_range_vector_reset (&a);
  vc_range_vector_reset (&b);
  vc_range_vector_reset (&out);
}

/* --- random cases against the bitmap model ----------------------------- */

static uint64_t rng_state;

static unsigned
rng_below (unsigned n)
{
  return vc_test_rng (&rng_state) % n;
}

/* Random sorted, disjoint ranges over blocks [0, nblocks) starting at base;
 * sometimes empty, sometimes with touching (unmerged) neighbours.  The
 * model gets one byte a block.
 */
static void
random_ranges (vc_range_vector *v, uint8_t *model, unsigned nblocks, uint64_t base)
{
  unsigned style = rng_below (10);
  unsigned density = style == 0 ? 0 : style == 1 ? 100 : rng_below (100);
  unsigned runlen = 1 + rng_below (24);

  memset (model, 0, BLOCKS);
  for (unsigned i = 0; i < nblocks; ) {
    unsigned n = 1 + rng_below (runlen);
    bool set = rng_below (100) < density;
    if (n > nblocks - i)
      n = nblocks - i;
    if (set) {
      memset (model + i, 1, n);
      append_raw (v, base + i * GRAIN, n * GRAIN);
    }
    i += n;
  }
}

/* Out must be canonical (sorted, non-empty, non-touching ranges inside
 * the space) and hold exactly the blocks set in the model.
 */
static void
assert_matches_model (const vc_range_vector *out, const uint8_t *model,
                      uint64_t base, unsigned seed_case)
{
  uint8_t got[BLOCKS] = { 0 };

  for (size_t i = 0; i < out->len; i++) {
    const struct vc_range *r = &out->ptr[i];
    if (r->length == 0 || r->offset < base || r->offset % GRAIN ||
        r->length % GRAIN || r->offset - base + r->length > BLOCKS * GRAIN ||
        (i > 0 && out->ptr[i - 1].offset + out->ptr[i - 1].length >= r->offset))
      fail_msg ("case %u: range %zu (%llu+%llu) is not canonical", seed_case, i,
                (unsigned long long) r->offset, (unsigned long long) r->length);
    memset (got + (r->offset - base) / GRAIN, 1, r->length / GRAIN);
  }
  for (unsigned b = 0; b < BLOCKS; b++)
    if (got[b] != model[b])
      fail_msg ("case %u: block %u is %s, the model says %s", seed_case, b,
                got[b] ? "in" : "out", model[b] ? "in" : "out");
}

static uint64_t
random_base (void)
{
  static const uint64_t bases[] = {
    0, UINT64_C (1) << 32, UINT64_C (1) << 40, UINT64_C (1) << 60,
  };
  return bases[rng_below (4)];
}

typedef int set_op (const vc_range_vector *a, const vc_range_vector *b,
                     vc_range_vector *out);

/* Runs op on RANDOM_CASES random pairs (a, b) from seed and checks the
 * result against the model, where a block is in it when keep (in a, in b);
 * a symmetric op must give the same with a and b swapped.
 */
static void
check_set_op (uint64_t seed, set_op *op, bool (*keep) (bool, bool), bool symmetric)
{
  rng_state = seed;
  for (unsigned c = 0; c < RANDOM_CASES; c++) {
    vc_range_vector a = empty_vector, b = empty_vector, out = empty_vector;
    uint8_t ma[BLOCKS], mb[BLOCKS], want[BLOCKS];
    uint64_t base = random_base ();

    random_ranges (&a, ma, BLOCKS, base);
    random_ranges (&b, mb, BLOCKS, base);
    for (unsigned i = 0; i < BLOCKS; i++)
      want[i] = keep (ma[i], mb[i]);
    assert_int_equal (op (&a, &b, &out), 0);
    assert_matches_model (&out, want, base, c);
    if (symmetric) {
      vc_range_vector_reset (&out);
      assert_int_equal (op (&b, &a, &out), 0);
      assert_matches_model (&out, want, base, c);
    }
    vc_range_vector_reset (&a);
    vc_range_vector_reset (&b);
    vc_range_vector_reset (&out);
  }
}

static bool
in_both (bool a, bool b)
{
  return a && b;
}

static bool
in_a_only (bool a, bool b)
{
  return a && !b;
}

static bool
in_either (bool a, bool b)
{
  return a || b;
}

/* A resume covers what the interrupted run had to copy and what the
 * guest wrote since: a union.
 */
static void
test_union_matches_bitmap_model (void **state)
{
  check_set_op (0x5eed0004, vc_ranges_union, in_either, true);
}

/* What a resume records as copied: the data before where the copy got. */
static void
test_below_cuts_at_the_end (void **state)
{
  vc_range_vector a = empty_vector, out = empty_vector;

  assert_int_equal (vc_ranges_add (&a, 0, 4 * GRAIN), 0);
  assert_int_equal (vc_ranges_add (&a, 8 * GRAIN, 4 * GRAIN), 0);
  assert_int_equal (vc_ranges_below (&a, 10 * GRAIN, &out), 0);
  assert_int_equal (out.len, 2);
  assert_int_equal (out.ptr[1].offset, 8 * GRAIN);
  assert_int_equal (out.ptr[1].length, 2 * GRAIN);
  vc_range_vector_reset (&out);
  assert_int_equal (vc_ranges_below (&a, 6 * GRAIN, &out), 0);
  assert_int_equal (out.len, 1);
  assert_int_equal (out.ptr[0].length, 4 * GRAIN);
  vc_range_vector_reset (&out);
  assert_int_equal (vc_ranges_below (&a, 0, &out), 0);
  assert_int_equal (out.len, 0);
  assert_int_equal (vc_ranges_below (&a, UINT64_MAX, &out), 0);
  assert_int_equal (vc_ranges_total (&out), 8 * GRAIN);
  vc_range_vector_reset (&out);
  vc_range_vector_reset (&a);
}

static void
test_intersect_matches_bitmap_model (void **state)
{
  check_set_op (0x5eed0001, vc_ranges_intersect, in_both, true);
}

static void
test_subtract_matches_bitmap_model (void **state)
{
  check_set_op (0x5eed0002, vc_ranges_subtract, in_a_only, false);
}

static void
test_intersect_plus_difference_rebuilds_input (void **state)
{
  /* (a ∩ b) and (a − b) partition a: their totals add up to a's. */
  rng_state = 0x5eed0003;
  for (unsigned c = 0; c < RANDOM_CASES; c++) {
    vc_range_vector a = empty_vector, b = empty_vector;
    vc_range_vector both = empty_vector, only = empty_vector;
    uint8_t ma[BLOCKS], mb[BLOCKS];

    random_ranges (&a, ma, BLOCKS, 0);
    random_ranges (&b, mb, BLOCKS, 0);
    assert_int_equal (vc_ranges_intersect (&a, &b, &both), 0);
    assert_int_equal (vc_ranges_subtract (&a, &both, &only), 0);
    assert_true (vc_ranges_total (&both) + vc_ranges_total (&only) ==
                 vc_ranges_total (&a));
    vc_range_vector_reset (&a);
    vc_range_vector_reset (&b);
    vc_range_vector_reset (&both);
    vc_range_vector_reset (&only);
  }
}

static void
test_add_matches_bitmap_model (void **state)
{
  /* Appends in increasing offset order, overlapping the last at times. */
  rng_state = 0x5eed0004;
  for (unsigned c = 0; c < RANDOM_CASES; c++) {
    vc_range_vector v = empty_vector;
    uint8_t want[BLOCKS] = { 0 };
    unsigned pos = 0;

    while (pos < BLOCKS) {
      unsigned start = pos + (rng_below (3) == 0 ? 0 : rng_below (8));
      unsigned len = rng_below (20);            /* 0: must be ignored */
      if (start >= BLOCKS)
        break;
      if (len > BLOCKS - start)
        len = BLOCKS - start;
      add (&v, start * GRAIN, len * GRAIN);
      memset (want + start, 1, len);
      /* The next one may start inside this one. */
      pos = start + (len ? rng_below (len + 1) : 0);
      if (len == 0)
        pos++;
    }
    assert_matches_model (&v, want, 0, c);
    vc_range_vector_reset (&v);
  }
}

static void
test_align_matches_bitmap_model (void **state)
{
  const unsigned per_cluster = CLUSTER / GRAIN;

  rng_state = 0x5eed0005;
  for (unsigned c = 0; c < RANDOM_CASES; c++) {
    vc_range_vector v = empty_vector;
    uint8_t m[BLOCKS], want[BLOCKS] = { 0 };
    /* Limit anywhere in the space, aligned to the cluster or not. */
    unsigned limit = 1 + rng_below (BLOCKS);

    if (rng_below (2))
      limit = (limit + per_cluster - 1) / per_cluster * per_cluster;
    random_ranges (&v, m, limit, 0);
    for (unsigned b = 0; b < limit; b++)
      if (m[b]) {
        unsigned first = b / per_cluster * per_cluster;
        unsigned end = first + per_cluster > limit ? limit : first + per_cluster;
        memset (want + first, 1, end - first);
      }
    vc_ranges_align (&v, CLUSTER, (uint64_t) limit * GRAIN);
    assert_matches_model (&v, want, 0, c);
    for (size_t i = 0; i < v.len; i++) {
      assert_int_equal (v.ptr[i].offset % CLUSTER, 0);
      uint64_t end = v.ptr[i].offset + v.ptr[i].length;
      assert_true (end % CLUSTER == 0 || end == (uint64_t) limit * GRAIN);
    }
    vc_range_vector_reset (&v);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_add_appends_disjoint_ranges),
    cmocka_unit_test (test_add_merges_touching_range),
    cmocka_unit_test (test_add_merges_overlapping_range),
    cmocka_unit_test (test_add_ignores_zero_length),
    cmocka_unit_test (test_add_handles_offsets_above_4_gib),
    cmocka_unit_test (test_align_cases),
    cmocka_unit_test (test_align_empty_list),
    cmocka_unit_test (test_total_sums_lengths),
    cmocka_unit_test (test_intersect_and_subtract_with_empty_inputs),
    cmocka_unit_test (test_intersect_dirty_with_nonzero),
    cmocka_unit_test (test_subtract_range_covering_several),
    cmocka_unit_test (test_intersect_matches_bitmap_model),
    cmocka_unit_test (test_subtract_matches_bitmap_model),
    cmocka_unit_test (test_intersect_plus_difference_rebuilds_input),
    cmocka_unit_test (test_add_matches_bitmap_model),
    cmocka_unit_test (test_align_matches_bitmap_model),
    cmocka_unit_test (test_union_matches_bitmap_model),
    cmocka_unit_test (test_below_cuts_at_the_end),
  };
  int r;

  vc_test_log_init ("test-extent");
  r = cmocka_run_group_tests_name ("extent", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
