/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt status --domains | DOMAIN...: each domain's last backup and
 * the health of its chain, from the store (virtckptd's replica when it
 * runs here), so that any node tells the same.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/status-domains.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/json-writer.h"
#include "common/log.h"
#include "store/health.h"
#include "store/last-backup.h"
#include "store/store.h"

/* UTC, to the second or (short) the minute; "-" for none. */
static const char *
when (int64_t t, bool minutes, char *buf, size_t size)
{
  time_t tt = t;
  struct tm tm;

  if (t <= 0 || gmtime_r (&tt, &tm) == NULL)
    return "-";
  strftime (buf, size, minutes ? "%Y-%m-%dT%H:%MZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/* A stored text on a terminal: its control characters as '?' (the
 * store's texts have none, but the document is read as untrusted).
 */
static void
put_text (const char *s)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    putchar (*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static void
text_header (void)
{
  printf ("%-24s %-11s %-20s %-5s %-11s %-20s %s\n", "DOMAIN", "STATE",
          "LAST BACKUP", "LEVEL", "RESULT", "LAST OK", "NODE");
}

static void
text_row (const struct vc_chain *chain, enum vc_health h)
{
  const struct vc_last_backup *lb = chain->last_backup;
  char t1[32], t2[32];

  put_text (chain->domain);
  printf ("%*s %-11s %-20s %-5s %-11s %-20s ",
          strlen (chain->domain) < 24 ? (int) (24 - strlen (chain->domain)) : 0, "",
          vc_health_name (h), lb ? when (lb->time, false, t1, sizeof t1) : "-",
          lb && lb->level ? lb->level : "-",
          lb ? vc_backup_result_name (lb->result) : "-",
          lb ? when (lb->ok_time, false, t2, sizeof t2) : "-");
  put_text (lb && lb->node ? lb->node : "-");
  putchar ('\n');
  if (lb && lb->result != VC_RESULT_OK && lb->error) {
    printf ("  error: ");
    put_text (lb->error);
    putchar ('\n');
  }
  if (chain->broken) {
    printf ("  broken since %s: ", when (chain->broken_since, false, t1, sizeof t1));
    put_text (chain->broken_reason ? chain->broken_reason : "");
    putchar ('\n');
  }
}

/* --attribute: "STATE [LAST-OK LEVEL]", short enough for crm_mon -A. */
static void
attribute_row (const struct vc_chain *chain, enum vc_health h)
{
  const struct vc_last_backup *lb = chain->last_backup;
  char t[32];

  printf ("%s", vc_health_name (h));
  if (lb && lb->ok_time > 0)
    printf (" %s %s", when (lb->ok_time, true, t, sizeof t),
            lb->ok_level ? lb->ok_level : "-");
  putchar ('\n');
}

static void
json_time (struct vc_json *j, const char *key, int64_t t)
{
  vc_json_key (j, key);
  if (t > 0)
    vc_json_int (j, t);
  else
    vc_json_null (j);
}

static void
json_id (struct vc_json *j, uint32_t id)
{
  vc_json_key (j, "id");
  if (id)
    vc_json_uint (j, id);
  else
    vc_json_null (j);
}

static void
json_row (struct vc_json *j, const struct vc_chain *chain, enum vc_health h)
{
  const struct vc_last_backup *lb = chain->last_backup;

  vc_json_begin_object (j);
  vc_json_member_string (j, "domain", chain->domain);
  vc_json_member_string (j, "state", vc_health_name (h));
  vc_json_member_bool (j, "broken", chain->broken);
  vc_json_member_string (j, "broken_reason", chain->broken ? chain->broken_reason : NULL);
  json_time (j, "broken_since", chain->broken ? chain->broken_since : 0);
  vc_json_key (j, "last_backup");
  if (lb == NULL)
    vc_json_null (j);
  else {
    vc_json_begin_object (j);
    json_time (j, "time", lb->time);
    vc_json_member_string (j, "level", lb->level);
    vc_json_member_string (j, "result", vc_backup_result_name (lb->result));
    vc_json_member_string (j, "node", lb->node);
    json_id (j, lb->id);
    vc_json_key (j, "seconds");
    vc_json_seconds (j, lb->seconds);
    vc_json_member_uint (j, "bytes_written", lb->bytes);
    vc_json_member_string (j, "directory", lb->dir);
    vc_json_member_string (j, "error", lb->result == VC_RESULT_OK ? NULL : lb->error);
    vc_json_end_object (j);
  }
  vc_json_key (j, "last_ok");
  if (lb == NULL || lb->ok_time <= 0)
    vc_json_null (j);
  else {
    vc_json_begin_object (j);
    json_time (j, "time", lb->ok_time);
    vc_json_member_string (j, "level", lb->ok_level);
    json_id (j, lb->ok_id);
    vc_json_end_object (j);
  }
  vc_json_end_object (j);
}

struct tally {
  int ret;
  size_t problems;
};

static void
show (const struct vc_options *o, struct vc_json *j, const struct vc_chain *chain,
      int64_t now, struct tally *t)
{
  enum vc_health h = vc_health_state (chain, now);

  if (j)
    json_row (j, chain, h);
  else if (o->attribute)
    attribute_row (chain, h);
  else
    text_row (chain, h);
  if (o->check && vc_health_is_problem (h)) {
    vc_error ("the backups of %s are not healthy: %s", chain->domain,
              vc_health_name (h));
    t->problems++;
  }
}

static int
run (const struct vc_options *o, struct vc_store *store, int argc, char **argv)
{
  string_vector all = empty_vector;
  struct vc_json json, *j = o->json ? &json : NULL;
  struct tally t = { VC_EXIT_OK, 0 };
  int64_t now = time (NULL);
  char **names = argv;
  size_t n = argc;

  if (argc == 0) {
    if (vc_store_list (store, &all) == -1)
      return VC_EXIT_ERROR;
    names = all.ptr;
    n = all.len;
  }
  if (j) {
    vc_json_init (j, stdout);
    vc_json_begin_object (j);
    vc_json_member_uint (j, "version", 1);
    vc_json_key (j, "domains");
    vc_json_begin_array (j);
  }
  else if (!o->attribute && n > 0)
    text_header ();
  else if (!o->attribute)
    printf ("no domains stored\n");
  for (size_t i = 0; i < n; i++) {
    struct vc_chain chain;
    switch (vc_store_load (store, names[i], &chain)) {
    case 0:
      show (o, j, &chain, now, &t);
      vc_chain_clear (&chain);
      break;
    case 1:
      vc_error ("nothing stored for '%s'", names[i]);
      if (t.ret == VC_EXIT_OK)
        t.ret = VC_EXIT_NOT_STORED;
      break;
    default:
      t.ret = VC_EXIT_ERROR;
    }
  }
  vc_string_vector_free (&all);
  if (j) {
    vc_json_end_array (j);
    vc_json_end_object (j);
    if (vc_json_finish (j) == -1) {
      vc_error ("cannot write to standard output: %m");
      return VC_EXIT_ERROR;
    }
  }
  else if (fflush (stdout) == EOF) {
    vc_error ("cannot write to standard output: %m");
    return VC_EXIT_ERROR;
  }
  return t.ret == VC_EXIT_OK && t.problems ? VC_EXIT_UNHEALTHY : t.ret;
}

int
vc_status_domains (const struct vc_options *o, int argc, char **argv)
{
  struct vc_store store;
  int ret;

  if (o->json && o->attribute) {
    fprintf (stderr, "virtckpt: status: --json and --attribute exclude each other\n");
    return VC_EXIT_USAGE;
  }
  if (o->wait_synced) {
    fprintf (stderr, "virtckpt: status: --wait-synced is for the daemon's "
             "status, not with --domains or DOMAIN\n");
    return VC_EXIT_USAGE;
  }
  for (int i = 0; i < argc; i++)
    if (argv[i][0] == '\0') {
      fprintf (stderr, "virtckpt: status: empty domain name\n");
      return VC_EXIT_USAGE;
    }
  ret = vc_store_open_cli (&store, o->store_dir, o->store_explicit, false);
  if (ret < 0)
    return vc_store_open_exit_code (ret);
  ret = run (o, &store, argc, argv);
  vc_store_close (&store);
  return ret;
}
