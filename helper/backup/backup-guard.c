/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which backup of a domain runs on this host, and ending it: see
 * backup-guard.h.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/pidfd.h>

#include "common/atomic-file.h"
#include "backup/backup-guard.h"
#include "backup/lock-owner.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "common/trusted-dir.h"
#include "store/name-map.h"
#include "common/vc-strings.h"

#define POLL_NS (100 * 1000 * 1000)

struct guard {
  int dirfd;
  char *lock;                   /* file names in the runtime directory */
  char *hold;
};

static void
guard_close (struct guard *g)
{
  if (g->dirfd >= 0)
    close (g->dirfd);
  free (g->lock);
  free (g->hold);
}
#define CLEANUP_GUARD __attribute__ ((cleanup (guard_close)))

static int
guard_open (struct guard *g, const char *rundir, const char *domain)
{
  CLEANUP_FREE char *enc = vc_name_to_file (domain);

  g->dirfd = -1;
  g->lock = enc ? vc_printf ("%s.lock", enc) : NULL;
  g->hold = enc ? vc_printf ("%s.hold", enc) : NULL;
  if (g->lock == NULL || g->hold == NULL) {
    vc_error ("invalid domain name '%s'", domain);
    return -1;
  }
  /* Its locks name the processes cancel signals: root's alone. */
  if (vc_mkdir_parents (rundir, 0755) == -1) {
    vc_error ("cannot use runtime directory %s: %m", rundir);
    return -1;
  }
  g->dirfd = vc_open_trusted_dir (rundir, "runtime directory");
  return g->dirfd == -1 ? -1 : 0;
}

/* Seconds left of a hold on the domain's backups, 0 when none. */
static long
hold_left (struct guard *g)
{
  CLEANUP_FREE char *buf = NULL;
  size_t len;
  long long until;

  if (vc_read_file (g->dirfd, g->hold, 64, &buf, &len) == -1 ||
      sscanf (buf, "%lld", &until) != 1)
    return 0;
  return until > (long long) time (NULL) ? (long) (until - time (NULL)) : 0;
}

/* The domain's lock file in the (checked) runtime directory. */
static int
open_lock (const struct guard *g, const char *rundir)
{
  int fd = openat (g->dirfd, g->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd == -1)
    vc_error ("cannot create lock file %s/%s: %m", rundir, g->lock);
  return fd;
}

int
vc_backup_guard_probe (const char *rundir, const char *domain, int *fd)
{
  CLEANUP_GUARD struct guard g = { .dirfd = -1 };
  CLEANUP_CLOSE int lockfd = -1;

  *fd = -1;
  if (guard_open (&g, rundir, domain) == -1 ||
      (lockfd = open_lock (&g, rundir)) == -1)
    return -1;
  if (flock (lockfd, LOCK_EX | LOCK_NB) == 0) {
    *fd = steal_fd (&lockfd);
    return 0;
  }
  if (errno == EWOULDBLOCK)
    return 1;
  vc_error ("cannot lock %s/%s: %m", rundir, g.lock);
  return -1;
}

long
vc_backup_guard_held (const char *rundir, const char *domain)
{
  CLEANUP_GUARD struct guard g = { .dirfd = -1 };

  if (guard_open (&g, rundir, domain) == -1)
    return -1;
  return hold_left (&g);
}

int
vc_backup_guard_take (const char *rundir, const char *domain)
{
  CLEANUP_GUARD struct guard g = { .dirfd = -1 };
  CLEANUP_CLOSE int fd = -1;
  long held;

  if (guard_open (&g, rundir, domain) == -1 ||
      (fd = open_lock (&g, rundir)) == -1)
    return -1;
  if (flock (fd, LOCK_EX | LOCK_NB) == -1) {
    int e = errno;
    pid_t owner = e == EWOULDBLOCK ? vc_lock_owner_claimed (fd) : 0;
    if (e != EWOULDBLOCK)
      vc_error ("cannot lock %s/%s: %s", rundir, g.lock, strerror (e));
    else if (owner)
      vc_error ("a backup of %s is already running (pid %d)", domain, (int) owner);
    else
      vc_error ("a backup of %s is already running", domain);
    return -1;
  }
  held = hold_left (&g);
  if (held > 0) {
    vc_error ("backups of %s are held on this host for %ld more s: the cluster "
              "is moving it (virtckpt cancel --hold); try again later", domain, held);
    return -1;
  }
  if (vc_lock_owner_record (fd) == -1)
    vc_warn ("cannot record this backup in %s/%s (cancel cannot end it): %m",
             rundir, g.lock);
  return steal_fd (&fd);
}

void
vc_backup_guard_release (int *fd)
{
  if (*fd < 0)
    return;
  /* Before the lock goes: nobody may read a finished run's pid. */
  vc_lock_owner_clear (*fd);
  close (*fd);
  *fd = -1;
}

static void
nap (void)
{
  struct timespec ts = { 0, POLL_NS };
  nanosleep (&ts, NULL);
}

/* Tries to take the lock for up to secs seconds. */
static bool
lock_within (int fd, unsigned secs)
{
  for (unsigned long i = 0; ; i++) {
    if (flock (fd, LOCK_EX | LOCK_NB) == 0)
      return true;
    if (i >= secs * 10UL)
      return false;
    nap ();
  }
}

static int
set_hold (struct guard *g, const struct vc_cancel_options *o)
{
  char buf[32];

  if (o->hold == 0) {
    if (unlinkat (g->dirfd, g->hold, 0) == 0)
      vc_notice ("backups of %s are no longer held", o->domain);
    else if (errno != ENOENT) {
      vc_error ("cannot remove %s/%s: %m", o->rundir, g->hold);
      return -1;
    }
    return 0;
  }
  snprintf (buf, sizeof buf, "%lld\n", (long long) time (NULL) + o->hold);
  if (vc_atomic_write (g->dirfd, g->hold, buf, strlen (buf)) == -1) {
    vc_error ("cannot write %s/%s: %m", o->rundir, g->hold);
    return -1;
  }
  vc_notice ("backups of %s are held on this host for %d s", o->domain, o->hold);
  return 0;
}

int
vc_backup_end_stale_job (virDomainPtr dom, const char *rundir, const char *domain)
{
  CLEANUP_FREE char *xml = virDomainBackupGetXMLDesc (dom, 0);

  if (xml == NULL)
    return 0;                   /* no backup job */
  if (strstr (xml, rundir) == NULL)
    return 1;
  vc_warn ("ending a backup job of %s left by an interrupted virtckpt", domain);
  if (virDomainAbortJob (dom) == -1) {
    vc_error ("cannot end the stale backup job of %s: %s", domain, vc_libvirt_error ());
    return -1;
  }
  return 0;
}

/* The backup holding the run lock fd, verified (lock-owner.h): 0 and
 * *pid, *pidfd, or -1 (logged).
 */
static int
find_running (const struct vc_cancel_options *o, int fd, const char *lock,
              pid_t *pid, int *pidfd)
{
  char why[256] = "is empty";
  int r = 0;

  /* The record is written just after the lock is taken. */
  for (int i = 0; i < 20 && r == 0; i++) {
    r = vc_lock_owner_get (fd, pid, pidfd, why, sizeof why);
    if (r == 1)
      return 0;
    if (lock_within (fd, 0))
      return 1;                 /* it ended meanwhile */
    if (r == 0)
      nap ();
  }
  vc_error ("a backup of %s holds %s/%s, but the lock file %s: not signalling "
            "anyone; if a backup runs, stop it by hand", o->domain, o->rundir,
            lock, why);
  return -1;
}

static int
send_signal (int pidfd, pid_t pid, int sig)
{
  return pidfd >= 0 ? pidfd_send_signal (pidfd, sig, NULL, 0) : kill (pid, sig);
}

/* fd: the domain's run lock, which a running backup holds.  Lets it
 * finish within the grace period, else ends it with SIGTERM and waits for
 * it to roll back.  0 once it ended.
 */
static int
stop_running (const struct vc_cancel_options *o, int fd, const char *lock)
{
  CLEANUP_CLOSE int pidfd = -1;
  pid_t pid = 0;
  int r = find_running (o, fd, lock, &pid, &pidfd);

  if (r != 0)
    return r == 1 ? 0 : -1;
  if (o->grace) {
    vc_notice ("waiting up to %u s for the backup of %s (pid %d) to finish",
               o->grace, o->domain, (int) pid);
    if (lock_within (fd, o->grace)) {
      vc_notice ("the backup of %s (pid %d) finished", o->domain, (int) pid);
      return 0;
    }
  }
  vc_notice ("cancelling the backup of %s (pid %d)", o->domain, (int) pid);
  /* Through the pidfd: the very process verified, even if pid is reused.
   * SIGCONT too: a backup stopped with ^Z would never see SIGTERM.
   */
  if (send_signal (pidfd, pid, SIGTERM) == -1 && errno != ESRCH) {
    vc_error ("cannot signal the backup of %s (pid %d): %m", o->domain, (int) pid);
    return -1;
  }
  send_signal (pidfd, pid, SIGCONT);
  if (!lock_within (fd, o->wait)) {
    vc_error ("the backup of %s (pid %d) did not end within %u s of SIGTERM",
              o->domain, (int) pid, o->wait);
    return -1;
  }
  vc_notice ("the backup of %s (pid %d) was cancelled: it committed nothing "
             "(what it copied, if anything, is kept for the next backup to "
             "resume)", o->domain, (int) pid);
  return 0;
}

/* Called holding the run lock: no virtckpt backup of the domain runs, so
 * a job of ours is a killed one's.
 */
static int
end_stale_job (virConnectPtr conn, const struct vc_cancel_options *o)
{
  virDomainPtr dom = conn ? virDomainLookupByName (conn, o->domain) : NULL;
  int r;

  if (dom == NULL)
    return 0;
  r = vc_backup_end_stale_job (dom, o->rundir, o->domain);
  virDomainFree (dom);
  if (r == 1)
    vc_warn ("domain %s has a backup job that virtckpt did not start: not "
             "ended (a migration waits for it; virsh domjobabort ends it)",
             o->domain);
  return r == -1 ? -1 : 0;
}

int
vc_backup_cancel (virConnectPtr conn, const struct vc_cancel_options *o)
{
  CLEANUP_GUARD struct guard g = { .dirfd = -1 };
  CLEANUP_CLOSE int fd = -1;

  if (guard_open (&g, o->rundir, o->domain) == -1 ||
      (o->hold >= 0 && set_hold (&g, o) == -1))
    return VC_EXIT_ERROR;
  fd = open_lock (&g, o->rundir);
  if (fd == -1)
    return VC_EXIT_ERROR;
  if (flock (fd, LOCK_EX | LOCK_NB) == 0)
    vc_info ("no backup of %s is running on this host", o->domain);
  else if (stop_running (o, fd, g.lock) == -1)
    return VC_EXIT_ERROR;
  /* The lock is ours: a killed run's record goes. */
  vc_lock_owner_clear (fd);
  return end_stale_job (conn, o) == -1 ? VC_EXIT_ERROR : VC_EXIT_OK;
}
