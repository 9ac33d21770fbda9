/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt schedule run: serves the schedules of the domains that run
 * here.  virtckptd runs it for each domain due on its node, under the
 * domain's lease (replica/scheduler.h); a systemd timer runs it every
 * minute on a host without a cluster.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "backup/backup-guard.h"
#include "backup/resume.h"
#include "cli/commands.h"
#include "cli/pacemaker-drain.h"
#include "cli/schedule-common.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/trusted-dir.h"
#include "common/vc-strings.h"
#include "libvirt/libvirt-conn.h"
#include "store/name-map.h"
#include "store/schedule.h"

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
  bool pacemaker;               /* Pacemaker runs here */
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

/* What the run's line says of the newest backup in dir: "ID, LEVEL" and
 * ", resumed N interrupted run(s)" (malloc'd).
 */
static char *
newest_backup (const struct vc_schedule *s)
{
  struct vc_manifest m, *mp;
  char *text = NULL;

  if (vc_sched_load_manifest (s, &m, &mp) == 0 && mp && m.backups.len) {
    const struct vc_backup *b = &m.backups.ptr[m.backups.len - 1];
    text = b->resumed
      ? vc_printf ("%u, %s, resumed %u interrupted run%s", b->id, b->level,
                   b->resumed, b->resumed > 1 ? "s" : "")
      : vc_printf ("%u, %s", b->id, b->level);
  }
  vc_manifest_clear (&m);
  return text;
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

/* Under Pacemaker, the checkpoints agent redefines the stored chain when
 * the domain starts (or migrates) here, after the domain itself: a backup
 * in between would redefine it too, racing the agent's start.  True when
 * libvirt lacks the newest stored checkpoint of a chain that is not
 * broken (a broken one is not redefined: the next backup is a full).
 */
static bool
awaits_redefine (virConnectPtr conn, const struct vc_chain *chain)
{
  virDomainPtr dom;
  virDomainCheckpointPtr cp;

  if (chain->broken || chain->checkpoints.len == 0)
    return false;
  dom = virDomainLookupByName (conn, chain->domain);
  if (dom == NULL)
    return false;
  cp = virDomainCheckpointLookupByName
    (dom, chain->checkpoints.ptr[chain->checkpoints.len - 1].name, 0);
  virDomainFree (dom);
  if (cp == NULL)
    return true;
  virDomainCheckpointFree (cp);
  return false;
}

/* Whether s->dir holds an interrupted backup the next one would resume
 * (backup/resume.h).  The directory is untrusted: its progress record is
 * checked as the backup checks it.
 */
static bool
resumable (const struct vc_schedule *s)
{
  struct vc_manifest m, *mp;
  struct vc_resume rec = { 0 };
  CLEANUP_FREE char *partial = NULL;
  CLEANUP_CLOSE int fd = -1;
  bool found = false;

  if (vc_sched_load_manifest (s, &m, &mp) == -1 || mp == NULL)
    goto out;
  fd = open (s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && vc_resume_find (fd, s->dir, mp, &partial, &rec) == 0) {
    found = true;
    vc_resume_clear (&rec);
  }
 out:
  vc_manifest_clear (&m);
  return found;
}

static int
run_one (const struct vc_options *o, const struct vc_chain *chain, void *data)
{
  struct run_state *rs = data;
  const struct vc_schedule *s = chain->schedule;
  struct vc_due_state st;
  char when[64];
  CLEANUP_FREE char *newest = NULL;
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
  vc_sched_compute_due (chain, time (NULL), &st);
  if (!st.known) {
    printf ("%s: cannot read %s: failed\n", chain->domain, s->dir);
    return VC_EXIT_ERROR;
  }
  /* A backup a move (or a cancel) interrupted is resumed at once, in
   * its window or after: it holds an extra checkpoint, and what it
   * copied is wasted if the next window starts over with a full.
   */
  if (!st.due.due && resumable (s)) {
    st.due.due = true;
    st.due.full = false;
    st.due.why = "an interrupted backup waits to be resumed";
  }
  if (!st.due.due) {
    vc_sched_format_time (st.due.next, when, sizeof when, true);
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
    rs->pacemaker = vc_pacemaker_draining (&rs->drain) >= 0;
    rs->drain_known = true;
  }
  if (rs->drain) {
    printf ("%s: due, but %s: deferred\n", chain->domain, rs->drain);
    rs->deferred = true;
    return VC_EXIT_OK;
  }
  if (rs->pacemaker && awaits_redefine (rs->conn, chain)) {
    printf ("%s: due, but its chain is not redefined here yet (its checkpoints "
            "resource has not started here): deferred\n", chain->domain);
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
  newest = newest_backup (s);
  printf ("%s: backed up into %s (backup %s)\n", chain->domain, s->dir,
          newest ? newest : "?");
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
      return vc_sched_usage ("run", "empty domain name");
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGHUP, &sa, NULL);
  rs.self = realpath ("/proc/self/exe", NULL);
  if (rs.self == NULL) {
    vc_error ("cannot find this program (/proc/self/exe): %m");
    return VC_EXIT_ERROR;
  }
  ret = vc_sched_open_store (o, &store, false);
  if (ret == VC_EXIT_OK && (rs.conn = vc_libvirt_open (o->uri)) == NULL) {
    vc_store_close (&store);
    ret = VC_EXIT_ERROR;
  }
  if (ret == VC_EXIT_OK) {
    ret = vc_sched_for_each (o, &store, argc, argv, run_one, &rs);
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
