/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt prune: see backup/prune.h. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "backup/backup-dir.h"
#include "backup/checksum.h"
#include "backup/prune.h"
#include "backup/qcow2-plan.h"
#include "backup/restore-chain.h"
#include "backup/restore-stream.h"
#include "backup/restore-target.h"
#include "backup/resume-record.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/full-io.h"
#include "common/log.h"
#include "common/vc-strings.h"

#define STAGE_PREFIX ".prune-"
#define JOURNAL ".prune-journal"
#define JOURNAL_MAX (1024 * 1024)

/* --- test hook ------------------------------------------------------------ */

/* tests/integration/prune-crash.sh only (prune.h). */
static void
kill_point (const char *step)
{
  const char *at = getenv (VC_PRUNE_KILL_ENV);

  if (at && strcmp (at, step) == 0)
    raise (SIGKILL);
}

/* --- the plan ------------------------------------------------------------- */

void
vc_prune_report_clear (struct vc_prune_report *r)
{
  free (r->domain);
  for (size_t i = 0; i < r->entries.len; i++) {
    free (r->entries.ptr[i].dir);
    free (r->entries.ptr[i].level);
    vc_id_vector_reset (&r->entries.ptr[i].folded);
  }
  vc_prune_entry_vector_reset (&r->entries);
  memset (r, 0, sizeof *r);
}

static struct vc_prune_entry *
entry_of (const struct vc_prune_report *r, unsigned id)
{
  for (size_t i = 0; i < r->entries.len; i++)
    if (r->entries.ptr[i].id == id)
      return &r->entries.ptr[i];
  return NULL;
}

int
vc_prune_plan (const struct vc_manifest *m, const struct vc_prune_policy *p,
               const vc_id_vector *pinned, struct vc_prune_report *r)
{
  const struct vc_backup *tip = vc_manifest_tip (m);
  CLEANUP_FREE struct vc_prune_point *points =
    calloc (m->backups.len ? m->backups.len : 1, sizeof *points);

  memset (r, 0, sizeof *r);
  if (points == NULL || (r->domain = strdup (m->domain)) == NULL)
    return -1;
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i];
    points[i] = (struct vc_prune_point) { b->id, b->started, b == tip, false, 0 };
    for (size_t k = 0; pinned && k < pinned->len; k++)
      points[i].pinned |= pinned->ptr[k] == b->id;
  }
  if (vc_prune_policy_apply (p, points, m->backups.len) == -1)
    return -1;
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i];
    struct vc_prune_entry e = {
      .id = points[i].id, .keep = points[i].keep, .started = b->started,
      .action = points[i].keep ? VC_PRUNE_KEEP : VC_PRUNE_REMOVE,
      .dir = strdup (b->dir), .level = strdup (b->level),
    };
    if (e.dir == NULL || e.level == NULL ||
        vc_prune_entry_vector_append (&r->entries, e) == -1) {
      free (e.dir);
      free (e.level);
      return -1;
    }
  }
  /* A kept backup whose parent goes: walk down to the nearest kept one. */
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i], *a;
    struct vc_prune_entry *e = &r->entries.ptr[i];
    if (e->action == VC_PRUNE_REMOVE || b->parent == 0 ||
        entry_of (r, b->parent)->action != VC_PRUNE_REMOVE)
      continue;
    for (a = vc_manifest_find (m, b->parent); a;
         a = a->parent ? vc_manifest_find (m, a->parent) : NULL) {
      if (entry_of (r, a->id)->action != VC_PRUNE_REMOVE)
        break;
      if (vc_id_vector_append (&e->folded, a->id) == -1)
        return -1;
    }
    e->action = a ? VC_PRUNE_FOLD : VC_PRUNE_SYNTHETIC;
    e->new_parent = a ? a->id : 0;
  }
  return 0;
}

/* --- directory housekeeping ---------------------------------------------- */

static char *
stage_name (unsigned id)
{
  return vc_printf (STAGE_PREFIX "%u", id);
}

/* The id of a .prune-ID name, or 0. */
static unsigned
stage_id (const char *name)
{
  const char *s = name + strlen (STAGE_PREFIX);
  char *end;
  unsigned long id;

  if (strncmp (name, STAGE_PREFIX, strlen (STAGE_PREFIX)) != 0 ||
      !(*s >= '1' && *s <= '9'))
    return 0;
  errno = 0;
  id = strtoul (s, &end, 10);
  return *end == '\0' && errno == 0 && id <= VC_BACKUP_ID_MAX ? id : 0;
}

static int
hash_fd (int fd, enum vc_checksum_algo algo, struct vc_digest *out, uint64_t *size)
{
  CLEANUP_FREE unsigned char *buf = malloc (VC_RESTORE_CHUNK);
  struct vc_checksum c;
  uint64_t pos = 0;
  ssize_t n;

  if (buf == NULL || vc_checksum_init (&c, algo) == -1) {
    errno = ENOMEM;
    return -1;
  }
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  while ((n = pread (fd, buf, VC_RESTORE_CHUNK, pos)) != 0) {
    if (n == -1) {
      if (errno == EINTR)
        continue;
      vc_checksum_abort (&c);
      return -1;
    }
    vc_checksum_update (&c, buf, n);
    pos += n;
  }
  vc_checksum_final (&c, out);
  *size = pos;
  return 0;
}

/* Recovery of one staged image: moved into place when it is what the
 * manifest lists (the prune committed), else left to be dropped.  -1
 * (warned) when it could not be read or moved: then nothing staged may
 * go, it may be the only copy of a committed image.
 */
static int
recover_image (int outfd, const char *outdir, const char *stage, int stagefd,
               const struct vc_backup *b, const struct vc_backup_disk *d)
{
  CLEANUP_CLOSE int fd =
    openat (stagefd, d->file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  CLEANUP_CLOSE int bfd = -1;
  struct vc_digest sum;
  struct stat st;
  uint64_t size;

  if (fd == -1)
    return errno == ENOENT ? 0 : -1;    /* ENOENT: moved, or never staged */
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode))
    return 0;                   /* not ours: dropped with its directory */
  if (hash_fd (fd, d->sum.algo, &sum, &size) == -1) {
    vc_warn ("cannot read %s/%s/%s: %m", outdir, stage, d->file);
    return -1;
  }
  if (size != d->file_size || strcmp (sum.hex, d->sum.hex) != 0)
    return 0;                   /* not committed */
  bfd = openat (outfd, b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (bfd == -1 || renameat (stagefd, d->file, bfd, d->file) == -1 ||
      fsync (bfd) == -1) {
    vc_warn ("cannot move %s/%s/%s into %s: %m", outdir, stage, d->file, b->dir);
    return -1;
  }
  vc_notice ("%s/%s/%s: finished the commit of an interrupted prune",
             outdir, b->dir, d->file);
  return 0;
}

/* Names a line of the journal may hold: a committed backup's directory
 * name (checked against the manifest's grammar by its id and level).
 */
static bool
journal_dir_name (const char *s)
{
  unsigned id;
  char level[8], tail[32];

  return strlen (s) < 64 && !strchr (s, '/') &&
    sscanf (s, "%8u-%7[a-z]-%31s", &id, level, tail) == 3 && id > 0 &&
    strcmp (s, ".") && strcmp (s, "..") && s[0] != '.';
}

int
vc_prune_recover (int outfd, const char *outdir, const struct vc_manifest *m)
{
  CLEANUP_FREE char *journal = NULL;
  string_vector stages = empty_vector;
  bool failed = false;
  size_t len;

  /* The journal: what a committed prune still had to do. */
  if (vc_read_file (outfd, JOURNAL, JOURNAL_MAX, &journal, &len) == 0) {
    char *save = NULL;
    vc_warn ("%s: completing or rolling back an interrupted prune", outdir);
    for (char *line = strtok_r (journal, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
      if (strncmp (line, "rewrite ", 8) == 0) {
        unsigned id = stage_id (line + 8);
        const struct vc_backup *b = id ? vc_manifest_find (m, id) : NULL;
        CLEANUP_CLOSE int sfd = b ? openat (outfd, line + 8, O_RDONLY | O_DIRECTORY |
                                            O_NOFOLLOW | O_CLOEXEC) : -1;
        for (size_t i = 0; sfd != -1 && i < b->disks.len; i++)
          failed |= recover_image (outfd, outdir, line + 8, sfd, b,
                                   &b->disks.ptr[i]) == -1;
      }
      else if (strncmp (line, "remove ", 7) == 0 && journal_dir_name (line + 7)) {
        bool listed = false;
        for (size_t i = 0; i < m->backups.len; i++)
          listed |= strcmp (m->backups.ptr[i].dir, line + 7) == 0;
        /* Listed: the prune did not commit, the directory stays. */
        if (!listed && vc_remove_flat_dir (outfd, line + 7) == -1) {
          vc_warn ("cannot remove %s/%s: %m", outdir, line + 7);
          failed = true;
        }
      }
    }
  }
  else if (errno != ENOENT) {
    vc_warn ("cannot read %s/%s: %m", outdir, JOURNAL);
    failed = true;
  }
  if (failed) {
    vc_warn ("%s: the interrupted prune is left as it is, for the next run",
             outdir);
    return -1;
  }

  /* What is left staged was not committed, or is moved already. */
  {
    CLEANUP_CLOSEDIR DIR *d = vc_opendir_at (outfd);
    struct dirent *e;
    while (d && (e = readdir (d)) != NULL)
      if (stage_id (e->d_name)) {
        char *s = strdup (e->d_name);
        if (s && string_vector_append (&stages, s) == -1)
          free (s);
      }
  }
  for (size_t i = 0; i < stages.len; i++) {
    vc_notice ("removing %s/%s, left by an interrupted prune", outdir, stages.ptr[i]);
    if (vc_remove_flat_dir (outfd, stages.ptr[i]) == -1)
      vc_warn ("cannot remove %s/%s: %m", outdir, stages.ptr[i]);
  }
  vc_string_vector_free (&stages);
  if (journal && vc_durable_unlink (outfd, JOURNAL) == -1 && errno != ENOENT)
    vc_warn ("cannot remove %s/%s: %m", outdir, JOURNAL);
  return 0;
}

/* --- writing a folded or synthetic image --------------------------------- */

struct prune_run {
  const struct vc_prune_options *o;
  int outfd, lockfd;
  struct vc_manifest m;         /* as loaded: the old state */
  struct vc_manifest next;      /* the new state, committed at step 3 */
  struct vc_prune_report *r;
  unsigned char *buf;           /* VC_RESTORE_CHUNK */
};

/* Writes stagefd/d->file: the clusters of the first n links of the chain
 * of disk d at b (every link down to the nearest kept ancestor, or all),
 * on backing (or none).  Fills out's size and checksum.  Returns 0, -1 on
 * an error, 1 when a source does not match its checksum (each logged).
 */
static int
write_image (struct prune_run *pr, const struct vc_backup *b,
             const struct vc_backup_disk *d, unsigned new_parent,
             const char *backing, int stagefd, const char *stage,
             struct vc_backup_disk *out)
{
  const char *dir = pr->o->dir;
  CLEANUP_CHAIN vc_link_vector links = empty_vector;
  CLEANUP_FREE struct vc_qcow2_image *imgs = NULL;
  CLEANUP_FREE char *label = vc_printf ("%s/%s/%s", dir, stage, d->file);
  CLEANUP_CLOSE int fd = -1;
  struct vc_chain_map map = { 0 };
  struct vc_qcow2_plan plan;
  struct vc_restore_target t = { .kind = VC_TARGET_QCOW2 };
  struct vc_progress progress;
  const char *why;
  size_t n, bad;
  int ret = -1;

  if (label == NULL ||
      vc_chain_open (pr->outfd, dir, &pr->m, b, d->name, &links) == -1)
    return -1;
  for (n = 0; n < links.len; n++)
    if (links.ptr[n].backup->id == new_parent)
      break;
  if (new_parent && n == links.len) {
    vc_error ("%s: backup %u has no disk %s to build on", label, new_parent, d->name);
    return -1;
  }
  imgs = calloc (n, sizeof *imgs);
  if (imgs == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    imgs[i] = links.ptr[i].img;
  why = vc_chain_map_build (imgs, n, &map, &bad);
  if (why) {
    vc_error ("%s: FAILED: refused as an image: %s%s", links.ptr[bad].label, why,
              why == vc_qcow2_read_error ? ": %m" : "");
    goto out;
  }
  plan = (struct vc_qcow2_plan) {
    .virtual_size = map.virtual_size, .data = &map.data, .zero = &map.zero,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  if (vc_qcow2_plan_layout (&plan) == -1) {
    vc_error ("%s: cannot lay out the image: %m", label);
    goto out;
  }
  fd = openat (stagefd, d->file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               0600);
  if (fd == -1 || ftruncate (fd, plan.file_size) == -1 ||
      vc_qcow2_plan_write_metadata (&plan, fd) == -1) {
    vc_error ("%s: cannot write: %m", label);
    goto out;
  }
  t.fd = fd;
  t.label = label;
  t.virtual_size = map.virtual_size;
  t.data_offset = plan.data_offset;
  {
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
      total += links.ptr[i].st.st_size;
    vc_progress_start (&progress, total, pr->o->progress);
  }
  /* Each source verified against its checksum as it streams: nothing
   * damaged is folded into a kept backup.
   */
  for (size_t i = 0; i < n; i++) {
    struct vc_stream_link sl = {
      .fd = links.ptr[i].fd, .label = links.ptr[i].label,
      .disk = links.ptr[i].disk, .file_size = links.ptr[i].st.st_size,
    };
    int s = vc_stream_link (&sl, &map.runs[i], true, &t, &progress, pr->buf);
    if (s != 0) {
      vc_progress_finish (&progress);
      ret = s;
      goto out;
    }
  }
  vc_progress_finish (&progress);
  if (!vc_chain_unchanged (&links))
    goto out;
  if (fdatasync (fd) == -1) {
    vc_error ("%s: cannot sync: %m", label);
    goto out;
  }
  out->sum.algo = d->sum.algo;
  if (hash_fd (fd, d->sum.algo, &out->sum, &out->file_size) == -1) {
    vc_error ("%s: cannot read back: %m", label);
    goto out;
  }
  free (out->backing);
  out->backing = backing ? strdup (backing) : NULL;
  if (backing && out->backing == NULL) {
    vc_error ("out of memory");
    goto out;
  }
  ret = 0;
 out:
  vc_chain_map_clear (&map, n);
  return ret;
}

/* Stages the new images of the kept backup e and rewrites its entry in
 * pr->next (parent, since, level, disks).
 */
static int
stage_backup (struct prune_run *pr, struct vc_prune_entry *e)
{
  const char *dir = pr->o->dir;
  const struct vc_backup *b = vc_manifest_find (&pr->m, e->id);
  const struct vc_backup *p = e->new_parent ? vc_manifest_find (&pr->m, e->new_parent)
    : NULL;
  struct vc_backup *nb = vc_manifest_find (&pr->next, e->id);
  CLEANUP_FREE char *stage = stage_name (e->id);
  CLEANUP_CLOSE int sfd = -1;

  if (stage == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  if (mkdirat (pr->outfd, stage, 0700) == -1 ||
      (sfd = openat (pr->outfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                     O_CLOEXEC)) == -1) {
    vc_error ("cannot create %s/%s: %m", dir, stage);
    return -1;
  }
  for (size_t i = 0; i < b->disks.len; i++) {
    const struct vc_backup_disk *d = &b->disks.ptr[i];
    const struct vc_backup_disk *pd = p ? vc_backup_disk (p, d->name) : NULL;
    CLEANUP_FREE char *backing = NULL;
    int s;
    if (p && pd == NULL) {
      vc_error ("backup %u: backup %u, on which it would build, has no disk %s",
                b->id, p->id, d->name);
      return -1;
    }
    if (pd && (backing = vc_printf ("../%s/%s", p->dir, pd->file)) == NULL) {
      vc_error ("out of memory");
      return -1;
    }
    vc_notice ("backup %u, disk %s: %s", b->id, d->name,
               p ? "folding the removed backups below it into it"
               : "writing it as a synthetic full");
    s = write_image (pr, b, d, e->new_parent, backing, sfd, stage, &nb->disks.ptr[i]);
    if (s != 0)
      return s;
    e->bytes += nb->disks.ptr[i].file_size;
    pr->r->bytes_written += nb->disks.ptr[i].file_size;
    kill_point ("writing");
  }
  if (fsync (sfd) == -1) {
    vc_error ("cannot sync %s/%s: %m", dir, stage);
    return -1;
  }
  /* The entry of the new state. */
  free (nb->since);
  nb->since = NULL;
  nb->parent = 0;
  if (p) {
    nb->parent = p->id;
    if ((nb->since = strdup (p->checkpoint)) == NULL) {
      vc_error ("out of memory");
      return -1;
    }
  }
  else {
    free (nb->level);
    nb->synthetic = true;
    if ((nb->level = strdup ("full")) == NULL) {
      vc_error ("out of memory");
      return -1;
    }
  }
  return 0;
}

/* --- before the plan -------------------------------------------------------- */

/* The parents of the interrupted backups in outdir (.partial-ID with a
 * progress record that passes its checks): the next backup may resume
 * them, and their images name the parent as their backing file.
 */
static int
find_pinned (int outfd, const char *outdir, const struct vc_manifest *m,
             vc_id_vector *out)
{
  CLEANUP_CLOSEDIR DIR *d = vc_opendir_at (outfd);
  struct dirent *e;

  if (d == NULL) {
    vc_error ("cannot read %s: %m", outdir);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    const char *s = e->d_name + strlen (".partial-");
    CLEANUP_FREE char *why = NULL;
    CLEANUP_CLOSE int fd = -1;
    struct vc_resume r = { 0 };
    unsigned long id;
    char *end;

    if (strncmp (e->d_name, ".partial-", strlen (".partial-")) != 0 ||
        !(*s >= '1' && *s <= '9'))
      continue;
    errno = 0;
    id = strtoul (s, &end, 10);
    if (*end || errno || id > VC_BACKUP_ID_MAX)
      continue;
    fd = openat (outfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1 || vc_resume_load (fd, id, m, &r, &why) != 0)
      continue;
    if (r.parent && vc_id_vector_append (out, r.parent) == -1) {
      vc_resume_clear (&r);
      vc_error ("out of memory");
      return -1;
    }
    vc_resume_clear (&r);
  }
  return 0;
}

/* Every backup's directory is a directory, not a symlink to one: prune
 * removes and rewrites only what it can see is there.
 */
static int
check_dirs (int outfd, const char *outdir, const struct vc_manifest *m)
{
  for (size_t i = 0; i < m->backups.len; i++) {
    const char *name = m->backups.ptr[i].dir;
    struct stat st;
    if (fstatat (outfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
      vc_error ("%s/%s: %m: not pruning", outdir, name);
      return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
      vc_error ("%s/%s is not a directory (a symlink is refused): not pruning",
                outdir, name);
      return -1;
    }
  }
  return 0;
}

/* --- the transaction ------------------------------------------------------ */

static void
run_clear (struct prune_run *pr)
{
  if (pr->lockfd >= 0)
    close (pr->lockfd);
  if (pr->outfd >= 0)
    close (pr->outfd);
  vc_manifest_clear (&pr->m);
  vc_manifest_clear (&pr->next);
  free (pr->buf);
}

/* The directory's writer lock, the one every backup takes. */
static int
take_lock (struct prune_run *pr)
{
  const char *dir = pr->o->dir;
  struct stat st;

  pr->lockfd = openat (pr->outfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                       O_NONBLOCK, 0600);
  if (pr->lockfd == -1 || fstat (pr->lockfd, &st) == -1 || !S_ISREG (st.st_mode)) {
    vc_error ("cannot open the lock file %s/.lock: %m", dir);
    return VC_EXIT_ERROR;
  }
  if (flock (pr->lockfd, LOCK_EX | LOCK_NB) == -1) {
    if (errno == EWOULDBLOCK) {
      vc_error ("another virtckpt (a backup or a prune) is writing to %s: "
                "nothing pruned; try again once it is done", dir);
      return VC_EXIT_BUSY;
    }
    vc_error ("cannot lock %s/.lock: %m", dir);
    return VC_EXIT_ERROR;
  }
  return VC_EXIT_OK;
}

/* A deep copy of m's backups that the plan keeps. */
static int
copy_kept (const struct vc_manifest *m, const struct vc_prune_report *r,
           struct vc_manifest *out)
{
  memset (out, 0, sizeof *out);
  if ((out->domain = strdup (m->domain)) == NULL)
    return -1;
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i];
    struct vc_backup c = *b;
    if (r->entries.ptr[i].action == VC_PRUNE_REMOVE)
      continue;
    c.level = strdup (b->level);
    c.chain = b->chain ? strdup (b->chain) : NULL;
    c.checkpoint = b->checkpoint ? strdup (b->checkpoint) : NULL;
    c.since = b->since ? strdup (b->since) : NULL;
    c.dir = strdup (b->dir);
    c.consistency = b->consistency ? strdup (b->consistency) : NULL;
    c.disks = (vc_backup_disk_vector) empty_vector;
    c.files = (vc_backup_file_vector) empty_vector;
    if (vc_backup_vector_append (&out->backups, c) == -1) {
      vc_backup_clear (&c);
      return -1;
    }
    struct vc_backup *nb = &out->backups.ptr[out->backups.len - 1];
    if (nb->level == NULL || nb->dir == NULL)
      return -1;
    for (size_t j = 0; j < b->disks.len; j++) {
      struct vc_backup_disk d = b->disks.ptr[j];
      d.name = strdup (d.name);
      d.file = strdup (d.file);
      d.backing = d.backing ? strdup (d.backing) : NULL;
      if (vc_backup_disk_vector_append (&nb->disks, d) == -1) {
        free (d.name); free (d.file); free (d.backing);
        return -1;
      }
      if (d.name == NULL || d.file == NULL)
        return -1;
    }
    for (size_t j = 0; j < b->files.len; j++) {
      struct vc_backup_file f = b->files.ptr[j];
      f.name = strdup (f.name);
      if (f.name == NULL || vc_backup_file_vector_append (&nb->files, f) == -1) {
        free (f.name);
        return -1;
      }
    }
  }
  return 0;
}

/* Bytes of the files of backup b, as the manifest lists them. */
static uint64_t
backup_bytes (const struct vc_backup *b)
{
  uint64_t total = 0;

  for (size_t i = 0; i < b->disks.len; i++)
    total += b->disks.ptr[i].file_size;
  return total;
}

static int
write_journal (struct prune_run *pr)
{
  CLEANUP_FREE char *text = NULL;
  size_t size = 0;
  FILE *fp = open_memstream (&text, &size);

  if (fp == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < pr->r->entries.len; i++) {
    const struct vc_prune_entry *e = &pr->r->entries.ptr[i];
    if (e->action == VC_PRUNE_FOLD || e->action == VC_PRUNE_SYNTHETIC)
      fprintf (fp, "rewrite " STAGE_PREFIX "%u\n", e->id);
    else if (e->action == VC_PRUNE_REMOVE)
      fprintf (fp, "remove %s\n", pr->m.backups.ptr[i].dir);
  }
  if (fclose (fp) != 0 || text == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  if (vc_atomic_write (pr->outfd, JOURNAL, text, size) == -1) {
    vc_error ("cannot write %s/%s: %m", pr->o->dir, JOURNAL);
    return -1;
  }
  return 0;
}

/* Step 4: the staged images over the old ones. */
static int
move_staged (struct prune_run *pr, const struct vc_prune_entry *e)
{
  const char *dir = pr->o->dir;
  const struct vc_backup *b = vc_manifest_find (&pr->next, e->id);
  CLEANUP_FREE char *stage = stage_name (e->id);
  CLEANUP_CLOSE int sfd = -1, bfd = -1;

  if (stage == NULL ||
      (sfd = openat (pr->outfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                     O_CLOEXEC)) == -1 ||
      (bfd = openat (pr->outfd, b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                     O_CLOEXEC)) == -1) {
    vc_error ("cannot open %s/%s: %m", dir, stage ? stage : b->dir);
    return -1;
  }
  for (size_t i = 0; i < b->disks.len; i++) {
    if (renameat (sfd, b->disks.ptr[i].file, bfd, b->disks.ptr[i].file) == -1) {
      vc_error ("cannot move %s/%s/%s into %s: %m", dir, stage,
                b->disks.ptr[i].file, b->dir);
      return -1;
    }
    kill_point ("moved");
  }
  if (fsync (bfd) == -1 || unlinkat (pr->outfd, stage, AT_REMOVEDIR) == -1) {
    vc_error ("cannot finish moving %s/%s: %m", dir, stage);
    return -1;
  }
  return 0;
}

/* Before the commit: what was staged goes. */
static void
discard_staged (struct prune_run *pr)
{
  for (size_t i = 0; i < pr->r->entries.len; i++) {
    const struct vc_prune_entry *e = &pr->r->entries.ptr[i];
    CLEANUP_FREE char *stage = stage_name (e->id);
    if ((e->action == VC_PRUNE_FOLD || e->action == VC_PRUNE_SYNTHETIC) && stage &&
        vc_remove_flat_dir (pr->outfd, stage) == -1)
      vc_warn ("cannot remove %s/%s: %m", pr->o->dir, stage);
  }
}

static int
execute (struct prune_run *pr)
{
  struct vc_prune_report *r = pr->r;
  CLEANUP_FREE char *err = NULL;

  if (copy_kept (&pr->m, r, &pr->next) == -1) {
    vc_error ("out of memory");
    return VC_EXIT_ERROR;
  }
  pr->buf = malloc (VC_RESTORE_CHUNK);
  if (pr->buf == NULL) {
    vc_error ("out of memory");
    return VC_EXIT_ERROR;
  }
  /* 1. stage */
  for (size_t i = 0; i < r->entries.len; i++) {
    struct vc_prune_entry *e = &r->entries.ptr[i];
    if (e->action != VC_PRUNE_FOLD && e->action != VC_PRUNE_SYNTHETIC)
      continue;
    if (stage_backup (pr, e) != 0) {
      discard_staged (pr);
      vc_error ("nothing pruned in %s", pr->o->dir);
      return VC_EXIT_ERROR;
    }
  }
  if (fsync (pr->outfd) == -1) {
    vc_error ("cannot sync %s: %m", pr->o->dir);
    return VC_EXIT_ERROR;
  }
  kill_point ("staged");
  /* The new state must be one every reader accepts. */
  if (vc_manifest_check (&pr->next, &err) == -1) {
    vc_error ("the pruned manifest would be invalid (%s): nothing pruned",
              err ? err : "out of memory");
    discard_staged (pr);
    return VC_EXIT_ERROR;
  }
  /* 2. journal, 3. commit */
  if (write_journal (pr) == -1) {
    discard_staged (pr);
    return VC_EXIT_ERROR;
  }
  kill_point ("journal");
  /* A failed save may have replaced the manifest or not (the rename done,
   * the sync of the directory failed): the journal and the staged images
   * stay for the next run's recovery, which tells the two apart.
   */
  if (vc_manifest_save (pr->outfd, pr->o->dir, &pr->next) == -1) {
    vc_error ("the prune of %s did not complete: the next prune or backup "
              "finishes or undoes it", pr->o->dir);
    return VC_EXIT_ERROR;
  }
  r->committed = true;
  kill_point ("committed");
  /* 4. move, 5. remove: what fails here, the next prune or backup does. */
  for (size_t i = 0; i < r->entries.len; i++) {
    const struct vc_prune_entry *e = &r->entries.ptr[i];
    if ((e->action == VC_PRUNE_FOLD || e->action == VC_PRUNE_SYNTHETIC) &&
        move_staged (pr, e) == -1)
      return VC_EXIT_ERROR;
  }
  for (size_t i = 0; i < r->entries.len; i++) {
    const struct vc_backup *b = &pr->m.backups.ptr[i];
    if (r->entries.ptr[i].action != VC_PRUNE_REMOVE)
      continue;
    if (vc_remove_flat_dir (pr->outfd, b->dir) == -1) {
      vc_error ("cannot remove %s/%s: %m", pr->o->dir, b->dir);
      return VC_EXIT_ERROR;
    }
    kill_point ("removed");
  }
  /* 6. done */
  if (vc_durable_unlink (pr->outfd, JOURNAL) == -1) {
    vc_error ("cannot remove %s/%s: %m", pr->o->dir, JOURNAL);
    return VC_EXIT_ERROR;
  }
  return VC_EXIT_OK;
}

int
vc_prune (const struct vc_prune_options *o, struct vc_prune_report *r)
{
  struct prune_run pr = { .o = o, .outfd = -1, .lockfd = -1, .r = r };
  vc_id_vector pinned = empty_vector;
  int s;

  memset (r, 0, sizeof *r);
  pr.outfd = open (o->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (pr.outfd == -1) {
    vc_error ("cannot open backup directory %s: %m%s", o->dir,
              errno == ELOOP ? " (a symlink is refused)" : "");
    return VC_EXIT_ERROR;
  }
  /* A dry run changes nothing: no lock file is created for it either. */
  if (!o->dry_run && (s = take_lock (&pr)) != VC_EXIT_OK)
    goto out;
  s = VC_EXIT_ERROR;
  switch (vc_manifest_load (pr.outfd, o->dir, &pr.m)) {
  case 0:
    break;
  case 1:
    vc_error ("%s holds no virtckpt backups (no %s)", o->dir, VC_MANIFEST_FILE);
    goto out;
  default:
    vc_error ("not pruning %s: repair %s or restore it from a copy", o->dir,
              VC_MANIFEST_FILE);
    goto out;
  }
  if (!o->dry_run && vc_prune_recover (pr.outfd, o->dir, &pr.m) == -1) {
    vc_error ("not pruning %s: an interrupted prune could not be completed",
              o->dir);
    goto out;
  }
  if (check_dirs (pr.outfd, o->dir, &pr.m) == -1 ||
      find_pinned (pr.outfd, o->dir, &pr.m, &pinned) == -1)
    goto out;
  if (vc_prune_plan (&pr.m, &o->policy, &pinned, r) == -1) {
    vc_error ("out of memory");
    goto out;
  }
  for (size_t i = 0; i < r->entries.len; i++)
    if (r->entries.ptr[i].action == VC_PRUNE_REMOVE) {
      r->entries.ptr[i].bytes = backup_bytes (&pr.m.backups.ptr[i]);
      r->bytes_freed += r->entries.ptr[i].bytes;
    }
  s = VC_EXIT_OK;
  if (!o->dry_run) {
    bool any = false;
    for (size_t i = 0; i < r->entries.len; i++)
      any |= r->entries.ptr[i].action == VC_PRUNE_REMOVE;
    if (any)
      s = execute (&pr);
  }
 out:
  vc_id_vector_reset (&pinned);
  run_clear (&pr);
  return s;
}
