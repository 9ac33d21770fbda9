/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "backup/backup-dir.h"
#include "backup/restore.h"
#include "backup/verify.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"

/* One image of a disk's chain, open, as it was when checked. */
struct link {
  int fd;
  struct stat st;
  char *label;
};
DEFINE_VECTOR_TYPE (link_vector, struct link);

static void
links_clear (link_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    close (v->ptr[i].fd);
    free (v->ptr[i].label);
  }
  link_vector_reset (v);
}
#define CLEANUP_LINKS __attribute__ ((cleanup (links_clear)))

/* Opens and checks the images of disk name from b down to its full
 * backup.  The manifest was checked at load: each parent is an earlier
 * backup, so the walk ends.
 */
static int
open_chain (int dirfd, const char *dir, const struct vc_manifest *m,
            const struct vc_backup *b, const char *name, bool verify,
            link_vector *out)
{
  for (; b; b = b->parent ? vc_manifest_find (m, b->parent) : NULL) {
    const struct vc_backup_disk *d = vc_backup_disk (b, name);
    struct link l = { .fd = -1 };
    if (d == NULL) {
      vc_error ("backup %u has no disk '%s'", b->id, name);
      return -1;
    }
    l.label = vc_printf ("%s/%s/%s", dir, b->dir, d->file);
    if (l.label == NULL || link_vector_append (out, l) == -1) {
      free (l.label);
      vc_error ("out of memory");
      return -1;
    }
    struct link *p = &out->ptr[out->len - 1];
    p->fd = vc_backup_open_file (dirfd, dir, b, d->file, &p->st);
    if (p->fd == -1 || vc_verify_image (p->fd, p->label, d, verify) != 0)
      return -1;
  }
  return 0;
}

/* The chain as qemu-img's json: pseudo-protocol: every node named, the
 * last one without backing.  Only digits come from outside, so nothing
 * needs quoting.
 */
static char *
chain_json (const link_vector *v)
{
  CLEANUP_FREE char *s = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&s, &len);

  if (f == NULL)
    return NULL;
  fputs ("json:", f);
  for (size_t i = 0; i < v->len; i++)
    fprintf (f, "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
             "\"filename\":\"/proc/self/fd/%d\"},\"backing\":", v->ptr[i].fd);
  fputs ("null", f);
  for (size_t i = 0; i < v->len; i++)
    fputc ('}', f);
  if (fclose (f) != 0)
    return NULL;
  char *r = s;
  s = NULL;
  return r;
}

/* qemu-img convert, the stock tool, rebuilds a standalone image. */
static int
convert (const link_vector *v, const char *dst, const char *format)
{
  CLEANUP_FREE char *src = chain_json (v);
  const char *qemu_img = getenv ("QEMU_IMG");
  pid_t pid;
  int status;

  if (src == NULL)
    return -1;
  if (qemu_img == NULL)
    qemu_img = "qemu-img";
  pid = fork ();
  if (pid == -1)
    return -1;
  if (pid == 0) {
    for (size_t i = 0; i < v->len; i++)
      fcntl (v->ptr[i].fd, F_SETFD, 0);
    umask (077);
    execlp (qemu_img, qemu_img, "convert", "-q", "-O", format, src, dst,
            (char *) NULL);
    fprintf (stderr, "virtckpt: cannot run %s: %m\n", qemu_img);
    _exit (127);
  }
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

static bool
unchanged (const struct link *l)
{
  struct stat now;

  return fstat (l->fd, &now) == 0 && now.st_ino == l->st.st_ino &&
    now.st_size == l->st.st_size &&
    now.st_ctim.tv_sec == l->st.st_ctim.tv_sec &&
    now.st_ctim.tv_nsec == l->st.st_ctim.tv_nsec;
}

/* The image is made durable and readable by root only. */
static int
seal (int outfd, const char *name)
{
  CLEANUP_CLOSE int fd = openat (outfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

  return fd == -1 || fchmod (fd, 0600) == -1 || fsync (fd) == -1 ? -1 : 0;
}

static int
restore_disk (int dirfd, const char *dir, const struct vc_manifest *m,
              const struct vc_backup *b, const char *name,
              const struct vc_restore_options *o, int tmpfd, const char *tmp)
{
  CLEANUP_LINKS link_vector chain = empty_vector;
  CLEANUP_FREE char *file = vc_printf ("%s.%s", name, o->format);
  CLEANUP_FREE char *dst = vc_printf ("%s/%s", tmp, file ? file : "");

  if (file == NULL || dst == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  if (open_chain (dirfd, dir, m, b, name, o->verify, &chain) == -1) {
    vc_error ("backup %u or a backup it builds on is damaged: not restoring "
              "(--no-verify skips the checksums, not the other checks)", b->id);
    return -1;
  }
  vc_info ("restoring %s of backup %u to %s/%s", name, b->id, o->outdir, file);
  if (convert (&chain, dst, o->format) == -1) {
    vc_error ("qemu-img convert of %s failed", chain.ptr[0].label);
    return -1;
  }
  for (size_t i = 0; i < chain.len; i++)
    if (!unchanged (&chain.ptr[i])) {
      vc_error ("%s changed while it was read: not restoring", chain.ptr[i].label);
      return -1;
    }
  if (seal (tmpfd, file) == -1) {
    vc_error ("cannot write %s: %m", dst);
    return -1;
  }
  return 0;
}

static bool
wanted (const struct vc_restore_options *o, const char *disk)
{
  if (o->disks->len == 0)
    return true;
  for (size_t i = 0; i < o->disks->len; i++)
    if (strcmp (o->disks->ptr[i], disk) == 0)
      return true;
  return false;
}

/* OUTDIR may be missing or an empty directory (which the rename replaces
 * at once); anything else is kept as it is.
 */
static int
check_outdir (const char *outdir)
{
  CLEANUP_CLOSEDIR DIR *d = NULL;
  struct stat st;
  struct dirent *e;

  if (lstat (outdir, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    vc_error ("cannot stat %s: %m", outdir);
    return -1;
  }
  if (S_ISDIR (st.st_mode) && (d = opendir (outdir)) != NULL) {
    while ((e = readdir (d)) != NULL)
      if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
        break;
    if (e == NULL)
      return 0;
  }
  vc_error ("%s exists: not overwriting it (restore into a new or empty directory)",
            outdir);
  return -1;
}

/* Restores into tmp (open as tmpfd), then renames it to OUTDIR. */
static int
restore_into (int dirfd, const char *dir, const struct vc_manifest *m,
              const struct vc_backup *b, const struct vc_restore_options *o,
              int tmpfd, const char *tmp)
{
  size_t restored = 0;

  for (size_t i = 0; i < b->disks.len; i++) {
    const char *name = b->disks.ptr[i].name;
    if (!wanted (o, name))
      continue;
    if (restore_disk (dirfd, dir, m, b, name, o, tmpfd, tmp) == -1)
      return -1;
    restored++;
  }
  if (fsync (tmpfd) == -1 || check_outdir (o->outdir) == -1)
    return -1;
  if (rename (tmp, o->outdir) == -1) {
    vc_error ("cannot rename %s to %s: %m", tmp, o->outdir);
    return -1;
  }
  vc_notice ("restored %zu disk%s of backup %u (%s) into %s", restored,
             restored == 1 ? "" : "s", b->id, b->level, o->outdir);
  return 0;
}

int
vc_restore (int dirfd, const char *dir, const struct vc_manifest *m,
            const struct vc_backup *b, const struct vc_restore_options *o)
{
  CLEANUP_FREE char *copy = strdup (o->outdir);
  CLEANUP_FREE char *tmp = NULL;
  CLEANUP_CLOSE int parentfd = -1, tmpfd = -1;
  const char *parent;

  if (copy == NULL) {
    vc_error ("out of memory");
    return VC_EXIT_ERROR;
  }
  if (check_outdir (o->outdir) == -1)
    return VC_EXIT_ERROR;
  parent = dirname (copy);
  tmp = vc_printf ("%s/.virtckpt-restore-XXXXXX", parent);
  if (tmp == NULL || mkdtemp (tmp) == NULL) {
    vc_error ("cannot create a directory in %s: %m", parent);
    return VC_EXIT_ERROR;
  }
  parentfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  tmpfd = open (tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (parentfd == -1 || tmpfd == -1) {
    vc_error ("cannot open %s: %m", tmp);
    rmdir (tmp);
    return VC_EXIT_ERROR;
  }
  if (restore_into (dirfd, dir, m, b, o, tmpfd, tmp) == -1) {
    vc_remove_flat_dir (parentfd, strrchr (tmp, '/') + 1);
    return VC_EXIT_ERROR;
  }
  fsync (parentfd);
  return VC_EXIT_OK;
}
