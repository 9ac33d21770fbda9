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
  if (mkdirat (outfd, partial, 0700) == -1) {
    vc_error ("cannot create %s/%s: %m", outdir, partial);
    return -1;
  }
  return checkpoint ? vc_backup_dir_mark_partial (outfd, outdir, partial, checkpoint)
    : 0;
}

int
vc_backup_dir_mark_partial (int outfd, const char *outdir, const char *partial,
                            const char *checkpoint)
{
  CLEANUP_FREE char *marker = NULL;

  marker = vc_printf ("%s/" CHECKPOINT_MARKER, partial);
  if (marker == NULL ||
      vc_atomic_write (outfd, marker, checkpoint, strlen (checkpoint)) == -1) {
    vc_error ("cannot write %s/%s: %m", outdir, marker ? marker : partial);
    return -1;
  }
  return 0;
}

/* Named like a committed backup's directory: ID-LEVEL-... */
static bool
backup_dir_name (const char *s)
{
  unsigned id;
  char level[8];
  return sscanf (s, "%4u-%7[a-z]-", &id, level) == 2 &&
    (!strcmp (level, "full") || !strcmp (level, "inc") ||
     !strcmp (level, "diff") || !strcmp (level, "copy"));
}

int
vc_backup_dir_check_unlisted (int outfd, const char *outdir)
{
  CLEANUP_CLOSEDIR DIR *d = vc_opendir_at (outfd);
  struct dirent *e;

  if (d == NULL) {
    vc_error ("cannot read %s: %m", outdir);
    return -1;
  }
  while ((e = readdir (d)) != NULL)
    if (backup_dir_name (e->d_name)) {
      vc_error ("%s holds backups (%s) but no %s: not touching them; restore "
                "%s from a copy, or back up into a new directory", outdir,
                e->d_name, VC_MANIFEST_FILE, VC_MANIFEST_FILE);
      return -1;
    }
  return 0;
}

/* The id of a .partial-ID directory, or 0. */
static unsigned
partial_id (const char *name)
{
  const char *s = name + strlen (PARTIAL_PREFIX);
  char *end;
  unsigned long id;

  if (strncmp (name, PARTIAL_PREFIX, strlen (PARTIAL_PREFIX)) != 0 ||
      !(*s >= '1' && *s <= '9'))
    return 0;
  id = strtoul (s, &end, 10);
  return *end == '\0' && id <= VC_BACKUP_ID_MAX ? id : 0;
}

/* Listed first and handled after: renaming or removing while readdir
 * runs may skip entries.  Only .partial-* directories are ever leftovers.
 */
static void
list_partial (int outfd, string_vector *out)
{
  CLEANUP_CLOSEDIR DIR *d = vc_opendir_at (outfd);
  struct dirent *e;

  while (d && (e = readdir (d)) != NULL)
    if (strncmp (e->d_name, PARTIAL_PREFIX, strlen (PARTIAL_PREFIX)) == 0) {
      char *s = strdup (e->d_name);
      if (s && string_vector_append (out, s) == -1)
        free (s);
    }
}

/* Whether name is the checkpoint backup id of an uncommitted run could
 * have made: virtckpt.CHAIN.ID.XXXX, named by no committed backup.  The
 * marker is as untrusted as the rest of the directory: it must not make
 * us delete any other checkpoint.
 */
static bool
own_checkpoint (const char *name, unsigned id, const struct vc_manifest *m)
{
  CLEANUP_FREE char *tail = vc_printf (".%u.", id);
  const char *p;

  if (tail == NULL || strncmp (name, "virtckpt.", 9) != 0 ||
      (p = strstr (name + 9, tail)) == NULL)
    return false;
  p += strlen (tail);
  if (strlen (p) != 4 || strspn (p, "0123456789abcdef") != 4)
    return false;
  for (size_t i = 0; i < m->backups.len; i++)
    if (vc_streq (m->backups.ptr[i].checkpoint, name))
      return false;
  return true;
}

/* The checkpoint a killed run made would otherwise pass for the base of
 * the next incremental.
 */
static void
remove_marked_checkpoint (int outfd, const char *dir, unsigned id,
                          const struct vc_manifest *m,
                          const struct vc_backup_domain *d)
{
  CLEANUP_CLOSE int fd =
    openat (outfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  CLEANUP_FREE char *name = NULL;
  size_t len;

  if (fd == -1 || vc_read_file (fd, CHECKPOINT_MARKER, 1024, &name, &len) == -1 ||
      len == 0 || strlen (name) != len)
    return;
  if (!own_checkpoint (name, id, m)) {
    vc_warn ("%s names checkpoint %s, which is not its own: left alone", dir, name);
    return;
  }
  if (vc_backup_has_checkpoint (d, name)) {
    vc_warn ("removing checkpoint %s, left by an interrupted backup", name);
    if (vc_backup_delete_checkpoint (d, name) == 0)
      vc_backup_capture (d);
  }
}

/* The manifest lists backup b, whose data is still in its partial
 * directory: the run was stopped between its commit and the rename.
 */
static void
finish_commit (int outfd, const char *outdir, const char *partial,
               const struct vc_backup *b)
{
  struct stat st;

  if (fstatat (outfd, b->dir, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    vc_warn ("%s/%s: backup %u is committed as %s, which exists: left alone",
             outdir, partial, b->id, b->dir);
    return;
  }
  if (renameat (outfd, partial, outfd, b->dir) == -1 || fsync (outfd) == -1)
    vc_warn ("cannot rename %s/%s to %s: %m", outdir, partial, b->dir);
  else
    vc_notice ("%s/%s: finished the commit of backup %u", outdir, b->dir, b->id);
}

void
vc_backup_dir_discard (int outfd, const char *outdir, const char *partial,
                       const struct vc_manifest *m, const struct vc_backup_domain *d)
{
  unsigned id = partial_id (partial);

  if (id)
    remove_marked_checkpoint (outfd, partial, id, m, d);
  if (vc_remove_flat_dir (outfd, partial) == -1)
    vc_warn ("cannot remove %s/%s: %m", outdir, partial);
}

void
vc_backup_dir_remove_stale (int outfd, const char *outdir,
                            const struct vc_manifest *m,
                            const struct vc_backup_domain *d, const char *keep)
{
  string_vector dirs = empty_vector;

  list_partial (outfd, &dirs);
  for (size_t i = 0; i < dirs.len; i++) {
    const char *partial = dirs.ptr[i];
    unsigned id = partial_id (partial);
    const struct vc_backup *b = id ? vc_manifest_find (m, id) : NULL;
    if (b) {
      finish_commit (outfd, outdir, partial, b);
      continue;
    }
    if (vc_streq (partial, keep))
      continue;
    vc_warn ("removing %s/%s, left by an interrupted backup", outdir, partial);
    vc_backup_dir_discard (outfd, outdir, partial, m, d);
  }
  vc_string_vector_free (&dirs);
}
