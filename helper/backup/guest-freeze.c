/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest filesystem freeze and its marker: see guest-freeze.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup-guard.h"
#include "backup/guest-freeze.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "libvirt/libvirt-conn.h"
#include "store/name-map.h"

#define MARKER_MAX 64

/* The runtime directory, opened, and the marker's name in it. */
static int
open_marker_dir (const char *rundir, const char *domain, char **name)
{
  CLEANUP_FREE char *enc = vc_name_to_file (domain);
  int fd;

  *name = enc ? vc_printf ("%s.frozen", enc) : NULL;
  if (*name == NULL) {
    vc_error ("invalid domain name '%s'", domain);
    return -1;
  }
  if (vc_mkdir_parents (rundir, 0755) == -1 ||
      (fd = open (rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
    vc_error ("cannot use runtime directory %s: %m", rundir);
    free (*name);
    *name = NULL;
    return -1;
  }
  return fd;
}

/* Written before the freeze: a virtckpt killed during it leaves it. */
static int
marker_write (const char *rundir, const char *domain)
{
  CLEANUP_FREE char *name = NULL;
  CLEANUP_CLOSE int dirfd = open_marker_dir (rundir, domain, &name);
  char text[MARKER_MAX];

  if (dirfd == -1)
    return -1;
  snprintf (text, sizeof text, "%d %lld\n", (int) getpid (), (long long) time (NULL));
  if (vc_atomic_write (dirfd, name, text, strlen (text)) == -1) {
    vc_warn ("cannot write %s/%s (%m): not freezing %s, the backup is "
             "crash-consistent", rundir, name, domain);
    return -1;
  }
  return 0;
}

static void
marker_remove (const char *rundir, const char *domain)
{
  CLEANUP_FREE char *name = NULL;
  CLEANUP_CLOSE int dirfd = open_marker_dir (rundir, domain, &name);

  if (dirfd >= 0 && unlinkat (dirfd, name, 0) == -1 && errno != ENOENT)
    vc_warn ("cannot remove %s/%s: %m", rundir, name);
}

/* 1 and the pid that froze the guest when the marker is there, 0 when
 * not, -1 on error (logged).
 */
static int
marker_read (const char *rundir, const char *domain, int *pid, int level)
{
  CLEANUP_FREE char *name = NULL;
  CLEANUP_CLOSE int dirfd = open_marker_dir (rundir, domain, &name);
  CLEANUP_FREE char *buf = NULL;
  size_t len;

  *pid = 0;
  if (dirfd == -1)
    return -1;
  if (vc_read_file (dirfd, name, MARKER_MAX, &buf, &len) == -1) {
    if (errno == ENOENT)
      return 0;
    qb_log (level, "cannot read %s/%s: %m", rundir, name);
    return -1;
  }
  if (sscanf (buf, "%d", pid) != 1)
    *pid = 0;
  return 1;
}

int
vc_freeze_recover (virDomainPtr dom, const char *rundir, const char *domain,
                   bool force, int level)
{
  int n, pid, m = marker_read (rundir, domain, &pid, level);

  if (m == -1 || (m == 0 && !force))
    return m;
  /* The agent answers how many filesystems it thawed: 0 when the guest
   * was not frozen (it was restarted, or the kill came before the freeze).
   */
  n = virDomainFSThaw (dom, NULL, 0, 0);
  if (n < 0) {
    if (m)
      qb_log (level, "%s may still be frozen by a virtckpt that was killed "
              "(pid %d), and cannot be thawed: %s; run 'virtckpt thaw %s' "
              "once its guest agent answers", domain, pid, vc_libvirt_error (),
              domain);
    else
      qb_log (level, "cannot thaw the filesystems of %s: %s", domain,
              vc_libvirt_error ());
    return -1;
  }
  if (m && n > 0)
    vc_notice ("%s was left frozen by a virtckpt that was killed (pid %d): "
               "thawed %d filesystem%s", domain, pid, n, n == 1 ? "" : "s");
  else if (m)
    vc_info ("a virtckpt that was killed (pid %d) may have frozen %s, but it "
             "is not frozen", pid, domain);
  else
    vc_notice ("thawed %d filesystem%s of %s", n, n == 1 ? "" : "s", domain);
  marker_remove (rundir, domain);
  return n > 0;
}

/* libvirt 9.0 has no quiesce flag for virDomainBackupBegin: the guest
 * agent freezes the filesystems around it instead.
 */
bool
vc_freeze (struct vc_freeze *f, bool has_agent)
{
  int n;

  f->frozen = false;
  if (!has_agent) {
    vc_warn ("%s has no guest agent: the backup is crash-consistent, "
             "not application-consistent", f->domain);
    return false;
  }
  /* Without the marker, a kill while frozen could not be undone. */
  if (marker_write (f->rundir, f->domain) == -1)
    return false;
  n = virDomainFSFreeze (f->dom, NULL, 0, 0);
  if (n < 0) {
    vc_warn ("cannot freeze the filesystems of %s (%s): the backup is "
             "crash-consistent", f->domain, vc_libvirt_error ());
    /* libvirt waits for the agent's answer to a freeze (no timeout unless
     * one is set on the domain): a failed freeze froze nothing.
     */
    marker_remove (f->rundir, f->domain);
    return false;
  }
  f->frozen = true;
  vc_notice ("froze %d filesystem%s of %s", n, n == 1 ? "" : "s", f->domain);
  return true;
}

void
vc_freeze_test_pause (const struct vc_freeze *f, volatile sig_atomic_t *cancel)
{
  const char *s = getenv ("VIRTCKPT_TEST_FREEZE_PAUSE");
  int tenths = s ? atoi (s) * 10 : 0;
  struct timespec ts = { 0, 100 * 1000 * 1000 };

  if (!f->frozen || tenths <= 0)
    return;
  vc_notice ("test hook: %s stays frozen for %s s", f->domain, s);
  for (int i = 0; i < tenths && !(cancel && *cancel); i++)
    nanosleep (&ts, NULL);
}

int
vc_thaw (struct vc_freeze *f)
{
  if (!f->frozen)
    return 0;
  if (virDomainFSThaw (f->dom, NULL, 0, 0) < 0) {
    vc_error ("cannot thaw the filesystems of %s: %s; 'virtckpt thaw %s' "
              "retries", f->domain, vc_libvirt_error (), f->domain);
    return -1;
  }
  f->frozen = false;
  marker_remove (f->rundir, f->domain);
  vc_notice ("thawed %s", f->domain);
  return 0;
}

int
vc_freeze_thaw_command (virConnectPtr conn, const char *rundir,
                        const char *domain, bool force)
{
  CLEANUP_CLOSE int lockfd = -1;
  virDomainPtr dom;
  int r;

  switch (vc_backup_guard_probe (rundir, domain, &lockfd)) {
  case 1:
    vc_info ("a backup of %s is running: it thaws what it froze", domain);
    return VC_EXIT_OK;
  case -1:
    return VC_EXIT_ERROR;
  }
  dom = vc_libvirt_domain (conn, domain);
  if (dom == NULL)
    return VC_EXIT_ERROR;
  if (virDomainIsActive (dom) != 1) {
    vc_info ("domain %s is not running: nothing to thaw", domain);
    virDomainFree (dom);
    return VC_EXIT_OK;
  }
  r = vc_freeze_recover (dom, rundir, domain, force, LOG_ERR);
  virDomainFree (dom);
  if (r == 0 && !force)
    vc_info ("nothing to thaw on %s (a freeze another tool made is left "
             "alone: --force thaws it)", domain);
  return r == -1 ? VC_EXIT_ERROR : VC_EXIT_OK;
}
