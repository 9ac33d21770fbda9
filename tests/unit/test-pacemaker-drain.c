/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/cli/pacemaker-drain.c: whether crm_mon's XML says
 * this node is drained (no scheduled backup starts there).
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

#include "cli/pacemaker-drain.h"
#include "unit-common.h"

/* As Pacemaker 2.1 prints it (trimmed), with %s for n1's attributes and
 * the cluster's maintenance-mode.
 */
static const char doc_fmt[] =
  "<?xml version=\"1.0\"?>\n"
  "<pacemaker-result api-version=\"2.25\" request=\"crm_mon --one-shot --output-as=xml\">\n"
  "  <summary>\n"
  "    <stack type=\"corosync\"/>\n"
  "    <cluster_options stonith-enabled=\"false\" symmetric-cluster=\"true\""
  " no-quorum-policy=\"stop\" maintenance-mode=\"%s\" stop-all-resources=\"false\"/>\n"
  "  </summary>\n"
  "  <nodes>\n"
  "    <node name=\"n1\" id=\"1\" online=\"true\" %s pending=\"false\" unclean=\"false\""
  " expected_up=\"true\" is_dc=\"false\" resources_running=\"2\" type=\"member\"/>\n"
  "    <node name=\"n2\" id=\"2\" online=\"true\" standby=\"true\" standby_onfail=\"false\""
  " maintenance=\"true\" shutdown=\"false\" is_dc=\"true\" type=\"member\"/>\n"
  "  </nodes>\n"
  "  <status code=\"0\" message=\"OK\"/>\n"
  "</pacemaker-result>\n";

static const char idle[] =
  "standby=\"false\" standby_onfail=\"false\" maintenance=\"false\" shutdown=\"false\"";

static const struct {
  const char *mode, *n1;
  int r;
  const char *why;
} rows[] = {
  { "false", idle, 0, NULL },
  { "true", idle, 1, "the cluster is in maintenance mode" },
  { "false", "standby=\"true\" maintenance=\"false\"", 1, "node n1 is in standby" },
  { "false", "standby_onfail=\"true\"", 1, "node n1 is in standby" },
  { "false", "standby=\"false\" maintenance=\"true\"", 1, "node n1 is in maintenance" },
  { "false", "shutdown=\"true\"", 1, "node n1 is shutting down" },
  /* What is not "true" is not set. */
  { "TRUE", "standby=\"yes\" maintenance=\"1\"", 0, NULL },
};

static void
test_reasons (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (rows); i++) {
    char *xml = vc_printf (doc_fmt, rows[i].mode, rows[i].n1), *why = (char *) 1;
    int r = vc_pacemaker_drain_reason (xml, strlen (xml), "n1", &why);
    if (r != rows[i].r)
      fail_msg ("row %zu: %d, expected %d", i, r, rows[i].r);
    if (rows[i].why == NULL ? why != NULL : why == NULL || strcmp (why, rows[i].why) != 0)
      fail_msg ("row %zu: '%s', expected '%s'", i, why ? why : "(none)",
                rows[i].why ? rows[i].why : "(none)");
    free (why);
    free (xml);
  }
}

/* A node crm_mon does not list (a name mismatch) is not drained; nor is
 * this node drained by another node's standby.
 */
static void
test_other_node (void **state)
{
  char *xml = vc_printf (doc_fmt, "false", idle), *why;

  assert_int_equal (0, vc_pacemaker_drain_reason (xml, strlen (xml), "n3", &why));
  assert_null (why);
  assert_int_equal (1, vc_pacemaker_drain_reason (xml, strlen (xml), "n2", &why));
  assert_string_equal ("node n2 is in standby", why);
  free (why);
  free (xml);
}

static void
test_damaged (void **state)
{
  static const char *bad[] = {
    "", "<pacemaker-result><nodes><node name=\"n1\"", "not xml at all",
    "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
  };
  char *why;

  for (size_t i = 0; i < VC_TEST_ROWS (bad); i++) {
    assert_int_equal (-1, vc_pacemaker_drain_reason (bad[i], strlen (bad[i]), "n1", &why));
    assert_null (why);
  }
  /* Well-formed but not crm_mon's: nothing drains. */
  assert_int_equal (0, vc_pacemaker_drain_reason ("<x/>", 4, "n1", &why));
  assert_null (why);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_reasons),
    cmocka_unit_test (test_other_node),
    cmocka_unit_test (test_damaged),
  };

  vc_test_log_init ("test-pacemaker-drain");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
