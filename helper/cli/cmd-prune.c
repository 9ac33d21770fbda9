/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt prune DIR --keep-*: retention (backup/prune.h). */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/prune.h"
#include "cli/commands.h"
#include "common/exit-codes.h"
#include "common/json-writer.h"
#include "common/log.h"

static const char *
action_name (enum vc_prune_action a)
{
  switch (a) {
  case VC_PRUNE_KEEP: return "keep";
  case VC_PRUNE_FOLD: return "fold";
  case VC_PRUNE_SYNTHETIC: return "synthetic-full";
  case VC_PRUNE_REMOVE: default: return "remove";
  }
}

/* "2, 3 and 4" into buf. */
static const char *
id_list (const vc_id_vector *v, char *buf, size_t len)
{
  size_t pos = 0;

  buf[0] = '\0';
  for (size_t i = v->len; i-- > 0; ) {
    int r = snprintf (buf + pos, len > pos ? len - pos : 0, "%s%u",
                      pos == 0 ? "" : i == 0 ? " and " : ", ", v->ptr[i]);
    if (r > 0)
      pos += r;
  }
  return buf;
}

static void
print_text (const struct vc_prune_report *r, bool dry_run)
{
  char when[32], why[64], ids[256];

  for (size_t i = 0; i < r->entries.len; i++) {
    const struct vc_prune_entry *e = &r->entries.ptr[i];
    time_t t = e->started;
    struct tm tm;
    when[0] = '\0';
    if (gmtime_r (&t, &tm))
      strftime (when, sizeof when, "%F %T", &tm);
    printf ("%-7s %4u %-5s %-20s", e->action == VC_PRUNE_REMOVE ? "remove" : "keep",
            e->id, e->level, when);
    if (e->action == VC_PRUNE_REMOVE)
      printf ("  (%.1f MiB)", e->bytes / 1048576.0);
    else
      printf ("  (%s)", vc_prune_reasons (e->keep, why, sizeof why));
    if (e->action == VC_PRUNE_FOLD)
      printf (": %s folded into it, builds on %u", id_list (&e->folded, ids, sizeof ids),
              e->new_parent);
    else if (e->action == VC_PRUNE_SYNTHETIC)
      printf (": rewritten as a synthetic full, %s folded into it",
              id_list (&e->folded, ids, sizeof ids));
    putchar ('\n');
  }
  printf ("%s%.1f MiB freed, %.1f MiB written\n", dry_run ? "dry run, would be: " : "",
          r->bytes_freed / 1048576.0, r->bytes_written / 1048576.0);
}

static int
print_json (const struct vc_prune_report *r, const char *dir, bool dry_run, int status)
{
  char why[64];
  struct vc_json j;

  vc_json_init (&j, stdout);
  vc_json_begin_object (&j);
  vc_json_member_uint (&j, "version", 1);
  vc_json_member_string (&j, "domain", r->domain);
  vc_json_member_string (&j, "directory", dir);
  vc_json_member_bool (&j, "dry_run", dry_run);
  vc_json_member_bool (&j, "committed", r->committed);
  vc_json_key (&j, "backups");
  vc_json_begin_array (&j);
  for (size_t i = 0; i < r->entries.len; i++) {
    const struct vc_prune_entry *e = &r->entries.ptr[i];
    vc_json_begin_object (&j);
    vc_json_member_uint (&j, "id", e->id);
    vc_json_member_string (&j, "dir", e->dir);
    vc_json_member_string (&j, "level", e->level);
    vc_json_member_string (&j, "action", action_name (e->action));
    vc_json_key (&j, "reasons");
    vc_json_begin_array (&j);
    vc_prune_reasons (e->keep, why, sizeof why);
    for (char *s = why, *c; *s; s = *c ? c + 1 : c) {
      c = strchr (s, ',');
      if (c == NULL)
        c = s + strlen (s);
      char saved = *c;
      *c = '\0';
      vc_json_string (&j, s);
      *c = saved;
    }
    vc_json_end_array (&j);
    if (e->action == VC_PRUNE_FOLD)
      vc_json_member_uint (&j, "parent", e->new_parent);
    if (e->action == VC_PRUNE_FOLD || e->action == VC_PRUNE_SYNTHETIC) {
      vc_json_key (&j, "folded");
      vc_json_begin_array (&j);
      for (size_t k = e->folded.len; k-- > 0; )
        vc_json_uint (&j, e->folded.ptr[k]);
      vc_json_end_array (&j);
    }
    vc_json_member_uint (&j, "bytes", e->bytes);
    vc_json_end_object (&j);
  }
  vc_json_end_array (&j);
  vc_json_member_uint (&j, "bytes_freed", r->bytes_freed);
  vc_json_member_uint (&j, "bytes_written", r->bytes_written);
  vc_json_end_object (&j);
  if (vc_json_finish (&j) == -1) {
    vc_error ("cannot write to standard output: %m");
    return VC_EXIT_ERROR;
  }
  return status;
}

/* --keep-NAME=N: absent is 0 (the rule is not used). */
static int
parse_keep (const char *name, const char *arg, unsigned *out)
{
  char *end;
  unsigned long v;

  *out = 0;
  if (arg == NULL)
    return 0;
  v = strtoul (arg, &end, 10);
  if (!(*arg >= '0' && *arg <= '9' && *end == '\0') || v > 100000) {
    fprintf (stderr, "virtckpt: bad value '%s' for --keep-%s (0 to 100000)\n",
             arg, name);
    return -1;
  }
  *out = v;
  return 0;
}

int
vc_cmd_prune (const struct vc_options *o, int argc, char **argv)
{
  unsigned last, daily, weekly, monthly;

  if (parse_keep ("last", o->keep_last, &last) == -1 ||
      parse_keep ("daily", o->keep_daily, &daily) == -1 ||
      parse_keep ("weekly", o->keep_weekly, &weekly) == -1 ||
      parse_keep ("monthly", o->keep_monthly, &monthly) == -1)
    return VC_EXIT_USAGE;

  struct vc_prune_options po = {
    .policy = { last, daily, weekly, monthly },
    .dry_run = o->dry_run,
    .progress = !o->no_progress && !o->json && o->verbosity >= 0 && isatty (2),
  };
  struct vc_prune_report r;
  int status;

  if (argc != 1) {
    fprintf (stderr, "virtckpt: prune: expected DIR\n");
    return VC_EXIT_USAGE;
  }
  if (!vc_prune_policy_valid (&po.policy)) {
    fprintf (stderr, "virtckpt: prune: give at least one of --keep-last, "
             "--keep-daily, --keep-weekly, --keep-monthly (at least 1)\n");
    return VC_EXIT_USAGE;
  }
  po.dir = argv[0];
  status = vc_prune (&po, &r);
  if (r.domain) {
    if (o->json)
      status = print_json (&r, argv[0], o->dry_run, status);
    else if (status == VC_EXIT_OK && o->verbosity >= 0)
      print_text (&r, o->dry_run);
  }
  vc_prune_report_clear (&r);
  return status;
}
