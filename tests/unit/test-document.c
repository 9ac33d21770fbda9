/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/document.c: the store document, written and read
 * back, and refused when it is damaged or not ours.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/checkpoint-xml.h"
#include "common/cleanup.h"
#include "store/document.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "unit-common.h"

#define UUID "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
/* Over 2^32: a generation must not go through an int or a double. */
#define GENERATION UINT64_C (0x1234567890abcdef)

/* Names that need escaping in element text, in attributes and in the
 * checkpoint XML nested in the document.
 */
#define DOMAIN_NAME "web <1> & \"db\" 'x' caf\xc3\xa9"
#define CP1 "c1 <first> & \"q\""
#define CP1_XML "c1 &lt;first&gt; &amp; \"q\""
#define CP2 "c2 'second' \xe2\x9c\x93"
#define CP2_XML "c2 'second' \xe2\x9c\x93"
#define CP3 "c3 ]]> &amp;"
#define CP3_XML "c3 ]]&gt; &amp;amp;"

/* Adds a checkpoint the way capture does: parsed from libvirt's XML. */
static void
add_checkpoint (struct vc_chain *chain, const char *name_xml,
                const char *parent_xml, int64_t created, const char *bitmap)
{
  CLEANUP_FREE char *xml = NULL;
  CLEANUP_FREE char *parent = NULL;
  struct vc_checkpoint c;
  char *err = NULL;

  if (parent_xml)
    parent = vc_printf ("  <parent>\n    <name>%s</name>\n  </parent>\n",
                        parent_xml);
  xml = vc_printf ("<domaincheckpoint>\n"
                   "  <name>%s</name>\n"
                   "%s"
                   "  <creationTime>%" PRId64 "</creationTime>\n"
                   "  <disks>\n"
                   "    <disk name='vda' checkpoint='bitmap' bitmap='%s'/>\n"
                   "    <disk name='vdb' checkpoint='no'/>\n"
                   "  </disks>\n"
                   "  <domain type='kvm'>\n"
                   "    <name>web &lt;1&gt; &amp; \"db\" 'x' caf\xc3\xa9</name>\n"
                   "    <uuid>" UUID "</uuid>\n"
                   "  </domain>\n"
                   "</domaincheckpoint>\n",
                   name_xml, parent ? parent : "", created, bitmap);
  assert_non_null (xml);
  if (vc_checkpoint_parse (xml, &c, &err) == -1)
    fail_msg ("test checkpoint does not parse: %s", err);
  assert_int_equal (vc_checkpoint_vector_append (&chain->checkpoints, c), 0);
}

static void
make_chain (struct vc_chain *chain)
{
  memset (chain, 0, sizeof *chain);
  chain->domain = strdup (DOMAIN_NAME);
  chain->uuid = strdup (UUID);
  chain->version.generation = GENERATION;
  chain->version.node = 4000000000u;    /* over INT32_MAX */
  chain->updated = 1764228000;
  chain->broken = true;
  chain->broken_reason = strdup ("bitmap <c3> missing in vda & \"vdb\" \xc3\xa9");
  chain->broken_since = 1764227500;
  add_checkpoint (chain, CP1_XML, NULL, 1764227000, "c1");
  add_checkpoint (chain, CP2_XML, CP1_XML, 1764227100, "c2");
  add_checkpoint (chain, CP3_XML, CP2_XML, 1764227200, "c3&amp;");
}

static void
assert_same_disk (const struct vc_disk *a, const struct vc_disk *b)
{
  assert_string_equal (a->name, b->name);
  assert_string_equal (a->mode, b->mode);
  assert_true (vc_streq (a->bitmap, b->bitmap));
}

static void
assert_same_chain (const struct vc_chain *a, const struct vc_chain *b)
{
  assert_string_equal (a->domain, b->domain);
  assert_true (vc_streq (a->uuid, b->uuid));
  assert_true (a->version.generation == b->version.generation);
  assert_int_equal (a->version.node, b->version.node);
  assert_int_equal (a->updated, b->updated);
  assert_int_equal (a->broken, b->broken);
  assert_true (vc_streq (a->broken_reason, b->broken_reason));
  assert_int_equal (a->broken_since, b->broken_since);
  assert_int_equal (a->checkpoints.len, b->checkpoints.len);
  for (size_t i = 0; i < a->checkpoints.len; i++) {
    const struct vc_checkpoint *x = &a->checkpoints.ptr[i];
    const struct vc_checkpoint *y = &b->checkpoints.ptr[i];
    assert_string_equal (x->name, y->name);
    assert_true (vc_streq (x->parent, y->parent));
    assert_int_equal (x->created, y->created);
    assert_string_equal (x->xml, y->xml);
    assert_int_equal (x->disks.len, y->disks.len);
    for (size_t j = 0; j < x->disks.len; j++)
      assert_same_disk (&x->disks.ptr[j], &y->disks.ptr[j]);
  }
}

static char *
format_ok (const struct vc_chain *chain, size_t *len)
{
  char *doc = vc_document_format (chain, len);

  assert_non_null (doc);
  assert_int_equal (strlen (doc), *len);
  return doc;
}

static void
parse_ok (const char *doc, size_t len, struct vc_chain *chain)
{
  char *err = NULL;

  if (vc_document_parse (doc, len, chain, &err) == -1)
    fail_msg ("document does not parse: %s\n%s", err, doc);
  assert_null (err);
}

/* Parsing fails with a reason containing must_contain and leaves an empty
 * chain (nothing to free, nothing half-filled).
 */
static void
parse_fails (const char *doc, const char *must_contain)
{
  struct vc_chain chain;
  char *err = NULL;

  memset (&chain, 0xaa, sizeof chain);
  if (vc_document_parse (doc, strlen (doc), &chain, &err) != -1)
    fail_msg ("this document parses, but must fail with '%s':\n%s", must_contain, doc);
  assert_non_null (err);
  if (strstr (err, must_contain) == NULL)
    fail_msg ("error '%s' does not mention '%s'", err, must_contain);
  assert_null (chain.domain);
  assert_null (chain.uuid);
  assert_null (chain.broken_reason);
  assert_int_equal (chain.checkpoints.len, 0);
  assert_null (chain.checkpoints.ptr);
  free (err);
}

/* A copy of the valid test document with the first "from" made "to". */
static char *
edited_document (const char *from, const char *to)
{
  struct vc_chain chain;
  size_t len;
  char *doc, *at, *out;

  make_chain (&chain);
  doc = format_ok (&chain, &len);
  vc_chain_clear (&chain);
  at = strstr (doc, from);
  if (at == NULL)
    fail_msg ("'%s' is not in the document:\n%s", from, doc);
  out = vc_printf ("%.*s%s%s", (int) (at - doc), doc, to, at + strlen (from));
  assert_non_null (out);
  free (doc);
  return out;
}

/* One damage to the valid test document and what parsing must say about
 * it: the first "from" becomes "to"; when close_from is set, the first
 * close_from after that becomes close_to, of the same length (an element
 * renamed in both its tags leaves the document well-formed, so that the
 * parser, not libxml2, has to find what is wrong).
 */
struct edit {
  const char *from, *to;
  const char *close_from, *close_to;
  const char *reason;
};

static void
parse_fails_edited (const struct edit *edits, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const struct edit *e = &edits[i];
    char *doc = edited_document (e->from, e->to);

    if (e->close_from) {
      char *tag = strstr (doc, e->close_from);
      assert_non_null (tag);
      assert_int_equal (strlen (e->close_to), strlen (e->close_from));
      memcpy (tag, e->close_to, strlen (e->close_to));
    }
    parse_fails (doc, e->reason);
    free (doc);
  }
}

static void
test_round_trip_three_checkpoints (void **state)
{
  struct vc_chain chain, back;
  size_t len;
  char *doc;

  make_chain (&chain);
  assert_string_equal (chain.checkpoints.ptr[0].name, CP1);
  assert_string_equal (chain.checkpoints.ptr[2].name, CP3);
  assert_string_equal (chain.checkpoints.ptr[2].parent, CP2);
  assert_string_equal (chain.checkpoints.ptr[2].disks.ptr[0].bitmap, "c3&");

  doc = format_ok (&chain, &len);
  parse_ok (doc, len, &back);
  assert_same_chain (&chain, &back);
  assert_true (back.version.generation == GENERATION);
  assert_int_equal (back.version.node, 4000000000u);
  assert_string_equal (back.domain, DOMAIN_NAME);
  assert_string_equal (back.checkpoints.ptr[1].name, CP2);
  assert_string_equal (back.checkpoints.ptr[1].parent, CP1);
  assert_null (back.checkpoints.ptr[0].parent);
  assert_null (back.checkpoints.ptr[0].disks.ptr[1].bitmap);
  assert_string_equal (back.checkpoints.ptr[0].disks.ptr[1].mode, "no");

  /* Writing what was read gives the same bytes: no drift through
   * repeated captures.
   */
  size_t len2;
  char *doc2 = format_ok (&back, &len2);
  assert_int_equal (len2, len);
  assert_string_equal (doc2, doc);

  free (doc2);
  free (doc);
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

static void
test_round_trip_extreme_numbers (void **state)
{
  struct vc_chain chain, back;
  size_t len;
  char *doc;

  make_chain (&chain);
  chain.version.generation = UINT64_MAX;
  chain.version.node = UINT32_MAX;
  chain.updated = INT64_MIN;
  chain.broken_since = INT64_MAX;
  doc = format_ok (&chain, &len);
  parse_ok (doc, len, &back);
  assert_same_chain (&chain, &back);
  free (doc);
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

static void
test_round_trip_healthy_chain_without_uuid (void **state)
{
  struct vc_chain chain, back;
  size_t len;
  char *doc;

  make_chain (&chain);
  free (chain.uuid);
  chain.uuid = NULL;
  chain.broken = false;
  free (chain.broken_reason);
  chain.broken_reason = NULL;
  chain.broken_since = 0;
  doc = format_ok (&chain, &len);
  assert_null (strstr (doc, "<broken"));
  assert_null (strstr (doc, "<uuid>"));
  parse_ok (doc, len, &back);
  assert_false (back.broken);
  assert_null (back.broken_reason);
  assert_null (back.uuid);
  assert_same_chain (&chain, &back);
  free (doc);
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

static void
test_round_trip_empty_chain (void **state)
{
  struct vc_chain chain = { 0 }, back;
  size_t len;
  char *doc;

  chain.domain = strdup ("empty");
  chain.version.generation = 1;
  doc = format_ok (&chain, &len);
  parse_ok (doc, len, &back);
  assert_same_chain (&chain, &back);
  assert_int_equal (back.checkpoints.len, 0);
  free (doc);
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

/* Every prefix of a valid document, in a buffer of exactly that size (so
 * that valgrind sees any read past it), fails with a reason or - only for
 * the complete document minus trailing blanks - parses.
 */
static void
test_parse_truncated_document (void **state)
{
  static const char end_tag[] = "</virtckpt-domain>";
  struct vc_chain chain;
  size_t len, complete, failures = 0;
  char *doc;

  make_chain (&chain);
  doc = format_ok (&chain, &len);
  vc_chain_clear (&chain);
  complete = strstr (doc, end_tag) - doc + strlen (end_tag);

  for (size_t n = 0; n < len; n++) {
    char *prefix = malloc (n ? n : 1);
    char *err = NULL;
    int r;

    assert_non_null (prefix);
    memcpy (prefix, doc, n);
    r = vc_document_parse (prefix, n, &chain, &err);
    if (r == -1) {
      if (err == NULL)
        fail_msg ("prefix of %zu bytes: no reason given", n);
      assert_null (chain.domain);
      assert_int_equal (chain.checkpoints.len, 0);
      failures++;
    }
    else {
      if (n < complete)
        fail_msg ("prefix of %zu bytes out of %zu parsed", n, len);
      assert_null (err);
      assert_int_equal (chain.checkpoints.len, 3);
      vc_chain_clear (&chain);
    }
    free (err);
    free (prefix);
  }
  assert_int_equal (failures, complete);
  assert_true (failures > 100);
  free (doc);
}

static void
test_parse_rejects_wrong_root (void **state)
{
  parse_fails ("<virtckpt-store format=\"1\"/>", "not a virtckpt store document");
  parse_fails ("<domaincheckpoint><name>c1</name></domaincheckpoint>",
               "not a virtckpt store document");
}

/* Damaged documents (see struct edit), and what parsing must say. */
static const struct edit damaged[] = {
  /* The format. */
  { "format=\"1\"", "format=\"2\"", NULL, NULL, "format '2'" },
  { " format=\"1\"", "", NULL, NULL, "format" },
  { "format=\"1\"", "format=\"01x\"", NULL, NULL, "format" },
  /* <version>. */
  { "<version", "<versio", NULL, NULL, "<version>" },
  { " node=\"4000000000\"", "", NULL, NULL, "<version>" },
  /* A generation that is no unsigned 64-bit number. */
  { "generation=\"", "generation=\"-", NULL, NULL, "<version>" },
  { "generation=\"", "generation=\"x", NULL, NULL, "<version>" },
  /* One past UINT64_MAX. */
  { "generation=\"", "generation=\"18446744073709551616\" x=\"", NULL, NULL,
    "<version>" },
  /* A node id over 32 bits. */
  { "node=\"4000000000\"", "node=\"4294967296\"", NULL, NULL, "<version>" },
  /* <name> and <updated>. */
  { "<name>", "<nom>", "</name>", "</nom> ", "<name>" },
  { "<updated>1764228000", "<updated>soon", NULL, NULL, "<updated>" },
  /* The time the chain broke. */
  { "since=\"1764227500\"", "since=\"yesterday\"", NULL, NULL, "broken" },
  /* The <xml> is authoritative; summary attributes that say otherwise mean
   * the document was edited or damaged.
   */
  { "name=\"c1 ", "name=\"c0 ", NULL, NULL, "disagree" },
  { "parent=\"c1 ", "parent=\"c0 ", NULL, NULL, "disagree" },
  /* A parent dropped from the attributes, kept in the XML. */
  { " parent=\"c2 'second' \xe2\x9c\x93\"", "", NULL, NULL, "disagree" },
  /* A checkpoint. */
  { "&lt;creationTime&gt;1764227100", "&lt;creationTime&gt;later", NULL, NULL,
    "creationTime" },
  { "<xml>", "<lmx>", "</xml>", "</lmx>", "<xml>" },
  { "<checkpoint ", "<snapshot ", "</checkpoint>", "</snapshot>  ",
    "unexpected <snapshot>" },
  /* A DOCTYPE (no entity may be expanded). */
  { "<virtckpt-domain", "<!DOCTYPE virtckpt-domain>\n<virtckpt-domain", NULL, NULL,
    "DOCTYPE" },
  { "<virtckpt-domain",
    "<!DOCTYPE virtckpt-domain [<!ENTITY e SYSTEM "
    "\"file:///etc/passwd\">]>\n<virtckpt-domain", NULL, NULL, "DOCTYPE" },
};

static void
test_parse_rejects_damaged_documents (void **state)
{
  parse_fails_edited (damaged, VC_TEST_ROWS (damaged));
}

static void
test_parse_rejects_missing_checkpoints (void **state)
{
  parse_fails ("<virtckpt-domain format=\"1\"><name>w</name>"
               "<version generation=\"1\" node=\"0\"/><updated>1</updated>"
               "</virtckpt-domain>", "<checkpoints>");
}

static void
test_parse_rejects_child_before_parent (void **state)
{
  struct vc_chain chain;
  struct vc_checkpoint tmp;
  size_t len;
  char *doc;

  make_chain (&chain);
  tmp = chain.checkpoints.ptr[0];
  chain.checkpoints.ptr[0] = chain.checkpoints.ptr[1];
  chain.checkpoints.ptr[1] = tmp;
  doc = format_ok (&chain, &len);
  parse_fails (doc, "comes before its parent");
  free (doc);
  vc_chain_clear (&chain);
}

static void
test_parse_rejects_duplicate_checkpoint (void **state)
{
  struct vc_chain chain;
  size_t len;
  char *doc;

  make_chain (&chain);
  add_checkpoint (&chain, CP2_XML, CP1_XML, 1764227300, "c2");
  doc = format_ok (&chain, &len);
  parse_fails (doc, "appears twice");
  free (doc);
  vc_chain_clear (&chain);
}

/* Makes c checkpoint name (child of parent, or a root), with the XML
 * that says so.
 */
static void
set_checkpoint (struct vc_checkpoint *c, const char *name, const char *parent,
                int64_t created)
{
  /* name and parent may be c's own: copied before they are freed */
  char *n = strdup (name), *p = parent ? strdup (parent) : NULL;
  char *xml = vc_printf ("<domaincheckpoint><name>%s</name>%s%s%s"
                         "<creationTime>%" PRId64 "</creationTime>"
                         "</domaincheckpoint>", name,
                         parent ? "<parent><name>" : "", parent ? parent : "",
                         parent ? "</name></parent>" : "", created);

  assert_non_null (n);
  assert_non_null (xml);
  free (c->name);
  free (c->parent);
  free (c->xml);
  c->name = n;
  c->parent = p;
  c->xml = xml;
  c->created = created;
}

/* A chain of n checkpoints c1 <- c2 <- ..., made without libvirt's XML
 * parser so that long chains are cheap to build.
 */
static void
make_long_chain (struct vc_chain *chain, size_t n)
{
  memset (chain, 0, sizeof *chain);
  chain->domain = strdup ("long");
  chain->version.generation = 1;
  chain->updated = 1764228000;
  assert_int_equal (vc_checkpoint_vector_reserve (&chain->checkpoints, n), 0);
  for (size_t i = 1; i <= n; i++) {
    struct vc_checkpoint c = { 0 };
    char name[32], parent[32];
    snprintf (name, sizeof name, "c%zu", i);
    snprintf (parent, sizeof parent, "c%zu", i - 1);
    set_checkpoint (&c, name, i > 1 ? parent : NULL, 1764227000 + i);
    chain->checkpoints.ptr[chain->checkpoints.len++] = c;
  }
}

static double
seconds_since (const struct timespec *t0)
{
  struct timespec t1;

  clock_gettime (CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A chain at the cap parses (its checks are O(n log n): quadratic ones
 * took 16 s at 40 000 checkpoints); one more is refused, both ways.
 */
static void
test_checkpoint_cap (void **state)
{
  struct vc_chain chain, back;
  struct timespec t0;
  size_t len;
  char *doc, *err = NULL;

  make_long_chain (&chain, VC_DOCUMENT_MAX_CHECKPOINTS);
  doc = format_ok (&chain, &len);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  parse_ok (doc, len, &back);
  if (getenv ("VC_TEST_VERBOSE"))
    fprintf (stderr, "parsed %zu checkpoints (%zu bytes) in %.3f s\n",
             back.checkpoints.len, len, seconds_since (&t0));
  assert_int_equal (back.checkpoints.len, VC_DOCUMENT_MAX_CHECKPOINTS);
  vc_chain_clear (&back);
  free (doc);

  /* One over: not written, and not read when written by someone else. */
  {
    struct vc_checkpoint c = { 0 };
    char parent[32];
    snprintf (parent, sizeof parent, "c%d", VC_DOCUMENT_MAX_CHECKPOINTS);
    set_checkpoint (&c, "one-more", parent, 1);
    assert_int_equal (vc_checkpoint_vector_append (&chain.checkpoints, c), 0);
  }
  assert_null (vc_document_format (&chain, &len));
  {
    /* Made by hand from a chain at the cap plus one checkpoint element. */
    struct vc_chain at_cap;
    const char *extra =
      "<checkpoint name=\"one-more\" parent=\"c1\" created=\"1\">"
      "<xml>&lt;domaincheckpoint&gt;&lt;name&gt;one-more&lt;/name&gt;"
      "&lt;parent&gt;&lt;name&gt;c1&lt;/name&gt;&lt;/parent&gt;"
      "&lt;/domaincheckpoint&gt;</xml></checkpoint></checkpoints>";
    char *end, *over;
    make_long_chain (&at_cap, VC_DOCUMENT_MAX_CHECKPOINTS);
    doc = format_ok (&at_cap, &len);
    vc_chain_clear (&at_cap);
    end = strstr (doc, "</checkpoints>");
    assert_non_null (end);
    over = vc_printf ("%.*s%s%s", (int) (end - doc), doc, extra,
                      end + strlen ("</checkpoints>"));
    assert_non_null (over);
    free (doc);
    memset (&back, 0, sizeof back);
    assert_int_equal (vc_document_parse (over, strlen (over), &back, &err), -1);
    assert_non_null (strstr (err, "more than"));
    free (err);
    free (over);
  }
  vc_chain_clear (&chain);
}

/* Long chains with a duplicate or an out-of-order checkpoint far from
 * the start are still found (the checks are not a scan of neighbours).
 */
static void
test_long_chain_order_checks (void **state)
{
  static const struct {
    size_t n, at;               /* checkpoint at (0-based) is damaged */
    bool duplicate;             /* else: its parent comes after it */
    const char *reason;
  } cases[] = {
    { 5000, 4000, true, "appears twice" },
    { 5000, 1, true, "appears twice" },
    { 5000, 2500, false, "comes before its parent" },
    { 5000, 0, false, "comes before its parent" },
  };

  for (size_t k = 0; k < VC_TEST_ROWS (cases); k++) {
    struct vc_chain chain;
    size_t len;
    char *doc;

    make_long_chain (&chain, cases[k].n);
    if (cases[k].duplicate) {
      /* checkpoint at takes the name of an earlier or later one */
      struct vc_checkpoint *c = &chain.checkpoints.ptr[cases[k].at];
      struct vc_checkpoint *child = &chain.checkpoints.ptr[cases[k].at + 1];
      const char *dup = cases[k].at > 10 ? "c10" : "c3000";
      set_checkpoint (c, dup, c->parent, c->created);
      set_checkpoint (child, child->name, dup, child->created);
    }
    else {
      /* checkpoint at names checkpoint at+100 as its parent */
      struct vc_checkpoint *c = &chain.checkpoints.ptr[cases[k].at];
      char parent[32];
      snprintf (parent, sizeof parent, "c%zu", cases[k].at + 101);
      set_checkpoint (c, c->name, parent, c->created);
    }
    doc = format_ok (&chain, &len);
    vc_chain_clear (&chain);
    parse_fails (doc, cases[k].reason);
    free (doc);
  }
}

/* A version older than its own base was not written by us: replication
 * could not order it (generation > base holds for every write).
 */
static void
test_parse_rejects_version_before_base (void **state)
{
  static const struct {
    uint64_t gen, base_gen;
    uint32_t node, base_node;
    bool ok;
  } cases[] = {
    { 7, 6, 1, 2, true },       /* written on top of its base */
    { 7, 7, 3, 3, true },       /* synced: its own base */
    { 0, 0, 0, 0, true },       /* no base */
    { 1, 6, 1, 9, false },      /* generation below its base */
    { 6, 6, 1, 9, false },      /* same generation, another writer */
  };

  for (size_t k = 0; k < VC_TEST_ROWS (cases); k++) {
    struct vc_chain chain, back;
    size_t len;
    char *doc;

    make_chain (&chain);
    chain.version.generation = cases[k].gen;
    chain.version.node = cases[k].node;
    chain.version.base_generation = cases[k].base_gen;
    chain.version.base_node = cases[k].base_node;
    doc = format_ok (&chain, &len);
    vc_chain_clear (&chain);
    if (cases[k].ok) {
      parse_ok (doc, len, &back);
      vc_chain_clear (&back);
    }
    else
      parse_fails (doc, "older than its base");
    free (doc);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip_three_checkpoints),
    cmocka_unit_test (test_round_trip_extreme_numbers),
    cmocka_unit_test (test_round_trip_healthy_chain_without_uuid),
    cmocka_unit_test (test_round_trip_empty_chain),
    cmocka_unit_test (test_parse_truncated_document),
    cmocka_unit_test (test_parse_rejects_wrong_root),
    cmocka_unit_test (test_parse_rejects_damaged_documents),
    cmocka_unit_test (test_parse_rejects_missing_checkpoints),
    cmocka_unit_test (test_parse_rejects_child_before_parent),
    cmocka_unit_test (test_parse_rejects_duplicate_checkpoint),
    cmocka_unit_test (test_checkpoint_cap),
    cmocka_unit_test (test_long_chain_order_checks),
    cmocka_unit_test (test_parse_rejects_version_before_base),
  };
  int r;

  vc_log_init ("test-document", -1);
  r = cmocka_run_group_tests_name ("document", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
