/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "backup/backup.h"
#include "backup/backup-checkpoint.h"
#include "backup/backup-dir.h"
#include "backup/backup-guard.h"
#include "backup/backup-job.h"
#include "backup/backup-level.h"
#include "backup/disk-job.h"
#include "backup/guest-freeze.h"
#include "backup/manifest.h"
#include "backup/offline.h"
#include "backup/prune.h"
#include "backup/resume.h"
#include "backup/shared-dir.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/first-error.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/vc-strings.h"
#include "libvirt/checkpoints.h"
#include "libvirt/domain-info.h"
#include "libvirt/libvirt-conn.h"
#include "store/last-backup.h"

/* Everything one run holds, so that every exit path can undo it. */
struct run {
  const struct vc_backup_options *o;
  struct vc_backup_domain d;
  int outfd, lockfd, runlockfd;
  struct vc_manifest manifest;
  bool have_manifest;
  struct vc_domain_info info;
  string_vector disks;          /* selected disk targets */
  struct vc_backup_plan plan;
  struct vc_backup b;           /* the backup made; the manifest's once committed */
  char *partial;                /* its directory under outdir, until committed */
  char *domxml;                 /* saved with it */
  struct vc_backup_job job;
  bool made_checkpoint;         /* b.checkpoint is in libvirt, not committed */
  struct vc_disk_job *jobs;     /* one per disk */
  struct vc_progress progress;
  struct vc_rate rate;          /* --max-rate, over all disks */
  struct timespec t0;
  bool committed;
  bool mapped;                  /* every disk job knows what to copy */
  /* An interrupted backup in partial directory kept_partial, and whether
   * this run resumes it.
   */
  struct vc_resume kept;
  char *kept_partial;
  bool resuming;
  /* Another backup of the domain runs: this one's failure is not
   * recorded as the domain's last backup.
   */
  bool busy;
  struct vc_last_backup *outcome; /* what the store is to record */
  /* An offline backup: the export, and the checkpoint it makes, recorded
   * in the store once committed.
   */
  bool offline;
  struct vc_offline off;
  char *offline_cpxml;
  bool made_partial;
  bool bad_bitmap;              /* the base checkpoint's bitmap is unusable */
};

static void
run_clear (struct run *r)
{
  vc_disk_jobs_free (r->jobs, r->disks.len);
  vc_offline_clear (&r->off);
  free (r->offline_cpxml);
  vc_backup_job_end (&r->job);
  vc_backup_job_remove_dir (&r->job);
  if (!r->committed)
    vc_backup_clear (&r->b);
  free (r->partial);
  free (r->domxml);
  vc_resume_clear (&r->kept);
  free (r->kept_partial);
  vc_manifest_clear (&r->manifest);
  vc_last_backup_free (r->outcome);
  vc_domain_info_clear (&r->info);
  vc_string_vector_free (&r->disks);
  if (r->d.dom)
    virDomainFree (r->d.dom);
  vc_backup_guard_release (&r->runlockfd);
  cleanup_close (&r->lockfd);
  cleanup_close (&r->outfd);
}
#define CLEANUP_RUN __attribute__ ((cleanup (run_clear)))

static int
oom (void)
{
  vc_error ("out of memory");
  return -1;
}

/* --- prepare ------------------------------------------------------------- */

static int
open_outdir (struct run *r)
{
  const char *outdir = r->o->outdir;

  if (vc_mkdir_parents (outdir, 0700) == -1 ||
      (r->outfd = open (outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
    vc_error ("cannot open backup directory %s: %m", outdir);
    return VC_EXIT_ERROR;
  }
  r->lockfd = vc_backup_dir_lock (r->outfd, outdir);
  if (r->lockfd == -1)
    return VC_EXIT_ERROR;
  vc_shared_dir_check (r->outfd, outdir, r->d.store);
  /* One backup per domain at a time, whatever the directory. */
  r->runlockfd = vc_backup_guard_take (r->o->rundir, r->o->domain);
  if (r->runlockfd == -1) {
    r->busy = true;
    return VC_EXIT_ERROR;
  }

  switch (vc_manifest_load (r->outfd, outdir, &r->manifest)) {
  case 0:
    r->have_manifest = true;
    if (strcmp (r->manifest.domain, r->o->domain) != 0) {
      vc_error ("%s holds backups of domain '%s', not '%s'", outdir,
                r->manifest.domain, r->o->domain);
      return VC_EXIT_ERROR;
    }
    /* A killed prune: its commit completed, or its leftovers removed. */
    (void) vc_prune_recover (r->outfd, outdir, &r->manifest);
    return VC_EXIT_OK;
  case 1:
    if (vc_backup_dir_check_unlisted (r->outfd, outdir) == -1)
      return VC_EXIT_ERROR;
    r->manifest.domain = strdup (r->o->domain);
    return VC_EXIT_OK;
  default:
    vc_error ("not backing up into %s: repair %s or restore it from a copy, "
              "or back up into a new directory", outdir, VC_MANIFEST_FILE);
    return VC_EXIT_ERROR;
  }
}

static int
select_disks (struct run *r)
{
  const string_vector *all = &r->info.disks;
  const string_vector *include = &r->o->include, *exclude = &r->o->exclude;

  for (size_t i = 0; i < include->len; i++)
    if (!vc_in_list (all, include->ptr[i])) {
      vc_error ("domain %s has no disk '%s'", r->o->domain, include->ptr[i]);
      return VC_EXIT_USAGE;
    }
  for (size_t i = 0; i < exclude->len; i++)
    if (!vc_in_list (all, exclude->ptr[i])) {
      vc_error ("domain %s has no disk '%s'", r->o->domain, exclude->ptr[i]);
      return VC_EXIT_USAGE;
    }
  for (size_t i = 0; i < all->len; i++) {
    const char *t = all->ptr[i];
    if ((include->len && !vc_in_list (include, t)) || vc_in_list (exclude, t))
      continue;
    char *s = strdup (t);
    if (s == NULL || string_vector_append (&r->disks, s) == -1) {
      free (s);
      return VC_EXIT_ERROR;
    }
  }
  if (r->disks.len == 0) {
    vc_error ("no disk of %s left to back up", r->o->domain);
    return VC_EXIT_USAGE;
  }
  return VC_EXIT_OK;
}

static int
read_domain (struct run *r)
{
  CLEANUP_FREE char *xml = virDomainGetXMLDesc (r->d.dom, 0);
  CLEANUP_FREE char *err = NULL;

  if (xml == NULL) {
    vc_error ("cannot read the XML of %s: %s", r->o->domain, vc_libvirt_error ());
    return VC_EXIT_ERROR;
  }
  if (vc_domain_info_parse (xml, &r->info, &err) == -1) {
    vc_error ("cannot understand the XML of %s: %s", r->o->domain, err);
    return VC_EXIT_ERROR;
  }
  return select_disks (r);
}

/* 1 the domain runs here, 0 not (r->d.dom NULL when libvirt does not
 * know it: a transient domain that was stopped), -1 error (logged).
 */
static int
find_domain (struct run *r)
{
  int active;

  r->d.dom = virDomainLookupByName (r->d.conn, r->o->domain);
  if (r->d.dom == NULL) {
    if (vc_libvirt_error_code () == VIR_ERR_NO_DOMAIN)
      return 0;
    vc_error ("cannot look up domain '%s': %s", r->o->domain, vc_libvirt_error ());
    return -1;
  }
  active = virDomainIsActive (r->d.dom);
  if (active == -1)
    vc_error ("cannot query domain '%s': %s", r->o->domain, vc_libvirt_error ());
  return active;
}

/* The disks of a domain that does not run here, and whether it runs
 * elsewhere is up to the images' locks (backup/offline.h).
 */
static int
prepare_offline (struct run *r)
{
  CLEANUP_FREE char *err = NULL;
  int s;

  r->offline = r->d.offline = true;
  r->off.domain = r->o->domain;
  r->off.no_member_runs_it = r->o->no_member_runs_it;
  /* A domain nothing is known of is refused before DIR is made. */
  if (vc_offline_prepare (&r->off, r->d.store, r->d.dom, r->o->config) == -1)
    return VC_EXIT_ERROR;
  if ((s = open_outdir (r)) != VC_EXIT_OK)
    return s;
  if (vc_domain_info_parse (r->off.domxml, &r->info, &err) == -1) {
    vc_error ("cannot understand the domain XML of %s from %s: %s", r->o->domain,
              r->off.origin, err);
    return VC_EXIT_ERROR;
  }
  /* The export runs as root, whoever QEMU runs as. */
  r->info.have_owner = false;
  if ((s = select_disks (r)) != VC_EXIT_OK)
    return s;
  if (vc_offline_find_disks (&r->off, &r->disks) == -1)
    return VC_EXIT_ERROR;
  /* An interrupted backup is not resumed offline: its checkpoint is one
   * libvirt made, and libvirt is not running the domain.
   */
  vc_backup_dir_remove_stale (r->outfd, r->o->outdir, &r->manifest, &r->d, NULL);
  return VC_EXIT_OK;
}

/* Locks, loads and cleans up after interrupted runs (ours to clean only
 * once the locks are held).
 */
static int
prepare (struct run *r)
{
  int s;

  switch (find_domain (r)) {
  case -1:
    return VC_EXIT_ERROR;
  case 0:
    if (r->o->no_member_runs_it)
      vc_notice ("%s runs on no node of the cluster: backing up its images offline",
                 r->o->domain);
    else if (!r->o->offline)
      vc_notice ("%s is not running: backing up its images offline", r->o->domain);
    return prepare_offline (r);
  default:
    if (r->o->offline) {
      vc_error ("domain '%s' is running here: no offline backup of a running "
                "domain", r->o->domain);
      return VC_EXIT_ERROR;
    }
    if (r->o->config)
      vc_info ("%s is running: its live XML is used, not %s", r->o->domain,
               r->o->config);
  }
  if ((s = open_outdir (r)) != VC_EXIT_OK || (s = read_domain (r)) != VC_EXIT_OK)
    return s;
  if (vc_backup_job_end_stale (&r->d, r->o->rundir) == -1)
    return VC_EXIT_ERROR;
  /* Else this backup could not freeze, and the guest would stay frozen.
   * Should the thaw fail, the backup goes on: its own freeze fails too,
   * and it is labelled crash-consistent.
   */
  vc_freeze_recover (r->d.dom, r->o->rundir, r->o->domain, false, LOG_WARNING);
  if (strcmp (r->o->level, "copy") != 0)
    vc_resume_find (r->outfd, r->o->outdir, &r->manifest, &r->kept_partial, &r->kept);
  vc_backup_dir_remove_stale (r->outfd, r->o->outdir, &r->manifest, &r->d,
                              r->kept_partial);
  return VC_EXIT_OK;
}

/* Resumes the interrupted backup if it can, else starts over and says why. */
static int
choose (struct run *r)
{
  if (r->kept_partial) {
    CLEANUP_FREE char *owned = NULL;
    const char *why = vc_resume_problem (&r->d, &r->kept, r->o->level, &r->manifest,
                                         &r->disks, r->outfd, r->kept_partial,
                                         &r->plan, &owned);
    if (why == NULL) {
      r->resuming = true;
      return VC_EXIT_OK;
    }
    vc_notice ("not resuming the interrupted backup %u of %s, starting over: %s",
               r->kept.id, r->o->domain, why);
    vc_backup_dir_discard (r->outfd, r->o->outdir, r->kept_partial, &r->manifest, &r->d);
    free (r->kept_partial);
    r->kept_partial = NULL;
    vc_resume_clear (&r->kept);
  }
  return vc_backup_choose_level (&r->d, r->o->level,
                                 r->have_manifest ? &r->manifest : NULL,
                                 &r->disks, &r->plan);
}

/* --- the backup's names and its job -------------------------------------- */

static int
name_backup (struct run *r)
{
  const struct vc_backup_plan *p = &r->plan;
  const vc_backup_vector *done = &r->manifest.backups;
  struct vc_backup *b = &r->b;

  if (done->len && done->ptr[done->len - 1].id >= VC_BACKUP_ID_MAX) {
    vc_error ("%s holds backup %u, the highest id: back up into a new directory",
              r->o->outdir, VC_BACKUP_ID_MAX);
    return -1;
  }
  b->id = done->len ? done->ptr[done->len - 1].id + 1 : 1;
  b->level = strdup (p->level);
  if (r->resuming) {
    b->started = r->kept.started;
    b->resumed = r->kept.runs;
  }
  if (strcmp (p->level, "copy") != 0) {
    b->chain = r->resuming ? strdup (r->kept.chain)
      : strcmp (p->level, "full") == 0 ? vc_backup_chain_id ()
      : strdup (p->parent->chain);
    b->checkpoint = b->chain ? vc_backup_checkpoint_name (b->chain, b->id) : NULL;
    if (b->checkpoint == NULL)
      return oom ();
  }
  if (p->since) {
    b->since = strdup (p->since);
    b->parent = p->parent->id;
  }
  b->dir = vc_backup_dir_name (b->id, p->level, b->started);
  r->partial = vc_backup_partial_name (b->id);
  if (b->level == NULL || b->dir == NULL || r->partial == NULL)
    return oom ();
  vc_notice ("backup %u of %s: %s%s%s", b->id, r->o->domain, p->level,
             p->since ? " since " : "", p->since ? p->since : "");
  if (r->resuming)
    vc_notice ("backup %u of %s resumes the backup interrupted at checkpoint %s",
               b->id, r->o->domain, r->kept.checkpoint);
  return 0;
}

/* The offline export: the new checkpoint's bitmap first (it fails when
 * the images are locked, before anything is written to the backup
 * directory), then the export of the images as they are.
 */
static int
start_offline (struct run *r)
{
  const char *checkpoint = r->b.checkpoint;

  if (strcmp (r->b.level, "full") == 0) {
    /* A full starts the stored chain over (vc_offline_record). */
    free (r->off.tip);
    r->off.tip = NULL;
  }
  r->domxml = strdup (r->off.domxml);
  r->b.consistency = strdup (VC_CRASH_CONSISTENT);
  if (r->domxml == NULL || r->b.consistency == NULL)
    return oom ();
  if (vc_backup_job_make_dir (&r->job, &r->info) == -1)
    return -1;
  if (checkpoint) {
    if (vc_offline_add_bitmap (&r->off, checkpoint) == -1)
      return -1;
    r->made_checkpoint = true;
  }
  if (vc_offline_export_start (&r->off, r->job.dir, r->job.socket, r->plan.since,
                               r->o->cancel) == -1) {
    if (r->off.bad_bitmap) {
      /* As 'checkpoints redefine' would find at the next start. */
      CLEANUP_FREE char *why =
        vc_printf ("the bitmap of checkpoint %s is missing or inconsistent in "
                   "the images", r->plan.since);
      r->bad_bitmap = true;
      vc_store_set_broken (r->d.store, r->o->domain, true,
                           why ? why : "a bitmap is missing or inconsistent");
    }
    return -1;
  }
  if (vc_backup_dir_make_partial (r->outfd, r->o->outdir, r->partial, checkpoint) == -1)
    return -1;
  r->made_partial = true;
  return 0;
}

static int
start_job (struct run *r)
{
  const char *checkpoint = r->b.checkpoint;

  if (r->offline)
    return start_offline (r);

  r->domxml = virDomainGetXMLDesc (r->d.dom, 0);
  if (r->domxml == NULL) {
    vc_error ("cannot read the XML of %s: %s", r->o->domain, vc_libvirt_error ());
    return -1;
  }
  if (vc_backup_job_make_dir (&r->job, &r->info) == -1 ||
      (r->resuming
       ? vc_backup_dir_mark_partial (r->outfd, r->o->outdir, r->partial, checkpoint)
       : vc_backup_dir_make_partial (r->outfd, r->o->outdir, r->partial, checkpoint)) == -1 ||
      vc_backup_job_begin (&r->job, &r->info, &r->disks,
                           r->resuming ? r->kept.checkpoint : r->plan.since,
                           checkpoint, r->b.id) == -1)
    return -1;
  r->made_checkpoint = checkpoint != NULL;
  r->b.consistency = strdup (r->job.consistent ? VC_APPLICATION_CONSISTENT
                             : VC_CRASH_CONSISTENT);
  if (r->b.consistency == NULL)
    return oom ();
  if (checkpoint && vc_backup_capture (&r->d) == -1)
    vc_warn ("could not record checkpoint %s in the store yet", checkpoint);
  return 0;
}

/* --- copying the disks --------------------------------------------------- */

static int
map_disks (struct run *r)
{
  uint64_t total = 0;

  r->jobs = calloc (r->disks.len, sizeof *r->jobs);
  if (r->jobs == NULL)
    return oom ();
  vc_rate_init (&r->rate, r->o->max_rate);
  for (size_t i = 0; i < r->disks.len; i++) {
    r->jobs[i].target = r->disks.ptr[i];
    r->jobs[i].rate = &r->rate;
    r->jobs[i].bitmap = r->offline ? r->plan.since : NULL;
    r->jobs[i].full = strcmp (r->b.level, "full") == 0;
    r->jobs[i].resume = r->resuming ? vc_resume_disk (&r->kept, r->disks.ptr[i]) : NULL;
    if (vc_disk_job_map (&r->jobs[i], r->job.socket,
                         r->resuming ? r->kept.checkpoint : r->plan.since,
                         r->o->connections) == -1)
      return -1;
    total += vc_ranges_total (&r->jobs[i].data);
  }
  r->mapped = true;
  vc_progress_start (&r->progress, total, r->o->progress);
  return 0;
}

static int
write_disks (struct run *r, int partfd, const char *dir)
{
  const struct vc_backup *parent = r->plan.parent;

  for (size_t i = 0; i < r->disks.len; i++) {
    CLEANUP_FREE char *backing = NULL;
    struct vc_backup_disk d = { 0 };
    if (parent) {
      const struct vc_backup_disk *pd = vc_backup_disk (parent, r->jobs[i].target);
      backing = vc_printf ("../%s/%s", parent->dir, pd->file);
      if (backing == NULL)
        return oom ();
    }
    if (vc_disk_job_write (&r->jobs[i], r->o, &r->progress, partfd, dir,
                           backing, &d) == -1 ||
        vc_backup_disk_vector_append (&r->b.disks, d) == -1)
      return -1;
  }
  vc_progress_finish (&r->progress);
  return 0;
}

static int
save_text (struct run *r, int partfd, const char *dir, const char *name,
           const char *text)
{
  struct vc_checksum hash;
  struct vc_backup_file f = { .name = strdup (name) };

  if (f.name == NULL || vc_atomic_write (partfd, name, text, strlen (text)) == -1) {
    vc_error ("cannot write %s/%s: %m", dir, name);
    free (f.name);
    return -1;
  }
  if (vc_checksum_init (&hash, r->o->checksum) == -1) {
    free (f.name);
    return -1;
  }
  vc_checksum_update (&hash, text, strlen (text));
  vc_checksum_final (&hash, &f.sum);
  if (vc_backup_file_vector_append (&r->b.files, f) == -1) {
    free (f.name);
    return -1;
  }
  return 0;
}

/* Written once the data is durable: the record of it. */
static int
save_records (struct run *r, int partfd, const char *dir)
{
  CLEANUP_FREE char *cpxml = NULL;

  if (r->b.checkpoint && r->offline) {
    r->offline_cpxml = vc_offline_checkpoint_xml (&r->off, r->b.checkpoint,
                                                  &r->info.disks, r->b.id);
    if (r->offline_cpxml == NULL)
      return -1;
    cpxml = strdup (r->offline_cpxml);
    if (cpxml == NULL)
      return oom ();
  }
  else if (r->b.checkpoint) {
    cpxml = vc_backup_checkpoint_xml (&r->d, r->b.checkpoint);
    if (cpxml == NULL) {
      vc_error ("checkpoint %s vanished during the backup: %s", r->b.checkpoint,
                vc_libvirt_error ());
      return -1;
    }
  }
  if (save_text (r, partfd, dir, "domain.xml", r->domxml) == -1 ||
      (cpxml && save_text (r, partfd, dir, "checkpoint.xml", cpxml) == -1))
    return -1;
  return 0;
}

static int
copy_disks (struct run *r)
{
  CLEANUP_FREE char *dir = vc_printf ("%s/%s", r->o->outdir, r->partial);
  CLEANUP_CLOSE int partfd = -1;

  if (dir == NULL)
    return oom ();
  if (map_disks (r) == -1)
    return -1;
  partfd = openat (r->outfd, r->partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (partfd == -1) {
    vc_error ("cannot open %s: %m", dir);
    return -1;
  }
  if (write_disks (r, partfd, dir) == -1 || save_records (r, partfd, dir) == -1)
    return -1;
  return 0;
}

/* --- commit and after ------------------------------------------------------ */

/* The partial directory and its entry in outdir, durable before the
 * manifest names them.
 */
static int
sync_partial (struct run *r)
{
  CLEANUP_CLOSE int fd =
    openat (r->outfd, r->partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd == -1 || fsync (fd) == -1 || fsync (r->outfd) == -1) {
    vc_error ("cannot sync %s/%s: %m", r->o->outdir, r->partial);
    return -1;
  }
  return 0;
}

/* The manifest is the commit record: the backup exists once it lists it.
 * The rename comes after: a run stopped in between leaves a .partial-ID
 * that the manifest lists, and the next run finishes the rename
 * (vc_backup_dir_remove_stale).  So no directory but a .partial-* is ever
 * a leftover.
 */
static int
commit (struct run *r)
{
  struct timespec t1;

  vc_disk_jobs_close (r->jobs, r->disks.len);
  vc_backup_job_end (&r->job);
  if (r->resuming && vc_resume_remove_kept (r->outfd, r->o->outdir, r->partial,
                                            &r->disks) == -1)
    return -1;
  if (sync_partial (r) == -1)
    return -1;
  clock_gettime (CLOCK_MONOTONIC, &t1);
  r->b.finished = time (NULL);
  r->b.seconds = (t1.tv_sec - r->t0.tv_sec) + (t1.tv_nsec - r->t0.tv_nsec) / 1e9;
  if (vc_backup_vector_append (&r->manifest.backups, r->b) == -1)
    return oom ();
  if (vc_manifest_save (r->outfd, r->o->outdir, &r->manifest) == -1) {
    r->manifest.backups.len--;   /* r->b is still ours to free */
    return -1;
  }
  r->committed = true;
  r->made_checkpoint = false;
  if (renameat (r->outfd, r->partial, r->outfd, r->b.dir) == -1 || fsync (r->outfd) == -1)
    vc_warn ("backup %u is committed, but %s/%s could not be renamed to %s (%m): "
             "the next backup into %s renames it", r->b.id, r->o->outdir,
             r->partial, r->b.dir, r->o->outdir);
  free (r->partial);
  r->partial = NULL;
  return 0;
}

static void
report (const struct vc_backup *done, const char *domain, bool offline)
{
  uint64_t read = 0, written = 0, size = 0, reused = 0;

  for (size_t i = 0; i < done->disks.len; i++) {
    reused += done->disks.ptr[i].bytes_reused;
    read += done->disks.ptr[i].bytes_read;
    written += done->disks.ptr[i].file_size;
    size += done->disks.ptr[i].virtual_size;
  }
  vc_notice ("backup %u (%s) of %s done: read %.1f MiB, wrote %.1f MiB, "
             "skipped %.1f MiB, %.2f s, %.1f MiB/s", done->id, done->level,
             domain, read / 1048576.0, written / 1048576.0,
             (size > read ? size - read : 0) / 1048576.0, done->seconds,
             done->seconds > 0 ? read / 1048576.0 / done->seconds : 0.0);
  if (done->resumed)
    vc_notice ("backup %u of %s resumed %u interrupted run%s: %.1f MiB of its data "
               "were reused, the read above counts every run", done->id, domain,
               done->resumed, done->resumed > 1 ? "s" : "", reused / 1048576.0);
  if (offline)
    vc_notice ("backup %u of %s was read offline: it is labelled crash-consistent, "
               "as consistent as the guest's last stop", done->id, domain);
  else if (strcmp (done->consistency, VC_APPLICATION_CONSISTENT) == 0)
    vc_notice ("backup %u of %s is application-consistent: the guest's "
               "filesystems were frozen", done->id, domain);
  else
    vc_notice ("backup %u of %s is crash-consistent: the guest's filesystems "
               "were not frozen", done->id, domain);
}

/* A domain libvirt defines but does not run keeps its checkpoints in
 * libvirt: they follow the store's chain (metadata only, the bitmaps are
 * in the images already).
 */
static void
offline_sync_libvirt (struct run *r, const char *checkpoint, bool full)
{
  virDomainCheckpointPtr cp;

  if (r->d.dom == NULL)
    return;
  if (full) {
    virDomainCheckpointPtr *cps = NULL;
    int n = virDomainListAllCheckpoints (r->d.dom, &cps, 0);
    for (int i = 0; i < n; i++) {
      if (strncmp (virDomainCheckpointGetName (cps[i]), "virtckpt.", 9) == 0 &&
          virDomainCheckpointDelete (cps[i],
                                     VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY) == -1)
        vc_warn ("cannot remove checkpoint %s from libvirt: %s",
                 virDomainCheckpointGetName (cps[i]), vc_libvirt_error ());
      virDomainCheckpointFree (cps[i]);
    }
    free (cps);
  }
  cp = virDomainCheckpointCreateXML (r->d.dom, r->offline_cpxml,
                                     VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE);
  if (cp == NULL)
    vc_warn ("cannot define checkpoint %s in libvirt: %s; 'checkpoints redefine' "
             "at the next start does", checkpoint, vc_libvirt_error ());
  else
    virDomainCheckpointFree (cp);
}

/* The checkpoint made offline goes into the store, where the next start
 * of the domain finds it ('checkpoints redefine'), before the export lets
 * go of the images: a start cannot come in between and miss it.
 */
static void
after_offline_commit (struct run *r, const struct vc_backup *done, bool full)
{
  if (done->checkpoint) {
    if (vc_offline_record (&r->off, r->d.store, r->offline_cpxml, full) == -1)
      vc_warn ("backup %u is complete, but its checkpoint is not in the store: "
               "the next automatic backup is full", done->id);
    else if (full)
      vc_store_set_broken (r->d.store, r->o->domain, false, NULL);
    offline_sync_libvirt (r, done->checkpoint, full);
  }
  vc_offline_export_stop (&r->off);
  report (done, r->o->domain, true);
  if (r->o->done_id)
    *r->o->done_id = done->id;
}

/* Housekeeping that cannot lose a backup. */
static void
after_commit (struct run *r)
{
  const struct vc_backup *done = &r->manifest.backups.ptr[r->manifest.backups.len - 1];
  bool full = strcmp (done->level, "full") == 0;

  if (r->offline) {
    after_offline_commit (r, done, full);
    return;
  }
  if (full)
    vc_backup_delete_older_checkpoints (&r->d, done->checkpoint);
  /* The new checkpoint's bitmap covers what the guest writes from now on;
   * the parent's, everything since the parent.
   */
  if (r->resuming && vc_backup_delete_checkpoint (&r->d, r->kept.checkpoint) == 0)
    vc_info ("removed checkpoint %s of the interrupted backup", r->kept.checkpoint);
  if (done->checkpoint) {
    struct vc_capture_result res;
    /* Its checkpoint and its outcome: one update of the document. */
    if (vc_capture_recording (r->d.conn, r->d.store, r->d.name, true, 0,
                              r->outcome, &res) == 0) {
      vc_last_backup_free (r->outcome);
      r->outcome = NULL;
    }
    else
      vc_warn ("backup %u is complete, but its checkpoint is not in the store yet",
               done->id);
    if (full)
      vc_store_set_broken (r->d.store, r->o->domain, false, NULL);
  }
  report (done, r->o->domain, false);
  if (r->o->done_id)
    *r->o->done_id = done->id;
}

/* A backup stopped by a cancel or a signal it handles keeps what it
 * copied, its checkpoint and a progress record, for the next backup to
 * resume (backup/resume.h).  Not a copy (no checkpoint to resume from),
 * nor one stopped before it knew what to copy.  0 when kept.
 */
static int
keep (struct run *r)
{
  if (!(r->o->cancel && *r->o->cancel) || !r->mapped || !r->made_checkpoint ||
      r->partial == NULL || virDomainIsActive (r->d.dom) != 1)
    return -1;
  return vc_resume_keep (&r->d, r->outfd, r->o->outdir, r->partial, &r->b,
                         r->resuming ? &r->kept : NULL, r->jobs, r->disks.len);
}

/* Undoes an uncommitted backup: the data is gone, and the checkpoint it
 * made must not be mistaken for the base of the next incremental.
 */
static void
roll_back (struct run *r)
{
  vc_disk_jobs_close (r->jobs, r->disks.len);
  vc_progress_finish (&r->progress);
  vc_backup_job_end (&r->job);
  if (r->offline) {
    /* The bitmap goes once the daemon has let go of the images. */
    vc_offline_export_stop (&r->off);
    if (r->made_partial && vc_remove_flat_dir (r->outfd, r->partial) == -1)
      vc_warn ("cannot remove %s/%s: %m", r->o->outdir, r->partial);
    if (r->made_checkpoint)
      vc_offline_remove_bitmap (&r->off, r->b.checkpoint);
    return;
  }
  if (keep (r) == 0)
    return;
  if (r->resuming && virDomainIsActive (r->d.dom) == 1) {
    /* Put back what it resumed, else it is gone with it. */
    if (r->made_checkpoint && vc_backup_delete_checkpoint (&r->d, r->b.checkpoint) == 0)
      r->made_checkpoint = false;
    if (!r->made_checkpoint &&
        vc_resume_restore (r->outfd, r->o->outdir, r->partial, &r->kept) == 0) {
      vc_backup_capture (&r->d);
      return;
    }
    vc_backup_delete_checkpoint (&r->d, r->kept.checkpoint);
  }
  if (r->partial && vc_remove_flat_dir (r->outfd, r->partial) == -1)
    vc_warn ("cannot remove %s/%s: %m", r->o->outdir, r->partial);
  if (!r->made_checkpoint)
    return;
  if (virDomainIsActive (r->d.dom) == 1 &&
      vc_backup_delete_checkpoint (&r->d, r->b.checkpoint) == 0) {
    vc_info ("removed checkpoint %s of the failed backup", r->b.checkpoint);
    vc_backup_capture (&r->d);
  }
  else {
    vc_warn ("checkpoint %s of the failed backup could not be removed: "
             "the chain is marked broken, the next automatic backup is full",
             r->b.checkpoint);
    vc_store_set_broken (r->d.store, r->o->domain, true,
                         "a backup failed and its checkpoint could not be removed");
  }
}

/* --- the record of the outcome ------------------------------------------------ */

static uint64_t
bytes_written (const struct vc_backup *b)
{
  uint64_t n = 0;

  for (size_t i = 0; i < b->disks.len; i++)
    n += b->disks.ptr[i].file_size;
  return n;
}

/* The outcome of the run (ret) for the store; NULL when out of memory. */
static struct vc_last_backup *
outcome (struct run *r, int ret, char *error)
{
  const struct vc_backup *b = r->committed
    ? &r->manifest.backups.ptr[r->manifest.backups.len - 1] : &r->b;
  struct vc_last_backup *lb = calloc (1, sizeof *lb);
  char host[256] = "";
  struct timespec t1;

  if (lb == NULL) {
    free (error);
    return NULL;
  }
  clock_gettime (CLOCK_MONOTONIC, &t1);
  lb->time = time (NULL);
  lb->result = ret == VC_EXIT_OK ? VC_RESULT_OK
    : r->o->cancel && *r->o->cancel ? VC_RESULT_INTERRUPTED : VC_RESULT_FAILED;
  lb->id = b->id;
  lb->seconds = (t1.tv_sec - r->t0.tv_sec) + (t1.tv_nsec - r->t0.tv_nsec) / 1e9;
  lb->bytes = bytes_written (b);
  if (ret != VC_EXIT_OK)
    lb->error = error ? error
      : vc_printf (lb->result == VC_RESULT_INTERRUPTED ? "interrupted"
                   : "failed (exit status %d)", ret);
  else
    free (error);
  gethostname (host, sizeof host - 1);
  lb->dir = realpath (r->o->outdir, NULL);
  if ((b->level && (lb->level = strdup (b->level)) == NULL) ||
      (*host && (lb->node = strdup (host)) == NULL) ||
      (lb->dir == NULL && (lb->dir = strdup (r->o->outdir)) == NULL) ||
      (ret != VC_EXIT_OK && lb->error == NULL)) {
    vc_last_backup_free (lb);
    return NULL;
  }
  return lb;
}

/* Best effort: the backup's own status stays what it is. */
static void
record_outcome (struct run *r)
{
  if (r->outcome == NULL)
    return;
  if (vc_store_record_backup (r->d.store, r->o->domain, r->outcome) == -1)
    vc_warn ("the outcome of this backup of %s could not be recorded in the "
             "store", r->o->domain);
}

static int
run_once (virConnectPtr conn, struct vc_store *store,
          const struct vc_backup_options *o, bool *bad_bitmap)
{
  CLEANUP_RUN struct run r = {
    .o = o, .d = { .conn = conn, .store = store, .name = o->domain },
    .outfd = -1, .lockfd = -1, .runlockfd = -1,
    .job = { .d = &r.d, .rundir = o->rundir, .cancel = o->cancel },
  };
  int ret;

  clock_gettime (CLOCK_MONOTONIC, &r.t0);
  r.b.started = time (NULL);
  vc_first_error_begin ();
  ret = prepare (&r);
  if (ret == VC_EXIT_OK)
    ret = choose (&r);
  if (ret == VC_EXIT_OK &&
      (name_backup (&r) == -1 || start_job (&r) == -1 ||
       copy_disks (&r) == -1 || commit (&r) == -1))
    ret = VC_EXIT_ERROR;
  /* Recorded for a domain libvirt knows, unless another backup of it
   * runs (that one records its own).
   */
  if (r.d.dom && !r.busy) {
    r.outcome = outcome (&r, ret, vc_first_error_end ());
    if (r.outcome == NULL)
      vc_warn ("out of memory: the outcome of this backup is not recorded");
  }
  else
    free (vc_first_error_end ());
  if (ret == VC_EXIT_OK)
    after_commit (&r);
  else
    roll_back (&r);
  /* Left when no capture recorded it. */
  record_outcome (&r);
  *bad_bitmap = r.bad_bitmap;
  return ret;
}

int
vc_backup_run (virConnectPtr conn, struct vc_store *store,
               const struct vc_backup_options *o)
{
  bool bad_bitmap = false;
  int ret = run_once (conn, store, o, &bad_bitmap);

  if (!bad_bitmap)
    return ret;
  /* Offline, the bitmaps are seen only once the export opens the images;
   * the chain is now marked broken, so auto chooses a full this time.
   */
  if (strcmp (o->level, "auto") != 0 || (o->cancel && *o->cancel)) {
    vc_error ("the checkpoint chain of %s is marked broken: the next backup "
              "must be full", o->domain);
    return VC_EXIT_CHAIN_BROKEN;
  }
  return run_once (conn, store, o, &bad_bitmap);
}
