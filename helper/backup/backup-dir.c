/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "backup/backup-dir.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"

#define PARTIAL_PREFIX ".partial-"
#define CHECKPOINT_MARKER ".checkpoint"

int
vc_remove_flat_dir (int dirfd, const char *name)
{
  CLEANUP_CLOSE int fd =
    openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  CLEANUP_CLOSEDIR DIR *d = NULL;
  struct dirent *e;

  if (fd == -1)
    return errno == ENOENT ? 0 : -1;
  d = vc_opendir_at (fd);
  if (d == NULL)
    return -1;
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      unlinkat (fd, e->d_name, 0);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) == -1)
    return -1;
  return fsync (dirfd);
}

int
vc_backup_dir_lock (int outfd, const char *outdir)
{
  CLEANUP_CLOSE int fd =
    openat (outfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd == -1) {
    vc_error ("cannot create lock file %s: %m", ".lock");
    return -1;
  }
  if (flock (fd, LOCK_EX | LOCK_NB) == -1) {
    if (errno == EWOULDBLOCK)
      vc_error ("another virtckpt is writing to %s", outdir);
    else
      vc_error ("cannot lock %s: %m", ".lock");
    return -1;
  }
  return steal_fd (&fd);
}

char *
vc_backup_partial_name (unsigned id)
{
  return vc_printf (PARTIAL_PREFIX "%u", id);
}

char *
vc_backup_dir_name (unsigned id, const char *level, time_t started)
{
  char stamp[32];
  struct tm tm;

  gmtime_r (&started, &tm);
  strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return vc_printf ("%04u-%s-%s", id, level, stamp);
}

int
vc_backup_dir_make_partial (int outfd, const char *outdir, const char *partial,
                            const char *checkpoint)
{
  CLEANUP_FREE char *marker = NULL;

  if (mkdirat (outfd, partial, 0700) == -1) {
    vc_error ("cannot create %s/%s: %m", outdir, partial);
    return -1;
  }
  if (checkpoint == NULL)
    return 0;
  marker = vc_printf ("%s/" CHECKPOINT_MARKER, partial);
  if (marker == NULL ||
      vc_atomic_write (outfd, marker, checkpoint, strlen (checkpoint)) == -1) {
    vc_error ("cannot write %s/%s: %m", outdir, marker ? marker : partial);
    return -1;
  }
  return 0;
}

static bool
backup_dir_name (const char *s)
{
  unsigned id;
  char level[8];
  return sscanf (s, "%4u-%7[a-z]-", &id, level) == 2 &&
    (!strcmp (level, "full") || !strcmp (level, "inc") ||
     !strcmp (level, "diff") || !strcmp (level, "copy"));
}

static bool
stale (const char *name, const struct vc_manifest *m)
{
  if (strncmp (name, PARTIAL_PREFIX, strlen (PARTIAL_PREFIX)) == 0)
    return true;
  if (!backup_dir_name (name))
    return false;
  for (size_t i = 0; i < m->backups.len; i++)
    if (strcmp (m->backups.ptr[i].dir, name) == 0)
      return false;
  return true;
}

/* Listed first and removed after: removing while readdir runs may skip
 * entries.
 */
static void
list_stale (int outfd, const struct vc_manifest *m, string_vector *out)
{
  CLEANUP_CLOSEDIR DIR *d = vc_opendir_at (outfd);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    if (stale (e->d_name, m)) {
      char *s = strdup (e->d_name);
      if (s && string_vector_append (out, s) == -1)
        free (s);
    }
}

/* The checkpoint a killed run made would otherwise pass for the base of
 * the next incremental.
 */
static void
remove_marked_checkpoint (int outfd, const char *dir,
                          const struct vc_backup_domain *d)
{
  CLEANUP_FREE char *marker = vc_printf ("%s/" CHECKPOINT_MARKER, dir);
  CLEANUP_FREE char *name = NULL;
  size_t len;

  if (marker && vc_read_file (outfd, marker, 1024, &name, &len) == 0 &&
      len > 0 && vc_backup_has_checkpoint (d, name)) {
    vc_warn ("removing checkpoint %s, left by an interrupted backup", name);
    if (vc_backup_delete_checkpoint (d, name) == 0)
      vc_backup_capture (d);
  }
}

void
vc_backup_dir_remove_stale (int outfd, const char *outdir,
                            const struct vc_manifest *m,
                            const struct vc_backup_domain *d)
{
  string_vector dirs = empty_vector;

  list_stale (outfd, m, &dirs);
  for (size_t i = 0; i < dirs.len; i++) {
    remove_marked_checkpoint (outfd, dirs.ptr[i], d);
    vc_warn ("removing %s/%s, left by an interrupted backup", outdir, dirs.ptr[i]);
    if (vc_remove_flat_dir (outfd, dirs.ptr[i]) == -1)
      vc_warn ("cannot remove %s/%s: %m", outdir, dirs.ptr[i]);
  }
  vc_string_vector_free (&dirs);
}
