/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt schedule set|show|list|remove|run
 *
 * A schedule lives in its domain's store document (store/schedule.h), so
 * it is written exactly as the chain is: through virtckptd when it runs
 * here (replicated), to the local store otherwise.  'run' serves the
 * schedules: virtckptd runs it for each domain due on its node (under the
 * domain's lease), and a systemd timer every minute on a host without a
 * cluster.
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

static int usage (const char *cmd, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
usage (const char *cmd, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "virtckpt: schedule %s: ", cmd);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\nTry 'virtckpt schedule %s --help'.\n", cmd);
  return VC_EXIT_USAGE;
}

static int
open_store (const struct vc_options *opts, struct vc_store *store, bool writes)
{
  int r = vc_store_open_cli (store, opts->store_dir, opts->store_explicit, writes);

  if (r < 0)
    return r == VC_STORE_UNTRUSTED_DAEMON ? VC_EXIT_UNTRUSTED_DAEMON : VC_EXIT_ERROR;
  return VC_EXIT_OK;
}

/* --every, --full-every */
static int
parse_period (const char *opt, const char *arg, uint64_t *out)
{
  if (vc_parse_duration (arg, out) == -1 || *out < 1 ||
      *out > VC_SCHEDULE_MAX_PERIOD) {
    usage ("set", "bad value '%s' for --%s (a duration from 1s to %llud: "
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
    usage ("set", "bad value '%s' for --%s (a count from 1 to %u)", arg, opt,
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
    return usage ("set", "missing -o DIR");
  if (o->every == NULL)
    return usage ("set", "missing --every DURATION");
  /* Refused, not made absolute: the schedule is read on every node,
   * where this command's working directory means nothing.
   */
  if (o->output[0] != '/')
    return usage ("set", "the backup directory '%s' must be an absolute path "
                  "(it is used on every node)", o->output);
  if (!vc_schedule_valid_dir (o->output))
    return usage ("set", "bad backup directory '%s' (at most 4095 bytes, no "
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
    return usage ("set", "--full-every %s is shorter than --every", o->full_every);
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
    usage (cmd, "expected one DOMAIN argument");
    return false;
  }
  if (argv[0][0] == '\0') {
    usage (cmd, "empty domain name");
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
  ret = open_store (o, &store, true);
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
  ret = open_store (o, &store, false);
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

/* What is due for a schedule, seen from this node. */
struct due_state {
  bool known;                   /* the backup directory could be read */
  struct vc_schedule_due due;
};

/* Loads the manifest of s->dir: a missing directory or manifest is no
 * backup yet; anything else unreadable leaves the answer unknown (the
 * directory may be mounted on another node only).  m is cleared by the
 * caller.  Returns 0 with *m (NULL when none), or -1 (logged).
 */
static int
load_manifest (const struct vc_schedule *s, struct vc_manifest *m,
               struct vc_manifest **out)
{
  int fd = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r;

  *out = NULL;
  memset (m, 0, sizeof *m);
  if (fd == -1) {
    if (errno == ENOENT)
      return 0;
    vc_error ("cannot open backup directory %s: %m", s->dir);
    return -1;
  }
  r = vc_manifest_load (fd, s->dir, m);
  close (fd);
  if (r == -1)
    return -1;
  if (r == 0)
    *out = m;
  return 0;
}

static void
compute_due (const struct vc_chain *chain, int64_t now, struct due_state *st)
{
  struct vc_manifest m, *mp;

  memset (st, 0, sizeof *st);
  if (load_manifest (chain->schedule, &m, &mp) == -1)
    return;
  st->known = true;
  vc_schedule_due (chain->schedule, mp, chain->broken, now, &st->due);
  vc_manifest_clear (&m);
}

/* Local time, with the zone when zone. */
static void
format_time (int64_t t, char *buf, size_t len, bool zone)
{
  time_t tt = t;
  struct tm tm;

  if (localtime_r (&tt, &tm) == NULL ||
      strftime (buf, len, zone ? "%F %T %z" : "%F %T", &tm) == 0)
    snprintf (buf, len, "%" PRId64, t);
}

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
format_next (const struct due_state *st, char *buf, size_t len)
{
  char when[64];

  if (!st->known)
    snprintf (buf, len, "unknown");
  else if (st->due.due)
    snprintf (buf, len, "now (%s)", st->due.full ? "full" : "inc");
  else {
    format_time (st->due.next, when, sizeof when, false);
    snprintf (buf, len, "%s", when);
  }
}

/* The members of one schedule in show --json and list --json. */
static void
json_schedule (struct vc_json *j, const struct vc_chain *chain,
               const struct due_state *st)
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
print_schedule (const struct vc_chain *chain, const struct due_state *st)
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
  format_time (s->set, set, sizeof set, true);
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
  struct due_state st;
  int r, ret;

  if (!valid_domain_argument ("show", argc, argv))
    return VC_EXIT_USAGE;
  ret = open_store (o, &store, false);
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
  compute_due (&chain, time (NULL), &st);
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

/* Calls fn for every scheduled domain in the store (those of names when
 * given), in name order.  A domain named that has no schedule, or a
 * document that cannot be read, makes the result VC_EXIT_ERROR; the
 * others are still visited.
 */
typedef int visit_fn (const struct vc_options *o, const struct vc_chain *chain,
                      void *data);

static int
for_each_schedule (const struct vc_options *o, struct vc_store *store,
                   int argc, char **argv, visit_fn *fn, void *data)
{
  string_vector names = empty_vector;
  int ret = VC_EXIT_OK;

  if (argc == 0 && vc_store_list (store, &names) == -1)
    return VC_EXIT_ERROR;
  for (size_t i = 0; i < (argc ? (size_t) argc : names.len); i++) {
    const char *name = argc ? argv[i] : names.ptr[i];
    struct vc_chain chain;
    int r = vc_store_load (store, name, &chain);
    if (r == -1) {
      ret = VC_EXIT_ERROR;
      continue;
    }
    if (r == 1 || chain.schedule == NULL) {
      if (r == 0)
        vc_chain_clear (&chain);
      if (argc) {
        vc_error ("no schedule for '%s'", name);
        printf ("%s: no schedule\n", name);
        ret = VC_EXIT_ERROR;
      }
      continue;
    }
    if (fn (o, &chain, data) != VC_EXIT_OK)
      ret = VC_EXIT_ERROR;
    vc_chain_clear (&chain);
  }
  vc_string_vector_free (&names);
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
  struct due_state st;
  char every[VC_DURATION_BUFSIZE], full[VC_DURATION_BUFSIZE], keep[64], next[96];

  compute_due (chain, time (NULL), &st);
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
    return usage ("list", "expected no argument");
  ret = open_store (o, &store, false);
  if (ret != VC_EXIT_OK)
    return ret;
  if (ls.j) {
    vc_json_init (ls.j, stdout);
    vc_json_begin_object (ls.j);
    vc_json_member_uint (ls.j, "version", 1);
    vc_json_key (ls.j, "schedules");
    vc_json_begin_array (ls.j);
  }
  ret = for_each_schedule (o, &store, 0, NULL, list_row, &ls);
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

/* --- run ----------------------------------------------------------------- */

static volatile sig_atomic_t stopped;

static void
on_signal (int sig)
{
  stopped = sig;
}

struct run_state {
  virConnectPtr conn;
  char *self;                   /* this program, for the backups */
  bool drain_known;             /* Pacemaker was asked (once a run) */
  char *drain;                  /* why this node is drained, or NULL */
  bool deferred;                /* a domain was due and could not start */
};

static bool
runs_here (virConnectPtr conn, const char *domain)
{
  virDomainPtr dom = virDomainLookupByName (conn, domain);
  int active;

  if (dom == NULL)
    return false;
  active = virDomainIsActive (dom);
  virDomainFree (dom);
  return active == 1;
}

/* Runs virtckpt [GLOBAL OPTIONS] CMD... as a child, the same code path as
 * by hand, so that a backup that crashes or is killed ends only its own
 * run.  Returns its exit status, or -1.
 */
static int
spawn_self (const struct vc_options *o, const struct run_state *rs,
            const char *domain, const char *const *cmd)
{
  const char *args[32];
  size_t n = 0;
  pid_t pid;
  int status;

  args[n++] = rs->self;
  if (o->uri) {
    args[n++] = "-c";
    args[n++] = o->uri;
  }
  if (o->store_explicit) {
    args[n++] = "-s";
    args[n++] = o->store_dir;
  }
  args[n++] = "--rundir";
  args[n++] = o->rundir;
  if (o->verbosity < 1)
    args[n++] = "-q";
  for (size_t i = 0; cmd[i] && n < sizeof args / sizeof *args - 1; i++)
    args[n++] = cmd[i];
  args[n] = NULL;

  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  if (pid == -1) {
    vc_error ("cannot start the %s of %s: %m", cmd[0], domain);
    return -1;
  }
  if (pid == 0) {
    signal (SIGTERM, SIG_DFL);
    signal (SIGINT, SIG_DFL);
    execv (rs->self, (char **) args);
    fprintf (stderr, "virtckpt: cannot run %s: %s\n", rs->self, strerror (errno));
    _exit (127);
  }
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR) {
      vc_error ("cannot wait for the %s of %s: %m", cmd[0], domain);
      return -1;
    }
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  vc_error ("the %s of %s was killed by signal %d", cmd[0], domain, WTERMSIG (status));
  return -1;
}

static int
spawn_backup (const struct vc_options *o, const struct run_state *rs,
              const char *domain, const char *dir, const char *level)
{
  const char *cmd[] = { "backup", "--no-progress", "--level", level, "-o", dir,
                        "--", domain, NULL };

  return spawn_self (o, rs, domain, cmd);
}

/* The schedule's retention, after each backup it made.  Returns the
 * prune's exit status, -1, or 0 when the schedule keeps everything.
 */
static int
spawn_prune (const struct vc_options *o, const struct run_state *rs,
             const char *domain, const struct vc_schedule *s)
{
  const char *cmd[16] = { "prune" };
  char num[4][16];
  const struct { const char *opt; uint32_t n; } keep[] = {
    { "--keep-last", s->keep_last }, { "--keep-daily", s->keep_daily },
    { "--keep-weekly", s->keep_weekly }, { "--keep-monthly", s->keep_monthly },
  };
  size_t n = 1;

  for (size_t i = 0; i < 4; i++)
    if (keep[i].n) {
      snprintf (num[i], sizeof num[i], "%" PRIu32, keep[i].n);
      cmd[n++] = keep[i].opt;
      cmd[n++] = num[i];
    }
  if (n == 1)
    return 0;
  cmd[n++] = "--";
  cmd[n++] = s->dir;
  cmd[n] = NULL;
  return spawn_self (o, rs, domain, cmd);
}

/* The level the newest backup in dir has, for the line said. */
static char *
newest_level (const struct vc_schedule *s, unsigned *id)
{
  struct vc_manifest m, *mp;
  char *level = NULL;

  *id = 0;
  if (load_manifest (s, &m, &mp) == 0 && mp && m.backups.len) {
    const struct vc_backup *b = &m.backups.ptr[m.backups.len - 1];
    level = strdup (b->level);
    *id = b->id;
  }
  vc_manifest_clear (&m);
  return level;
}

/* One run of a domain's schedule at a time on a host: a second one
 * waits, then finds the window served.  Returns the lock's fd, or -1.
 */
static int
lock_domain (const char *rundir, const char *domain)
{
  CLEANUP_FREE char *enc = vc_name_to_file (domain);
  CLEANUP_FREE char *name = enc ? vc_printf ("%s.schedule", enc) : NULL;
  int dirfd, fd;

  if (name == NULL) {
    vc_error ("invalid domain name '%s'", domain);
    return -1;
  }
  /* Made as a backup makes it: the QEMU user reaches its job directories. */
  if (vc_mkdir_parents (rundir, 0755) == -1) {
    vc_error ("cannot use runtime directory %s: %m", rundir);
    return -1;
  }
  dirfd = vc_open_trusted_dir (rundir, "runtime directory");
  if (dirfd == -1)
    return -1;
  fd = openat (dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  close (dirfd);
  if (fd == -1) {
    vc_error ("cannot open %s/%s: %m", rundir, name);
    return -1;
  }
  while (flock (fd, LOCK_EX) == -1)
    if (errno != EINTR || stopped) {
      vc_error ("cannot lock %s/%s: %m", rundir, name);
      close (fd);
      return -1;
    }
  return fd;
}

static int
run_one (const struct vc_options *o, const struct vc_chain *chain, void *data)
{
  struct run_state *rs = data;
  const struct vc_schedule *s = chain->schedule;
  struct due_state st;
  char when[64];
  CLEANUP_FREE char *level = NULL;
  unsigned id;
  long held;
  int r;
  CLEANUP_CLOSE int lockfd = -1;

  if (stopped)
    return VC_EXIT_OK;
  if ((lockfd = lock_domain (o->rundir, chain->domain)) == -1)
    return VC_EXIT_ERROR;
  if (!runs_here (rs->conn, chain->domain)) {
    printf ("%s: not running on this host: skipped\n", chain->domain);
    return VC_EXIT_OK;
  }
  compute_due (chain, time (NULL), &st);
  if (!st.known) {
    printf ("%s: cannot read %s: failed\n", chain->domain, s->dir);
    return VC_EXIT_ERROR;
  }
  if (!st.due.due) {
    format_time (st.due.next, when, sizeof when, true);
    printf ("%s: nothing due until %s\n", chain->domain, when);
    return VC_EXIT_OK;
  }
  /* Due, but the cluster is moving the domain, or draining this node:
   * the window is left to the next look, here or where it goes.
   */
  held = vc_backup_guard_held (o->rundir, chain->domain);
  if (held > 0) {
    printf ("%s: due, but its backups are held on this host for %ld more s "
            "(the cluster is moving it): deferred\n", chain->domain, held);
    rs->deferred = true;
    return VC_EXIT_OK;
  }
  if (!rs->drain_known) {
    vc_pacemaker_draining (&rs->drain);
    rs->drain_known = true;
  }
  if (rs->drain) {
    printf ("%s: due, but %s: deferred\n", chain->domain, rs->drain);
    rs->deferred = true;
    return VC_EXIT_OK;
  }
  vc_info ("%s: due (%s): %s backup", chain->domain, st.due.why,
           st.due.full ? "full" : "incremental");
  r = spawn_backup (o, rs, chain->domain, s->dir, st.due.full ? "full" : "auto");
  if (r != VC_EXIT_OK) {
    printf ("%s: backup into %s failed (%s%d)\n", chain->domain, s->dir,
            r == -1 ? "" : "exit status ", r == -1 ? -1 : r);
    return VC_EXIT_ERROR;
  }
  level = newest_level (s, &id);
  printf ("%s: backed up into %s (backup %u, %s)\n", chain->domain, s->dir, id,
          level ? level : "?");
  /* The window is served whatever the prune does: a failed prune is
   * said, and tried again after the next backup.
   */
  r = spawn_prune (o, rs, chain->domain, s);
  if (r == VC_EXIT_BUSY)
    printf ("%s: not pruned: %s is busy\n", chain->domain, s->dir);
  else if (r != VC_EXIT_OK)
    printf ("%s: prune of %s failed (%s%d)\n", chain->domain, s->dir,
            r == -1 ? "" : "exit status ", r == -1 ? -1 : r);
  return VC_EXIT_OK;
}

int
vc_cmd_schedule_run (const struct vc_options *o, int argc, char **argv)
{
  struct sigaction sa = { .sa_handler = on_signal };
  struct run_state rs = { 0 };
  struct vc_store store;
  int ret;

  for (int i = 0; i < argc; i++)
    if (argv[i][0] == '\0')
      return usage ("run", "empty domain name");
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  rs.self = realpath ("/proc/self/exe", NULL);
  if (rs.self == NULL) {
    vc_error ("cannot find this program (/proc/self/exe): %m");
    return VC_EXIT_ERROR;
  }
  ret = open_store (o, &store, false);
  if (ret == VC_EXIT_OK && (rs.conn = vc_libvirt_open (o->uri)) == NULL) {
    vc_store_close (&store);
    ret = VC_EXIT_ERROR;
  }
  if (ret == VC_EXIT_OK) {
    ret = for_each_schedule (o, &store, argc, argv, run_one, &rs);
    virConnectClose (rs.conn);
    vc_store_close (&store);
  }
  if (stopped) {
    vc_error ("stopped by signal %d", (int) stopped);
    ret = VC_EXIT_ERROR;
  }
  else if (ret == VC_EXIT_OK && rs.deferred)
    ret = VC_EXIT_BUSY;
  free (rs.self);
  free (rs.drain);
  return ret;
}
