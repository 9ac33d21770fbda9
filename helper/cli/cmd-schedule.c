/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt schedule set|show|list|remove
 *
 * A schedule lives in its domain's store document (store/schedule.h), so
 * it is written exactly as the chain is: through virtckptd when it runs
 * here (replicated), to the local store otherwise.  'run' is in
 * cmd-schedule-run.c.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "backup/backup-guard.h"
#include "backup/manifest.h"
#include "backup/schedule-due.h"
#include "cli/commands.h"
#include "cli/schedule-common.h"
#include "cli/pacemaker-drain.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/duration.h"
#include "common/exit-codes.h"
#include "common/json-writer.h"
#include "common/log.h"
#include "common/trusted-dir.h"
#include "common/vc-strings.h"
#include "libvirt/libvirt-conn.h"
#include "store/name-map.h"
#include "store/schedule.h"
#include "store/store.h"

/* --every, --full-every */
static int
parse_period (const char *opt, const char *arg, uint64_t *out)
{
  if (vc_parse_duration (arg, out) == -1 || *out < 1 ||
      *out > VC_SCHEDULE_MAX_PERIOD) {
    vc_sched_usage ("set", "bad value '%s' for --%s (a duration from 1s to %llud: "
           "90s, 15m, 4h, 1d, 2w, 1h30m or seconds)", arg, opt,
           VC_SCHEDULE_MAX_PERIOD / 86400);
    return -1;
  }
  return 0;
}

/* --keep-*: absent is 0 (not set). */
static int
parse_keep (const char *opt, const char *arg, uint32_t *out)
{
  char *end;
  unsigned long v;

  if (arg == NULL)
    return 0;
  errno = 0;
  v = strtoul (arg, &end, 10);
  if (*arg < '0' || *arg > '9' || *end || errno || v < 1 ||
      v > VC_SCHEDULE_MAX_KEEP) {
    vc_sched_usage ("set", "bad value '%s' for --%s (a count from 1 to %u)", arg, opt,
           VC_SCHEDULE_MAX_KEEP);
    return -1;
  }
  *out = v;
  return 0;
}

/* The schedule the options of 'set' describe; VC_EXIT_OK or the usage
 * error (said).
 */
static int
schedule_of_options (const struct vc_options *o, struct vc_schedule *s)
{
  size_t n;

  if (o->output == NULL)
    return vc_sched_usage ("set", "missing -o DIR");
  if (o->every == NULL)
    return vc_sched_usage ("set", "missing --every DURATION");
  /* Refused, not made absolute: the schedule is read on every node,
   * where this command's working directory means nothing.
   */
  if (o->output[0] != '/')
    return vc_sched_usage ("set", "the backup directory '%s' must be an absolute path "
                  "(it is used on every node)", o->output);
  if (!vc_schedule_valid_dir (o->output))
    return vc_sched_usage ("set", "bad backup directory '%s' (at most 4095 bytes, no "
                  "control characters)", o->output);
  if (parse_period ("every", o->every, &s->every) == -1 ||
      (o->full_every && parse_period ("full-every", o->full_every,
                                      &s->full_every) == -1) ||
      parse_keep ("keep-last", o->keep_last, &s->keep_last) == -1 ||
      parse_keep ("keep-daily", o->keep_daily, &s->keep_daily) == -1 ||
      parse_keep ("keep-weekly", o->keep_weekly, &s->keep_weekly) == -1 ||
      parse_keep ("keep-monthly", o->keep_monthly, &s->keep_monthly) == -1)
    return VC_EXIT_USAGE;
  if (s->full_every && s->full_every < s->every)
    return vc_sched_usage ("set", "--full-every %s is shorter than --every", o->full_every);
  s->dir = strdup (o->output);
  if (s->dir == NULL) {
    perror ("virtckpt");
    return VC_EXIT_ERROR;
  }
  /* /backups/web1/ and /backups/web1 are one directory. */
  for (n = strlen (s->dir); n > 1 && s->dir[n - 1] == '/'; n--)
    s->dir[n - 1] = '\0';
  return VC_EXIT_OK;
}

static bool
valid_domain_argument (const char *cmd, int argc, char **argv)
{
  if (argc != 1) {
    vc_sched_usage (cmd, "expected one DOMAIN argument");
    return false;
  }
  if (argv[0][0] == '\0') {
    vc_sched_usage (cmd, "empty domain name");
    return false;
  }
  return true;
}

int
vc_cmd_schedule_set (const struct vc_options *o, int argc, char **argv)
{
  struct vc_schedule s = { 0 };
  struct vc_store store;
  struct vc_chain chain;
  char every[VC_DURATION_BUFSIZE];
  int r, ret;

  if (!valid_domain_argument ("set", argc, argv))
    return VC_EXIT_USAGE;
  ret = schedule_of_options (o, &s);
  if (ret != VC_EXIT_OK)
    return ret;
  s.set = time (NULL);
  ret = vc_sched_open_store (o, &store, true);
  if (ret != VC_EXIT_OK) {
    free (s.dir);
    return ret;
  }
  if (vc_store_lock (&store) == -1 ||
      (r = vc_store_load (&store, argv[0], &chain)) == -1) {
    free (s.dir);
    vc_store_close (&store);
    return VC_EXIT_ERROR;
  }
  if (r == 1) {
    /* A document with a schedule and no checkpoints yet. */
    memset (&chain, 0, sizeof chain);
    chain.domain = strdup (argv[0]);
    if (chain.domain == NULL) {
      free (s.dir);
      vc_store_close (&store);
      vc_error ("out of memory");
      return VC_EXIT_ERROR;
    }
  }
  vc_schedule_free (chain.schedule);
  chain.schedule = vc_schedule_copy (&s);
  free (s.dir);
  chain.version.generation++;
  chain.updated = time (NULL);
  ret = chain.schedule && vc_store_save (&store, &chain) == 0
    ? VC_EXIT_OK : VC_EXIT_ERROR;
  if (ret == VC_EXIT_OK)
    vc_notice ("%s is backed up every %s into %s", argv[0],
               vc_format_duration (chain.schedule->every, every),
               chain.schedule->dir);
  vc_chain_clear (&chain);
  vc_store_close (&store);
  return ret;
}

int
vc_cmd_schedule_remove (const struct vc_options *o, int argc, char **argv)
{
  struct vc_store store;
  struct vc_chain chain;
  int r, ret;

  if (!valid_domain_argument ("remove", argc, argv))
    return VC_EXIT_USAGE;
  ret = vc_sched_open_store (o, &store, false);
  if (ret != VC_EXIT_OK)
    return ret;
  if (store.dirfd == -1 && store.daemon == NULL)
    r = 1;                      /* no store yet: nothing in it */
  else
    r = vc_store_lock (&store) == -1 ? -1 : vc_store_load (&store, argv[0], &chain);
  if (r == 0 && chain.schedule == NULL) {
    vc_chain_clear (&chain);
    r = 1;
  }
  if (r == 1) {
    vc_error ("no schedule for '%s'", argv[0]);
    vc_store_close (&store);
    return VC_EXIT_NOT_STORED;
  }
  if (r == -1) {
    vc_store_close (&store);
    return VC_EXIT_ERROR;
  }
  vc_schedule_free (chain.schedule);
  chain.schedule = NULL;
  /* Nothing else left: the document goes (a tombstone in a cluster),
   * as 'checkpoints forget' makes it go.
   */
  if (vc_chain_holds_nothing (&chain))
    r = vc_store_remove (&store, argv[0]) == -1 ? -1 : 0;
  else {
    chain.version.generation++;
    chain.updated = time (NULL);
    r = vc_store_save (&store, &chain);
  }
  if (r == 0)
    vc_notice ("removed the schedule of %s", argv[0]);
  vc_chain_clear (&chain);
  vc_store_close (&store);
  return r == 0 ? VC_EXIT_OK : VC_EXIT_ERROR;
}

/* --- show, list ---------------------------------------------------------- */

/* "last 7, daily 7" or "-" */
static void
format_keep (const struct vc_schedule *s, char *buf, size_t len, bool compact)
{
  const struct { const char *name; uint32_t v; } k[] = {
    { compact ? "L" : "last ", s->keep_last },
    { compact ? "D" : "daily ", s->keep_daily },
    { compact ? "W" : "weekly ", s->keep_weekly },
    { compact ? "M" : "monthly ", s->keep_monthly },
  };
  size_t used = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
    if (k[i].v && used < len)
      used += snprintf (buf + used, len - used, "%s%s%" PRIu32,
                        used ? (compact ? "," : ", ") : "", k[i].name, k[i].v);
  if (used == 0)
    snprintf (buf, len, "-");
}

static void
format_next (const struct vc_due_state *st, char *buf, size_t len)
{
  char when[64];

  if (!st->known)
    snprintf (buf, len, "unknown");
  else if (st->due.due)
    snprintf (buf, len, "now (%s)", st->due.full ? "full" : "inc");
  else {
    vc_sched_format_time (st->due.next, when, sizeof when, false);
    snprintf (buf, len, "%s", when);
  }
}

/* The members of one schedule in show --json and list --json. */
static void
json_schedule (struct vc_json *j, const struct vc_chain *chain,
               const struct vc_due_state *st)
{
  const struct vc_schedule *s = chain->schedule;
  const struct { const char *key; uint32_t v; } k[] = {
    { "keep_last", s->keep_last }, { "keep_daily", s->keep_daily },
    { "keep_weekly", s->keep_weekly }, { "keep_monthly", s->keep_monthly },
  };

  vc_json_begin_object (j);
  vc_json_member_string (j, "domain", chain->domain);
  vc_json_member_string (j, "directory", s->dir);
  vc_json_member_uint (j, "every", s->every);
  vc_json_key (j, "full_every");
  if (s->full_every)
    vc_json_uint (j, s->full_every);
  else
    vc_json_null (j);
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    vc_json_key (j, k[i].key);
    if (k[i].v)
      vc_json_uint (j, k[i].v);
    else
      vc_json_null (j);
  }
  vc_json_member_int (j, "set", s->set);
  vc_json_key (j, "due");
  if (st->known)
    vc_json_bool (j, st->due.due);
  else
    vc_json_null (j);
  vc_json_member_string (j, "level", st->known && st->due.due
                         ? (st->due.full ? "full" : "inc") : NULL);
  vc_json_key (j, "next_due");
  if (st->known)
    vc_json_int (j, st->due.due ? st->due.window : st->due.next);
  else
    vc_json_null (j);
  vc_json_member_string (j, "reason", st->known ? st->due.why : NULL);
  vc_json_end_object (j);
}

static int
json_finish (struct vc_json *j)
{
  if (vc_json_finish (j) == -1) {
    vc_error ("cannot write to standard output: %m");
    return VC_EXIT_ERROR;
  }
  return VC_EXIT_OK;
}

static void
print_schedule (const struct vc_chain *chain, const struct vc_due_state *st)
{
  const struct vc_schedule *s = chain->schedule;
  char buf[VC_DURATION_BUFSIZE], keep[128], next[96], set[64];

  printf ("Domain:      %s\n", chain->domain);
  printf ("Directory:   %s\n", s->dir);
  printf ("Every:       %s\n", vc_format_duration (s->every, buf));
  if (s->full_every)
    printf ("Full every:  %s\n", vc_format_duration (s->full_every, buf));
  else
    printf ("Full every:  - (only when the chain needs one)\n");
  format_keep (s, keep, sizeof keep, false);
  printf ("Keep:        %s\n", keep);
  vc_sched_format_time (s->set, set, sizeof set, true);
  printf ("Set:         %s\n", set);
  format_next (st, next, sizeof next);
  if (st->known)
    printf ("Next due:    %s: %s\n", next, st->due.why);
  else
    printf ("Next due:    %s (the backup directory cannot be read here)\n", next);
}

int
vc_cmd_schedule_show (const struct vc_options *o, int argc, char **argv)
{
  struct vc_store store;
  struct vc_chain chain;
  struct vc_due_state st;
  int r, ret;

  if (!valid_domain_argument ("show", argc, argv))
    return VC_EXIT_USAGE;
  ret = vc_sched_open_store (o, &store, false);
  if (ret != VC_EXIT_OK)
    return ret;
  r = vc_store_load (&store, argv[0], &chain);
  vc_store_close (&store);
  if (r == -1)
    return VC_EXIT_ERROR;
  if (r == 1 || chain.schedule == NULL) {
    if (r == 0)
      vc_chain_clear (&chain);
    vc_error ("no schedule for '%s'", argv[0]);
    return VC_EXIT_NOT_STORED;
  }
  vc_sched_compute_due (&chain, time (NULL), &st);
  if (o->json) {
    struct vc_json j;
    vc_json_init (&j, stdout);
    vc_json_begin_object (&j);
    vc_json_member_uint (&j, "version", 1);
    vc_json_key (&j, "schedule");
    json_schedule (&j, &chain, &st);
    vc_json_end_object (&j);
    ret = json_finish (&j);
  }
  else
    print_schedule (&chain, &st);
  vc_chain_clear (&chain);
  return ret;
}

struct list_state {
  struct vc_json *j;
  size_t rows;
};

static int
list_row (const struct vc_options *o, const struct vc_chain *chain, void *data)
{
  struct list_state *ls = data;
  const struct vc_schedule *s = chain->schedule;
  struct vc_due_state st;
  char every[VC_DURATION_BUFSIZE], full[VC_DURATION_BUFSIZE], keep[64], next[96];

  vc_sched_compute_due (chain, time (NULL), &st);
  if (ls->j)
    json_schedule (ls->j, chain, &st);
  else {
    if (ls->rows == 0)
      printf ("%-24s %-8s %-10s %-18s %-19s %s\n", "DOMAIN", "EVERY",
              "FULL-EVERY", "KEEP", "NEXT-DUE", "DIRECTORY");
    format_keep (s, keep, sizeof keep, true);
    format_next (&st, next, sizeof next);
    printf ("%-24s %-8s %-10s %-18s %-19s %s\n", chain->domain,
            vc_format_duration (s->every, every),
            s->full_every ? vc_format_duration (s->full_every, full) : "-",
            keep, next, s->dir);
  }
  ls->rows++;
  return VC_EXIT_OK;
}

int
vc_cmd_schedule_list (const struct vc_options *o, int argc, char **argv)
{
  struct vc_store store;
  struct vc_json json;
  struct list_state ls = { .j = o->json ? &json : NULL };
  int ret;

  if (argc != 0)
    return vc_sched_usage ("list", "expected no argument");
  ret = vc_sched_open_store (o, &store, false);
  if (ret != VC_EXIT_OK)
    return ret;
  if (ls.j) {
    vc_json_init (ls.j, stdout);
    vc_json_begin_object (ls.j);
    vc_json_member_uint (ls.j, "version", 1);
    vc_json_key (ls.j, "schedules");
    vc_json_begin_array (ls.j);
  }
  ret = vc_sched_for_each (o, &store, 0, NULL, list_row, &ls);
  vc_store_close (&store);
  if (ls.j) {
    vc_json_end_array (ls.j);
    vc_json_end_object (ls.j);
    if (json_finish (ls.j) != VC_EXIT_OK)
      return VC_EXIT_ERROR;
  }
  else if (ls.rows == 0)
    printf ("no schedules\n");
  return ret;
}
