/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/last-backup.c and health.c: the record of a
 * domain's last backup in its store document, written and read back,
 * refused when hostile, kept across failures; and the health it gives.
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

#include "common/cleanup.h"
#include "store/document.h"
#include "store/health.h"
#include "store/last-backup.h"
#include "unit-common.h"

#define NOW INT64_C (1764669600)

static void
make_chain (struct vc_chain *chain)
{
  memset (chain, 0, sizeof *chain);
  chain->domain = strdup ("web1");
  chain->version.generation = 3;
  chain->updated = NOW;
}

static struct vc_last_backup
record (enum vc_backup_result result, int64_t t, const char *level, uint32_t id,
        const char *error)
{
  return (struct vc_last_backup) {
    .time = t, .level = (char *) level, .result = result,
    .node = (char *) "host-a", .id = id, .seconds = 12.345, .bytes = UINT64_MAX,
    .dir = (char *) "/backups/web <1> & \"x\" caf\xc3\xa9", .error = (char *) error,
  };
}

/* chain formatted and parsed again */
static void
round_trip (const struct vc_chain *chain, struct vc_chain *back)
{
  CLEANUP_FREE char *doc = NULL, *err = NULL;
  size_t len;

  doc = vc_document_format (chain, &len);
  assert_non_null (doc);
  if (vc_document_parse (doc, len, back, &err) == -1)
    fail_msg ("the written document does not read back: %s\n%s", err, doc);
}

static void
test_round_trip_ok_then_failed (void **state)
{
  struct vc_chain chain, back;
  struct vc_last_backup ok = record (VC_RESULT_OK, NOW - 3600, "inc", 6, NULL);
  struct vc_last_backup bad = record (VC_RESULT_FAILED, NOW, "inc", 7,
                                      "cannot write vda.qcow2: No space left on device");
  const struct vc_last_backup *lb;

  make_chain (&chain);
  assert_int_equal (vc_last_backup_set (&chain, &ok), 0);
  assert_int_equal (vc_last_backup_set (&chain, &bad), 0);
  round_trip (&chain, &back);
  lb = back.last_backup;
  assert_non_null (lb);
  assert_int_equal (lb->time, NOW);
  assert_string_equal (lb->level, "inc");
  assert_int_equal (lb->result, VC_RESULT_FAILED);
  assert_string_equal (lb->node, "host-a");
  assert_int_equal (lb->id, 7);
  assert_true (lb->seconds > 12.344 && lb->seconds < 12.346);
  assert_true (lb->bytes == UINT64_MAX);
  assert_string_equal (lb->dir, bad.dir);
  assert_string_equal (lb->error, bad.error);
  /* the failure does not hide the last ok backup */
  assert_int_equal (lb->ok_time, NOW - 3600);
  assert_string_equal (lb->ok_level, "inc");
  assert_int_equal (lb->ok_id, 6);
  assert_int_equal (vc_health_state (&back, NOW), VC_HEALTH_FAILED);

  /* a later ok backup replaces both */
  struct vc_last_backup full = record (VC_RESULT_OK, NOW + 60, "full", 8, NULL);
  assert_int_equal (vc_last_backup_set (&back, &full), 0);
  vc_chain_clear (&chain);
  round_trip (&back, &chain);
  lb = chain.last_backup;
  assert_int_equal (lb->result, VC_RESULT_OK);
  assert_null (lb->error);
  assert_int_equal (lb->ok_time, NOW + 60);
  assert_string_equal (lb->ok_level, "full");
  assert_int_equal (lb->ok_id, 8);
  assert_int_equal (vc_health_state (&chain, NOW + 60), VC_HEALTH_OK);
  vc_chain_clear (&chain);
  vc_chain_clear (&back);
}

static void
test_round_trip_minimal_and_none (void **state)
{
  struct vc_chain chain, back;
  /* failed before it had a level, an id or a node */
  struct vc_last_backup early = { .time = NOW, .result = VC_RESULT_INTERRUPTED };

  make_chain (&chain);
  round_trip (&chain, &back);
  assert_null (back.last_backup);
  assert_int_equal (vc_health_state (&back, NOW), VC_HEALTH_NEVER);
  vc_chain_clear (&back);

  assert_int_equal (vc_last_backup_set (&chain, &early), 0);
  round_trip (&chain, &back);
  assert_non_null (back.last_backup);
  assert_null (back.last_backup->level);
  assert_null (back.last_backup->node);
  assert_null (back.last_backup->dir);
  assert_string_equal (back.last_backup->error, "");
  assert_int_equal (back.last_backup->id, 0);
  assert_int_equal (back.last_backup->ok_time, 0);
  assert_int_equal (vc_health_state (&back, NOW), VC_HEALTH_INTERRUPTED);
  vc_chain_clear (&chain);
  vc_chain_clear (&back);
}

/* Whatever a backup's error says (a path with controls, bytes that are not
 * UTF-8, pages of it), the document is written, reads back, and holds
 * nothing a terminal acts on.
 */
static void
test_hostile_texts_are_sanitised (void **state)
{
  CLEANUP_FREE char *longer = malloc (3 * VC_LAST_BACKUP_MAX_ERROR);
  struct vc_chain chain, back;
  struct vc_last_backup bad =
    record (VC_RESULT_FAILED, NOW, "full", 1, "esc\x1b[31m red \xc2\x9b csi \n line");

  make_chain (&chain);
  bad.node = (char *) "node\xff\xfe";
  assert_int_equal (vc_last_backup_set (&chain, &bad), 0);
  round_trip (&chain, &back);
  assert_string_equal (back.last_backup->error, "esc?[31m red ? csi ? line");
  assert_string_equal (back.last_backup->node, "node??");
  vc_chain_clear (&back);

  /* UTF-8 that XML refuses: a surrogate, an overlong '/', U+FFFF, past
   * U+10FFFF, a cut sequence; the characters around it stay.
   */
  bad.error = (char *) "sur\xed\xa0\x80 over\xc0\xaf ffff\xef\xbf\xbf big\xf4\x90\x80\x80 "
    "caf\xc3\xa9 \xe2\x9c\x93 cut\xe2\x9c";
  bad.node = (char *) "n\xc3";
  assert_int_equal (vc_last_backup_set (&chain, &bad), 0);
  round_trip (&chain, &back);
  assert_string_equal (back.last_backup->error,
                       "sur??? over?? ffff??? big???? caf\xc3\xa9 \xe2\x9c\x93 cut??");
  assert_string_equal (back.last_backup->node, "n?");
  vc_chain_clear (&back);

  /* cut at the bound, between characters */
  assert_non_null (longer);
  for (size_t i = 0; i + 2 < 3 * VC_LAST_BACKUP_MAX_ERROR; i += 2)
    memcpy (longer + i, "\xc3\xa9", 2);
  longer[3 * VC_LAST_BACKUP_MAX_ERROR - 1] = '\0';
  longer[3 * VC_LAST_BACKUP_MAX_ERROR - 2] = 'x';
  bad.error = longer;
  assert_int_equal (vc_last_backup_set (&chain, &bad), 0);
  round_trip (&chain, &back);
  assert_int_equal (strlen (back.last_backup->error), VC_LAST_BACKUP_MAX_ERROR);
  assert_int_equal (strncmp (back.last_backup->error, longer, VC_LAST_BACKUP_MAX_ERROR), 0);
  vc_chain_clear (&back);
  vc_chain_clear (&chain);
}

#define HEAD "<virtckpt-domain format='1'><name>web1</name>" \
  "<version generation='3' node='0'/><updated>1</updated>"
#define TAIL "<checkpoints/></virtckpt-domain>"

static void
test_parse_rejects_hostile_records (void **state)
{
  static const char *const bad[] = {
    "<last-backup level='inc' result='ok'/>",                     /* no time */
    "<last-backup time='-1' result='ok'/>",
    "<last-backup time='99999999999999999999' result='ok'/>",
    "<last-backup time='1' result='fine'/>",
    "<last-backup time='1'/>",
    "<last-backup time='1' result='ok' level='synthetic'/>",
    "<last-backup time='1' result='ok' id='4294967296'/>",
    "<last-backup time='1' result='ok' id='-1'/>",
    "<last-backup time='1' result='ok' seconds='1e9'/>",
    "<last-backup time='1' result='ok' seconds='nan'/>",
    "<last-backup time='1' result='ok' seconds='1.2345'/>",
    "<last-backup time='1' result='ok' seconds='.5'/>",
    "<last-backup time='1' result='ok' bytes='1 '/>",
    "<last-backup time='1' result='ok' node='a&#10;b'/>",
    "<last-backup time='1' result='failed'><error>a&#x9b;b</error></last-backup>",
    "<last-backup time='1' result='failed'><error>a&#9;b</error></last-backup>",
    "<last-backup time='1' result='ok'><last-ok level='inc'/></last-backup>",
    "<last-backup time='1' result='ok'><last-ok time='0'/></last-backup>",
    "<last-backup time='1' result='ok'><last-ok time='1' level='x'/></last-backup>",
  };

  for (size_t i = 0; i < VC_TEST_ROWS (bad); i++) {
    CLEANUP_FREE char *doc = vc_printf (HEAD "%s" TAIL, bad[i]);
    CLEANUP_FREE char *err = NULL;
    struct vc_chain chain;
    if (vc_document_parse (doc, strlen (doc), &chain, &err) != -1)
      fail_msg ("accepted: %s", bad[i]);
    assert_non_null (err);
  }

  /* texts over their bounds */
  CLEANUP_FREE char *big = malloc (VC_LAST_BACKUP_MAX_DIR + 2);
  memset (big, 'a', VC_LAST_BACKUP_MAX_DIR + 1);
  big[VC_LAST_BACKUP_MAX_DIR + 1] = '\0';
  CLEANUP_FREE char *doc = vc_printf (HEAD "<last-backup time='1' result='ok'>"
                                      "<dir>%s</dir></last-backup>" TAIL, big);
  CLEANUP_FREE char *err = NULL;
  struct vc_chain chain;
  assert_int_equal (vc_document_parse (doc, strlen (doc), &chain, &err), -1);
  /* ...and one byte less is fine */
  big[VC_LAST_BACKUP_MAX_DIR] = '\0';
  CLEANUP_FREE char *fits = vc_printf (HEAD "<last-backup time='1' result='ok'>"
                                       "<dir>%s</dir></last-backup>" TAIL, big);
  CLEANUP_FREE char *err2 = NULL;
  assert_int_equal (vc_document_parse (fits, strlen (fits), &chain, &err2), 0);
  assert_int_equal (strlen (chain.last_backup->dir), VC_LAST_BACKUP_MAX_DIR);
  vc_chain_clear (&chain);
}

static void
test_health_states (void **state)
{
  struct vc_chain chain;
  struct vc_last_backup ok = record (VC_RESULT_OK, NOW - 7200, "inc", 6, NULL);
  struct vc_last_backup cut = record (VC_RESULT_INTERRUPTED, NOW, "inc", 7, "interrupted");
  struct vc_last_backup bad = record (VC_RESULT_FAILED, NOW, "inc", 7, "x");

  make_chain (&chain);
  assert_int_equal (vc_health_state (&chain, NOW), VC_HEALTH_NEVER);
  assert_string_equal (vc_health_name (VC_HEALTH_NEVER), "never");
  assert_false (vc_health_is_problem (VC_HEALTH_NEVER));
  assert_int_equal (vc_last_backup_set (&chain, &ok), 0);
  assert_int_equal (vc_health_state (&chain, NOW), VC_HEALTH_OK);
  assert_string_equal (vc_health_name (VC_HEALTH_OK), "ok");

  /* overdue: no ok backup within two periods; never before a first one */
  assert_false (vc_health_overdue (&chain, 3600, NOW));
  assert_true (vc_health_overdue (&chain, 3599, NOW));
  assert_false (vc_health_overdue (&chain, 0, NOW));

  assert_int_equal (vc_last_backup_set (&chain, &cut), 0);
  assert_int_equal (vc_health_state (&chain, NOW), VC_HEALTH_INTERRUPTED);
  assert_false (vc_health_is_problem (VC_HEALTH_INTERRUPTED));

  chain.broken = true;
  chain.broken_reason = strdup ("bitmap missing");
  assert_int_equal (vc_health_state (&chain, NOW), VC_HEALTH_BROKEN);
  assert_true (vc_health_is_problem (VC_HEALTH_BROKEN));
  assert_string_equal (vc_health_name (VC_HEALTH_BROKEN), "broken");

  /* failed outranks broken */
  assert_int_equal (vc_last_backup_set (&chain, &bad), 0);
  assert_int_equal (vc_health_state (&chain, NOW), VC_HEALTH_FAILED);
  assert_true (vc_health_is_problem (VC_HEALTH_FAILED));
  assert_true (vc_health_is_problem (VC_HEALTH_OVERDUE));
  assert_string_equal (vc_health_name (VC_HEALTH_OVERDUE), "overdue");
  /* still the ok one from before both */
  assert_int_equal (chain.last_backup->ok_time, NOW - 7200);
  assert_int_equal (chain.last_backup->ok_id, 6);
  vc_chain_clear (&chain);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip_ok_then_failed),
    cmocka_unit_test (test_round_trip_minimal_and_none),
    cmocka_unit_test (test_hostile_texts_are_sanitised),
    cmocka_unit_test (test_parse_rejects_hostile_records),
    cmocka_unit_test (test_health_states),
  };

  vc_test_log_init ("test-last-backup");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
