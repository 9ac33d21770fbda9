/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/chain.c: ordering and comparing checkpoint chains. */
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

#include "store/chain.h"
#include "common/log.h"
#include "unit-common.h"

/* Appends a checkpoint; its XML is made up but unique per name, so that
 * vc_chain_same_checkpoints has something to compare.
 */
static void
add (struct vc_chain *chain, const char *name, const char *parent,
     int64_t created)
{
  struct vc_checkpoint c = { 0 };
  char xml[256];

  snprintf (xml, sizeof xml, "<domaincheckpoint><name>%s</name></domaincheckpoint>",
            name);
  c.name = strdup (name);
  c.parent = parent ? strdup (parent) : NULL;
  c.created = created;
  c.xml = strdup (xml);
  assert_non_null (c.name);
  assert_non_null (c.xml);
  assert_int_equal (vc_checkpoint_vector_append (&chain->checkpoints, c), 0);
}

/* The chain's names, in order, space-separated (in a static buffer). */
static const char *
order_of (const struct vc_chain *chain)
{
  static char buf[1024];

  buf[0] = '\0';
  for (size_t i = 0; i < chain->checkpoints.len; i++) {
    if (i > 0)
      strcat (buf, " ");
    strcat (buf, chain->checkpoints.ptr[i].name);
  }
  return buf;
}

/* Checks the chain's names, in order, against a space-separated list. */
static void
assert_order (const struct vc_chain *chain, const char *expected)
{
  assert_string_equal (order_of (chain), expected);
}

static void
assert_parents_first (const struct vc_chain *chain)
{
  for (size_t i = 0; i < chain->checkpoints.len; i++) {
    const char *parent = chain->checkpoints.ptr[i].parent;
    if (parent == NULL)
      continue;
    ssize_t p = vc_chain_find (chain, parent);
    assert_true (p >= 0);
    if ((size_t) p >= i)
      fail_msg ("%s comes before its parent %s",
                chain->checkpoints.ptr[i].name, parent);
  }
}

static void
sort_ok (struct vc_chain *chain)
{
  char *err = (char *) "not reset";

  if (vc_chain_sort (chain, &err) != 0)
    fail_msg ("vc_chain_sort failed: %s", err ? err : "(no message)");
  assert_null (err);
  assert_parents_first (chain);
}

/* Sorting fails, leaves the chain intact and says why. */
static void
sort_fails (struct vc_chain *chain, const char *must_contain)
{
  char *err = NULL;
  size_t len = chain->checkpoints.len;

  assert_int_equal (vc_chain_sort (chain, &err), -1);
  assert_non_null (err);
  if (strstr (err, must_contain) == NULL)
    fail_msg ("error '%s' does not mention '%s'", err, must_contain);
  assert_int_equal (chain->checkpoints.len, len);
  free (err);
}

/* A chain given in some order and the one order sorting must give it:
 * parents first, siblings by creation time, then by name.
 */
struct sort_case {
  const char *what;
  struct {
    const char *name, *parent;
    int64_t created;
  } in[5];                              /* up to the first without a name */
  const char *sorted;
};

static const struct sort_case sort_cases[] = {
  { "an ordered chain stays as it is",
    { { "c1", NULL, 100 }, { "c2", "c1", 200 }, { "c3", "c2", 300 } },
    "c1 c2 c3" },
  { "a reversed chain is turned round",
    { { "c4", "c3", 400 }, { "c3", "c2", 300 }, { "c2", "c1", 200 }, { "c1", NULL, 100 } },
    "c1 c2 c3 c4" },
  /* The host clock was set back: a child created before its parent still
   * comes after it.
   */
  { "parent first despite the clock",
    { { "child", "root", 5 }, { "root", NULL, 50 } },
    "root child" },
  /* Siblings go by creation time, then by name; the order must not
   * depend on the input order.
   */
  { "siblings",
    { { "late", "root", 30 }, { "b-same", "root", 20 }, { "a-same", "root", 20 },
      { "root", NULL, 10 }, { "early", "root", 15 } },
    "root early a-same b-same late" },
  { "siblings, other input order",
    { { "root", NULL, 10 }, { "a-same", "root", 20 }, { "early", "root", 15 },
      { "late", "root", 30 }, { "b-same", "root", 20 } },
    "root early a-same b-same late" },
  /* Two children of one parent, each with a child: a grandchild becomes
   * ready as soon as its parent is placed and competes by creation time.
   */
  { "grandchildren",
    { { "z", "y", 40 }, { "w", "x", 35 }, { "x", "r", 30 }, { "y", "r", 10 },
      { "r", NULL, 1 } },
    "r y x w z" },
  { "two roots",
    { { "b2", "b1", 6 }, { "a2", "a1", 3 }, { "a1", NULL, 5 }, { "b1", NULL, 1 } },
    "b1 a1 a2 b2" },
};

static void
test_sort_cases (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (sort_cases); i++) {
    const struct sort_case *t = &sort_cases[i];
    struct vc_chain chain = { 0 };

    for (size_t k = 0; k < VC_TEST_ROWS (t->in) && t->in[k].name; k++)
      add (&chain, t->in[k].name, t->in[k].parent, t->in[k].created);
    sort_ok (&chain);
    if (strcmp (order_of (&chain), t->sorted) != 0)
      fail_msg ("%s: sorted to '%s', not '%s'", t->what, order_of (&chain), t->sorted);
    vc_chain_clear (&chain);
  }
}

/* Every permutation of a 5-long linear chain (120 of them) sorts to the
 * one possible order.  Creation times run against the chain, so only the
 * parent links can give the right answer.
 */
static void
test_sort_orders_every_shuffle (void **state)
{
  static const char *const names[] = { "e", "d", "c", "b", "a" };
  size_t perm[5] = { 0, 1, 2, 3, 4 };
  size_t count = 0;

  for (;;) {
    struct vc_chain chain = { 0 };
    for (size_t i = 0; i < 5; i++) {
      size_t k = perm[i];
      add (&chain, names[k], k == 0 ? NULL : names[k - 1], 1000 - (int64_t) k);
    }
    sort_ok (&chain);
    assert_order (&chain, "e d c b a");
    vc_chain_clear (&chain);
    count++;

    /* Next permutation in lexicographic order. */
    ssize_t i = 3;
    while (i >= 0 && perm[i] > perm[i + 1])
      i--;
    if (i < 0)
      break;
    size_t j = 4;
    while (perm[j] < perm[i])
      j--;
    size_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    for (size_t a = i + 1, b = 4; a < b; a++, b--) {
      t = perm[a]; perm[a] = perm[b]; perm[b] = t;
    }
  }
  assert_int_equal (count, 120);
}

static void
test_sort_empty_chain (void **state)
{
  struct vc_chain chain = { 0 };

  sort_ok (&chain);
  assert_int_equal (chain.checkpoints.len, 0);
  vc_chain_clear (&chain);
}

static void
test_sort_detects_duplicate (void **state)
{
  struct vc_chain chain = { 0 };

  add (&chain, "c1", NULL, 1);
  add (&chain, "c2", "c1", 2);
  add (&chain, "c2", "c1", 3);
  sort_fails (&chain, "c2");
  sort_fails (&chain, "twice");
  vc_chain_clear (&chain);
}

static void
test_sort_detects_missing_parent (void **state)
{
  struct vc_chain chain = { 0 };

  add (&chain, "c1", NULL, 1);
  add (&chain, "c3", "gone", 3);
  sort_fails (&chain, "gone");
  sort_fails (&chain, "c3");
  /* Nothing was reordered. */
  assert_order (&chain, "c1 c3");
  vc_chain_clear (&chain);
}

static void
test_sort_detects_cycle (void **state)
{
  struct vc_chain chain = { 0 };

  add (&chain, "a", "b", 1);
  add (&chain, "b", "a", 2);
  sort_fails (&chain, "cycle");
  assert_order (&chain, "a b");
  vc_chain_clear (&chain);

  /* A cycle hanging off a healthy root is still a cycle. */
  add (&chain, "root", NULL, 1);
  add (&chain, "a", "b", 2);
  add (&chain, "b", "a", 3);
  sort_fails (&chain, "cycle");
  vc_chain_clear (&chain);

  /* Its own parent. */
  add (&chain, "self", "self", 1);
  sort_fails (&chain, "cycle");
  vc_chain_clear (&chain);
}

static void
test_find (void **state)
{
  struct vc_chain chain = { 0 };

  assert_int_equal (vc_chain_find (&chain, "c1"), -1);
  add (&chain, "c1", NULL, 1);
  add (&chain, "c2", "c1", 2);
  add (&chain, "c3", "c2", 3);
  assert_int_equal (vc_chain_find (&chain, "c1"), 0);
  assert_int_equal (vc_chain_find (&chain, "c3"), 2);
  assert_int_equal (vc_chain_find (&chain, "c"), -1);
  assert_int_equal (vc_chain_find (&chain, "c33"), -1);
  assert_int_equal (vc_chain_find (&chain, ""), -1);
  vc_chain_clear (&chain);
}

static void
test_mark_broken_keeps_first_reason (void **state)
{
  struct vc_chain chain = { 0 };

  assert_false (chain.broken);
  assert_int_equal (vc_chain_mark_broken (&chain, "bitmap c2 missing in vda", 1000), 0);
  assert_true (chain.broken);
  assert_string_equal (chain.broken_reason, "bitmap c2 missing in vda");
  assert_int_equal (chain.broken_since, 1000);

  assert_int_equal (vc_chain_mark_broken (&chain, "something later", 2000), 0);
  assert_true (chain.broken);
  assert_string_equal (chain.broken_reason, "bitmap c2 missing in vda");
  assert_int_equal (chain.broken_since, 1000);
  vc_chain_clear (&chain);
  assert_false (chain.broken);
  assert_null (chain.broken_reason);
}

/* Two equal chains a and b of three checkpoints. */
static void
make_pair (struct vc_chain *a, struct vc_chain *b)
{
  memset (a, 0, sizeof *a);
  memset (b, 0, sizeof *b);
  a->uuid = strdup ("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  b->uuid = strdup ("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  add (a, "c1", NULL, 1);
  add (a, "c2", "c1", 2);
  add (a, "c3", "c2", 3);
  add (b, "c1", NULL, 1);
  add (b, "c2", "c1", 2);
  add (b, "c3", "c2", 3);
  assert_true (vc_chain_same_checkpoints (a, b));
}

static void
clear_pair (struct vc_chain *a, struct vc_chain *b)
{
  vc_chain_clear (a);
  vc_chain_clear (b);
}

static void
test_same_checkpoints_equal_chains (void **state)
{
  struct vc_chain a, b;

  make_pair (&a, &b);
  /* Document metadata is not part of the comparison. */
  a.version.generation = 7;
  b.version.generation = 9;
  b.broken = true;
  assert_true (vc_chain_same_checkpoints (&a, &b));
  assert_true (vc_chain_same_checkpoints (&b, &a));
  clear_pair (&a, &b);

  struct vc_chain e1 = { 0 }, e2 = { 0 };
  assert_true (vc_chain_same_checkpoints (&e1, &e2));
}

static void
test_same_checkpoints_different_xml (void **state)
{
  struct vc_chain a, b;

  make_pair (&a, &b);
  free (b.checkpoints.ptr[1].xml);
  b.checkpoints.ptr[1].xml = strdup ("<domaincheckpoint><name>c2</name>"
                                     "<creationTime>3</creationTime>"
                                     "</domaincheckpoint>");
  assert_false (vc_chain_same_checkpoints (&a, &b));
  assert_false (vc_chain_same_checkpoints (&b, &a));
  clear_pair (&a, &b);
}

static void
test_same_checkpoints_different_parent (void **state)
{
  struct vc_chain a, b;

  make_pair (&a, &b);
  free (b.checkpoints.ptr[2].parent);
  b.checkpoints.ptr[2].parent = strdup ("c1");
  assert_false (vc_chain_same_checkpoints (&a, &b));
  clear_pair (&a, &b);

  make_pair (&a, &b);
  free (b.checkpoints.ptr[1].parent);
  b.checkpoints.ptr[1].parent = NULL;
  assert_false (vc_chain_same_checkpoints (&a, &b));
  assert_false (vc_chain_same_checkpoints (&b, &a));
  clear_pair (&a, &b);
}

static void
test_same_checkpoints_different_length (void **state)
{
  struct vc_chain a, b;

  make_pair (&a, &b);
  add (&b, "c4", "c3", 4);
  assert_false (vc_chain_same_checkpoints (&a, &b));
  assert_false (vc_chain_same_checkpoints (&b, &a));
  clear_pair (&a, &b);

  make_pair (&a, &b);
  vc_checkpoint_clear (&b.checkpoints.ptr[2]);
  b.checkpoints.len--;
  assert_false (vc_chain_same_checkpoints (&a, &b));
  clear_pair (&a, &b);
}

static void
test_same_checkpoints_different_uuid (void **state)
{
  struct vc_chain a, b;

  make_pair (&a, &b);
  free (b.uuid);
  b.uuid = strdup ("00000000-1d52-d8f3-2516-782e98ab3fa0");
  assert_false (vc_chain_same_checkpoints (&a, &b));
  clear_pair (&a, &b);

  make_pair (&a, &b);
  free (b.uuid);
  b.uuid = NULL;
  assert_false (vc_chain_same_checkpoints (&a, &b));
  assert_false (vc_chain_same_checkpoints (&b, &a));
  free (a.uuid);
  a.uuid = NULL;
  assert_true (vc_chain_same_checkpoints (&a, &b));
  clear_pair (&a, &b);
}

static void
test_same_checkpoints_different_order (void **state)
{
  struct vc_chain a = { 0 }, b = { 0 };

  add (&a, "r", NULL, 1);
  add (&a, "x", "r", 2);
  add (&a, "y", "r", 3);
  add (&b, "r", NULL, 1);
  add (&b, "y", "r", 3);
  add (&b, "x", "r", 2);
  assert_false (vc_chain_same_checkpoints (&a, &b));
  clear_pair (&a, &b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sort_cases),
    cmocka_unit_test (test_sort_orders_every_shuffle),
    cmocka_unit_test (test_sort_empty_chain),
    cmocka_unit_test (test_sort_detects_duplicate),
    cmocka_unit_test (test_sort_detects_missing_parent),
    cmocka_unit_test (test_sort_detects_cycle),
    cmocka_unit_test (test_find),
    cmocka_unit_test (test_mark_broken_keeps_first_reason),
    cmocka_unit_test (test_same_checkpoints_equal_chains),
    cmocka_unit_test (test_same_checkpoints_different_xml),
    cmocka_unit_test (test_same_checkpoints_different_parent),
    cmocka_unit_test (test_same_checkpoints_different_length),
    cmocka_unit_test (test_same_checkpoints_different_uuid),
    cmocka_unit_test (test_same_checkpoints_different_order),
  };
  int r;

  vc_log_init ("test-chain", -1);
  r = cmocka_run_group_tests_name ("chain", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
