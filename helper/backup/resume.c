/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backup/backup-dir.h"
#include "backup/qcow2-plan.h"
#include "backup/resume.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "libvirt/checkpoints.h"

int
vc_resume_find (int outfd, const char *outdir, const struct vc_manifest *m,
                char **partial, struct vc_resume *rec)
{
  unsigned next = m->backups.len ? m->backups.ptr[m->backups.len - 1].id + 1 : 1;
  CLEANUP_FREE char *name = vc_backup_partial_name (next), *why = NULL;
  CLEANUP_CLOSE int fd = -1;
  int r;

  if (name == NULL || next > VC_BACKUP_ID_MAX)
    return 1;
  fd = openat (outfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1)
    return 1;
  r = vc_resume_load (fd, next, m, rec, &why);
  if (r == -1)
    vc_warn ("not resuming the interrupted backup in %s/%s, starting over: its "
             "progress record fails its checks (%s)", outdir, name,
             why ? why : "out of memory");
  if (r == 0) {
    *partial = name;
    name = NULL;
  }
  return r;
}

/* --- whether it can resume ---------------------------------------------- */

/* The plan of the resumed backup: its level, on the same parent. */
static const char *
plan (const struct vc_backup_domain *d, const struct vc_resume *rec,
      const struct vc_manifest *m, const string_vector *disks,
      struct vc_backup_plan *p)
{
  memset (p, 0, sizeof *p);
  if (strcmp (rec->level, "full") == 0) {
    snprintf (p->level, sizeof p->level, "full");
    return NULL;
  }
  /* auto first: it says nothing alarming when the chain is unusable. */
  if (vc_backup_choose_level (d, "auto", m, disks, p) != VC_EXIT_OK ||
      strcmp (p->level, "inc") != 0)
    return "the chain it extends is unusable";
  if (strcmp (rec->level, "diff") == 0 &&
      vc_backup_choose_level (d, "diff", m, disks, p) != VC_EXIT_OK)
    return "the chain it extends is unusable";
  if (p->parent == NULL || p->parent->id != rec->parent)
    return "it does not extend the chain's last backup";
  return NULL;
}

static const char *
same_disks (const struct vc_backup_domain *d, const struct vc_resume *rec,
            const string_vector *disks, char **owned)
{
  if (disks->len != rec->disks.len)
    return "the set of disks changed";
  for (size_t i = 0; i < disks->len; i++) {
    const struct vc_resume_disk *k = vc_resume_disk (rec, disks->ptr[i]);
    virDomainBlockInfo info;
    if (k == NULL)
      return "the set of disks changed";
    if (virDomainGetBlockInfo (d->dom, k->name, &info, 0) == -1)
      return *owned = vc_printf ("cannot read the size of disk %s", k->name);
    if (info.capacity != k->virtual_size)
      return *owned = vc_printf ("disk %s changed size", k->name);
  }
  return NULL;
}

static const char *
checkpoint_present (const struct vc_backup_domain *d, const struct vc_resume *rec,
                    char **owned)
{
  struct vc_redefine_result res;

  if (vc_backup_has_checkpoint (d, rec->checkpoint))
    return NULL;
  vc_info ("libvirt lacks checkpoint %s: redefining the stored chain", rec->checkpoint);
  vc_redefine (d->conn, d->store, d->name, &res);
  if (vc_backup_has_checkpoint (d, rec->checkpoint))
    return NULL;
  return *owned = vc_printf ("its checkpoint %s is gone from libvirt and cannot be "
                             "redefined (QEMU was restarted or killed: what the "
                             "guest wrote since is unknown)", rec->checkpoint);
}

struct compare {
  int fd;
  uint64_t pos;
  unsigned char *buf;
};

static int
compare_emit (void *opaque, const void *buf, size_t len)
{
  struct compare *c = opaque;

  if (pread (c->fd, c->buf, len, c->pos) != (ssize_t) len ||
      memcmp (c->buf, buf, len) != 0)
    return -1;
  c->pos += len;
  return 0;
}

/* Where the file's copied data ends, laid out as plan. */
static uint64_t
copied_end (const struct vc_qcow2_plan *pl, const vc_range_vector *copied)
{
  uint64_t end = copied->len ? copied->ptr[copied->len - 1].offset +
    copied->ptr[copied->len - 1].length : 0, host = pl->data_offset;

  for (size_t i = 0; i < pl->data->len && pl->data->ptr[i].offset < end; i++) {
    uint64_t e = pl->data->ptr[i].offset + pl->data->ptr[i].length;
    host += (e < end ? e : end) - pl->data->ptr[i].offset;
  }
  return host;
}

/* The kept image is the one the record describes: its metadata is what
 * the record's ranges lay out, and it is long enough for what it says
 * was copied.  (The copied data itself is trusted as much as a committed
 * image's: it is checksummed only once committed.)
 */
static const char *
check_image (int partfd, const struct vc_resume_disk *k, const char *backing,
             char **owned)
{
  struct vc_qcow2_plan pl = {
    .virtual_size = k->virtual_size, .data = &k->data, .zero = &k->zero,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  CLEANUP_FREE char *file = vc_printf ("%s.qcow2", k->name);
  CLEANUP_FREE unsigned char *buf = malloc (VC_QCOW2_CLUSTER_SIZE);
  CLEANUP_CLOSE int fd = -1;
  struct stat st;

  if (file == NULL || buf == NULL)
    return "out of memory";
  if (vc_qcow2_plan_layout (&pl) == -1)
    return *owned = vc_printf ("the image of %s cannot have the recorded layout", k->name);
  fd = openat (partfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1 || !S_ISREG (st.st_mode))
    return *owned = vc_printf ("its image %s is missing or not a file", file);
  struct compare c = { fd, 0, buf };
  if (vc_qcow2_plan_emit_metadata (&pl, compare_emit, &c) == -1)
    return *owned = vc_printf ("its image %s is not the one its record describes", file);
  if ((uint64_t) st.st_size < copied_end (&pl, &k->copied))
    return *owned = vc_printf ("its image %s is shorter than what it copied", file);
  return NULL;
}

static const char *
check_images (int partfd, const struct vc_resume *rec, const struct vc_backup *parent,
              char **owned)
{
  for (size_t i = 0; i < rec->disks.len; i++) {
    const struct vc_resume_disk *k = &rec->disks.ptr[i];
    CLEANUP_FREE char *backing = NULL;
    const char *why;
    if (!k->image)
      continue;
    if (parent) {
      const struct vc_backup_disk *pd = vc_backup_disk (parent, k->name);
      if (pd == NULL)
        return "the set of disks changed";
      if ((backing = vc_printf ("../%s/%s", parent->dir, pd->file)) == NULL)
        return "out of memory";
    }
    if ((why = check_image (partfd, k, backing, owned)) != NULL)
      return why;
  }
  return NULL;
}

/* From here on the directory is this run's: a record no longer describes
 * it, so a run killed now leaves a leftover, never a wrong record.
 */
static const char *
consume (int partfd, const struct vc_resume *rec, char **owned)
{
  if (vc_durable_unlink (partfd, VC_RESUME_FILE) == -1)
    return *owned = vc_printf ("cannot remove its record: %s", strerror (errno));
  for (size_t i = 0; i < rec->disks.len; i++) {
    const char *name = rec->disks.ptr[i].name;
    CLEANUP_FREE char *from = vc_printf ("%s.qcow2", name);
    CLEANUP_FREE char *to = vc_printf ("%s" VC_RESUME_KEPT, name);
    if (!rec->disks.ptr[i].image)
      continue;
    if (from == NULL || to == NULL || renameat (partfd, from, partfd, to) == -1)
      return *owned = vc_printf ("cannot rename its image of %s: %s", name,
                                 strerror (errno));
  }
  return fsync (partfd) == -1 ? "cannot sync its directory" : NULL;
}

const char *
vc_resume_problem (const struct vc_backup_domain *d, const struct vc_resume *rec,
                   const char *want, const struct vc_manifest *m,
                   const string_vector *disks, int outfd, const char *partial,
                   struct vc_backup_plan *p, char **owned)
{
  CLEANUP_CLOSE int partfd = -1;
  const char *why;

  if (strcmp (want, "auto") != 0 && strcmp (want, rec->level) != 0)
    return *owned = vc_printf ("level %s was asked for, the interrupted backup "
                               "is a%s %s", want, rec->level[0] == 'i' ? "n" : "",
                               rec->level);
  if ((why = plan (d, rec, m, disks, p)) != NULL ||
      (why = same_disks (d, rec, disks, owned)) != NULL ||
      (why = checkpoint_present (d, rec, owned)) != NULL)
    return why;
  partfd = openat (outfd, partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (partfd == -1)
    return "its directory cannot be opened";
  if ((why = check_images (partfd, rec, p->parent, owned)) != NULL)
    return why;
  return consume (partfd, rec, owned);
}

/* --- keeping an interrupted backup ---------------------------------------- */

static int64_t
save_record (int partfd, const char *dir, const struct vc_backup *b,
             const struct vc_resume *prev, const struct vc_disk_job *jobs, size_t n)
{
  struct vc_resume rec = {
    .id = b->id, .level = b->level, .chain = b->chain, .checkpoint = b->checkpoint,
    .since = b->since, .parent = b->parent, .started = b->started,
    .runs = prev ? prev->runs + 1 : 1,
  };
  int64_t kept = 0;
  int ret = -1;

  for (size_t i = 0; i < n; i++) {
    const struct vc_disk_job *j = &jobs[i];
    CLEANUP_FREE char *old = vc_printf ("%s" VC_RESUME_KEPT, j->target);
    /* The vectors are borrowed: only copied is the record's own. */
    struct vc_resume_disk k = {
      .name = (char *) j->target, .virtual_size = j->src.size,
      .image = j->wrote_image,
      .bytes_read = j->bytes_read + (j->resume ? j->resume->bytes_read : 0),
      .data = j->data, .zero = j->zero,
    };
    /* What a resumed run had not carried over yet is not worth a record
     * of two images.
     */
    if (old)
      unlinkat (partfd, old, 0);
    if ((k.image && vc_ranges_below (&j->data, j->copied_to, &k.copied) == -1) ||
        vc_resume_disk_vector_append (&rec.disks, k) == -1) {
      vc_range_vector_reset (&k.copied);
      vc_error ("out of memory");
      goto out;
    }
    kept += vc_ranges_total (&k.copied);
  }
  if (vc_resume_save (partfd, dir, &rec) == 0)
    ret = 0;
 out:
  for (size_t i = 0; i < rec.disks.len; i++)
    vc_range_vector_reset (&rec.disks.ptr[i].copied);
  vc_resume_disk_vector_reset (&rec.disks);
  return ret == 0 ? kept : -1;
}

int
vc_resume_keep (const struct vc_backup_domain *d, int outfd, const char *outdir,
                const char *partial, const struct vc_backup *b,
                const struct vc_resume *prev, const struct vc_disk_job *jobs, size_t n)
{
  CLEANUP_FREE char *dir = vc_printf ("%s/%s", outdir, partial);
  CLEANUP_CLOSE int partfd =
    openat (outfd, partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int64_t kept;

  if (dir == NULL || partfd == -1 ||
      (kept = save_record (partfd, dir, b, prev, jobs, n)) == -1)
    return -1;
  /* This run's checkpoint supersedes the one it resumed. */
  if (prev && vc_backup_delete_checkpoint (d, prev->checkpoint) == 0)
    vc_info ("removed checkpoint %s: the one of this run supersedes it",
             prev->checkpoint);
  if (vc_backup_capture (d) == -1)
    vc_warn ("could not record checkpoint %s in the store", b->checkpoint);
  vc_notice ("backup %u of %s interrupted: kept %.1f MiB it copied in %s and "
             "checkpoint %s; the next backup of %s into %s resumes it",
             b->id, d->name, kept / 1048576.0, dir, b->checkpoint, d->name, outdir);
  return 0;
}

int
vc_resume_remove_kept (int outfd, const char *outdir, const char *partial,
                       const string_vector *disks)
{
  CLEANUP_CLOSE int fd =
    openat (outfd, partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd == -1) {
    vc_error ("cannot open %s/%s: %m", outdir, partial);
    return -1;
  }
  for (size_t i = 0; i < disks->len; i++) {
    CLEANUP_FREE char *kept = vc_printf ("%s" VC_RESUME_KEPT, disks->ptr[i]);
    if (kept == NULL || (unlinkat (fd, kept, 0) == -1 && errno != ENOENT)) {
      vc_error ("cannot remove %s/%s/%s: %m", outdir, partial, kept ? kept : "");
      return -1;
    }
  }
  return 0;
}

int
vc_resume_restore (int outfd, const char *outdir, const char *partial,
                   const struct vc_resume *rec)
{
  CLEANUP_FREE char *dir = vc_printf ("%s/%s", outdir, partial);
  CLEANUP_CLOSE int partfd =
    openat (outfd, partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (dir == NULL || partfd == -1)
    return -1;
  for (size_t i = 0; i < rec->disks.len; i++) {
    const char *name = rec->disks.ptr[i].name;
    CLEANUP_FREE char *image = vc_printf ("%s.qcow2", name);
    CLEANUP_FREE char *kept = vc_printf ("%s" VC_RESUME_KEPT, name);
    if (!rec->disks.ptr[i].image)
      continue;
    if (image == NULL || kept == NULL || renameat (partfd, kept, partfd, image) == -1) {
      vc_warn ("cannot put back the kept image of %s in %s: %m", name, dir);
      return -1;
    }
  }
  if (vc_backup_dir_mark_partial (outfd, outdir, partial, rec->checkpoint) == -1 ||
      vc_resume_save (partfd, dir, rec) == -1)
    return -1;
  vc_notice ("the interrupted backup %u in %s is kept as it was (checkpoint %s), "
             "for the next backup to resume", rec->id, outdir, rec->checkpoint);
  return 0;
}
