/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/common/kv-json.c and vc_kv_unescape: the
 * "KEY: VALUE" lines of virtckpt status as JSON.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kv-json.h"
#include "common/kv-lines.h"
#include "unit-common.h"

static const struct vc_kv_kind kinds[] = {
  { "node", NULL, VC_KV_UINT }, { "members", NULL, VC_KV_UINT_LIST },
  { "quorate", NULL, VC_KV_BOOL }, { "updates-applied", NULL, VC_KV_UINT },
  { "conflict", "recent_conflicts", VC_KV_STRING_LIST },
  { "last-error", NULL, VC_KV_STRING_OR_DASH },
  { NULL },
};

/* The members of text, on one line each, without the indentation. */
static char *
members (const char *text)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&buf, &len);
  struct vc_json j;

  assert_non_null (fp);
  vc_json_init (&j, fp);
  vc_json_begin_object (&j);
  assert_int_equal (vc_kv_json_members (&j, text, kinds), 0);
  vc_json_end_object (&j);
  assert_int_equal (vc_json_finish (&j), 0);
  fclose (fp);
  /* Join the lines: the layout is json-writer's concern. */
  char *q = buf;
  for (char *p = buf; *p; p++) {
    if (*p == '\n') {
      while (p[1] == ' ')
        p++;
      continue;
    }
    *q++ = *p;
  }
  *q = '\0';
  return buf;
}

static const struct {
  const char *text;
  const char *json;
} rows[] = {
  /* what virtckptd writes (replica/status.c) */
  { "node: 2\nstore: /var/lib/virtckpt\nstate: synced\nmembers: 1 2 3\n"
    "quorate: yes\nepoch: 00000000000000ff\nupdates-applied: 7\n"
    "conflict: vm\\x0a1: version 3/1 lost to version 4/2\n"
    "conflict: back\\x5cslash \"q\"\nlast-error: -\n",
    "{\"node\": 2,\"store\": \"/var/lib/virtckpt\",\"state\": \"synced\","
    "\"members\": [1,2,3],\"quorate\": true,\"epoch\": \"00000000000000ff\","
    "\"updates_applied\": 7,"
    "\"recent_conflicts\": [\"vm\\n1: version 3/1 lost to version 4/2\","
    "\"back\\\\slash \\\"q\\\"\"],\"last_error\": null}" },
  /* no members, not quorate, no conflicts: an empty array all the same */
  { "node: 1\nmembers:\nquorate: no\nlast-error: cpg_join failed\\x0d\n",
    "{\"node\": 1,\"members\": [],\"quorate\": false,"
    "\"last_error\": \"cpg_join failed\\r\",\"recent_conflicts\": []}" },
  /* the first line of a key counts; an unknown key is a string; a bad
   * number or boolean is null, never a string */
  { "node: 1\nnode: 9\nnew-thing: 12\nquorate: maybe\nupdates-applied: -1\n"
    "members: 1 x 3\n",
    "{\"node\": 1,\"new_thing\": \"12\",\"quorate\": null,"
    "\"updates_applied\": null,\"members\": [1,null,3],\"recent_conflicts\": []}" },
  /* no lines, a line that is not KEY: VALUE, no final newline */
  { "", "{\"recent_conflicts\": []}" },
  { "just text\nnode: 5", "{\"node\": 5,\"recent_conflicts\": []}" },
  /* a key that only a value of another line has */
  { "last-error: node: 3\n", "{\"last_error\": \"node: 3\",\"recent_conflicts\": []}" },
};

static void
test_lines_as_json (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (rows); i++) {
    char *got = members (rows[i].text);
    if (strcmp (got, rows[i].json) != 0)
      fail_msg ("row %zu:\n got %s\nwant %s", i, got, rows[i].json);
    free (got);
  }
}

/* What vc_kv_put writes, vc_kv_unescape gives back. */
static void
test_unescape_round_trip (void **state)
{
  static const char *const values[] = {
    "", "plain", "a\nb", "\\x41 is not A", "\x01\x1f\x7f", "tab\there",
    "caf\xc3\xa9", "\\", "\\\\x0a",
  };

  for (size_t i = 0; i < VC_TEST_ROWS (values); i++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream (&buf, &len);
    vc_kv_put (fp, "k", values[i]);
    fclose (fp);
    char *raw = vc_kv_get (buf, "k");
    assert_non_null (raw);
    char *back = vc_kv_unescape (raw);
    assert_string_equal (back, values[i]);
    free (back);
    free (raw);
    free (buf);
  }
  /* What does not decode stays as it is. */
  char *s = vc_kv_unescape ("\\x\\xg1\\x00\\x4");
  assert_string_equal (s, "\\x\\xg1\\x00\\x4");
  free (s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lines_as_json),
    cmocka_unit_test (test_unescape_round_trip),
  };
  int r;

  vc_test_log_init ("test-kv-json");
  r = cmocka_run_group_tests_name ("kv-json", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
