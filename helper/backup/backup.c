#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <libvirt/virterror.h>

#include "common/atomic-file.h"
#include "backup/backup.h"
#include "backup/backup-guard.h"
#include "libvirt/checkpoints.h"
#include "common/cleanup.h"
#include "backup/copy.h"
#include "libvirt/domain-info.h"
#include "common/exit-codes.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "backup/manifest.h"
#include "store/name-map.h"
#include "backup/nbd-source.h"
#include "common/progress.h"
#include "backup/qcow2-plan.h"
#include "common/vc-strings.h"

#define CHECKPOINT_PREFIX "virtckpt."
#define PARTIAL_PREFIX ".partial-"
/* In a backup's directory from before its job starts: the checkpoint the
 * job creates, so that whoever cleans up after a killed run knows which
 * checkpoint is its own (and never touches another directory's).
 */
#define CHECKPOINT_MARKER ".checkpoint"

/* Everything one run holds, so that every exit path can undo it. */
struct run {
  const struct vc_backup_options *o;
  virConnectPtr conn;
  virDomainPtr dom;
  struct vc_store *store;
  int outfd, lockfd, runlockfd;
  char *jobdir;                 /* NBD socket and scratch files */
  bool job_started;
  char *new_checkpoint;         /* created by this run, not yet committed */
  char *partial;                /* .partial-ID under outdir */
  struct vc_manifest manifest;
  bool have_manifest;
  struct vc_domain_info info;
  string_vector disks;          /* selected disk targets */
  struct vc_progress progress;
};

/* --- small helpers ------------------------------------------------------ */

/* Removes dir/name and the plain files in it. */
static int
remove_flat_dir (int dirfd, const char *name)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *d;
  struct dirent *e;

  if (fd == -1)
    return errno == ENOENT ? 0 : -1;
  d = fdopendir (fd);
  if (d == NULL) {
    close (fd);
    return -1;
  }
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      unlinkat (fd, e->d_name, 0);
  closedir (d);
  if (unlinkat (dirfd, name, AT_REMOVEDIR) == -1)
    return -1;
  return fsync (dirfd);
}

static bool
in_list (const string_vector *v, const char *s)
{
  for (size_t i = 0; i < v->len; i++)
    if (strcmp (v->ptr[i], s) == 0)
      return true;
  return false;
}

static int
take_lock (int dirfd, const char *name, const char *busy_msg)
{
  int fd = openat (dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd == -1) {
    vc_error ("cannot create lock file %s: %m", name);
    return -1;
  }
  if (flock (fd, LOCK_EX | LOCK_NB) == -1) {
    if (errno == EWOULDBLOCK)
      vc_error ("%s", busy_msg);
    else
      vc_error ("cannot lock %s: %m", name);
    close (fd);
    return -1;
  }
  return fd;
}

/* --- checkpoints --------------------------------------------------------- */

static bool
has_checkpoint (virDomainPtr dom, const char *name)
{
  virDomainCheckpointPtr cp = virDomainCheckpointLookupByName (dom, name, 0);
  if (cp == NULL)
    return false;
  virDomainCheckpointFree (cp);
  return true;
}

static int
delete_checkpoint (virDomainPtr dom, const char *name)
{
  virDomainCheckpointPtr cp = virDomainCheckpointLookupByName (dom, name, 0);
  int r;

  if (cp == NULL)
    return vc_libvirt_error_code () == VIR_ERR_NO_DOMAIN_CHECKPOINT ? 0 : -1;
  r = virDomainCheckpointDelete (cp, 0);
  if (r == -1)
    vc_warn ("cannot delete checkpoint %s: %s", name, vc_libvirt_error ());
  virDomainCheckpointFree (cp);
  return r;
}

/* Records libvirt's chain in the store.  force: this run knows that the
 * stored chain is superseded (a full backup, or a chain found broken).
 */
static int
capture (struct run *r)
{
  struct vc_capture_result res;
  return vc_capture (r->conn, r->store, r->o->domain, true, 0, &res);
}

/* --- choosing the level --------------------------------------------------- */

struct plan {
  char level[8];
  const struct vc_backup *parent;   /* images are overlays of its images */
  const char *since;                /* checkpoint the backup is relative to */
};

static bool
same_disks (const struct vc_backup *b, const string_vector *disks)
{
  if (b->disks.len != disks->len)
    return false;
  for (size_t i = 0; i < disks->len; i++)
    if (vc_backup_disk (b, disks->ptr[i]) == NULL)
      return false;
  return true;
}

/* Why the chain cannot carry an incremental, or NULL when it can.
 * Redefines the stored chain first if libvirt lacks its tip (the domain
 * was re-created or moved here).
 */
static const char *
chain_problem (struct run *r, const struct vc_backup *tip, char **owned)
{
  struct vc_chain chain;
  int s;

  if (tip == NULL)
    return "no backup chain in this directory yet";
  if (!same_disks (tip, &r->disks))
    return "the set of disks changed";
  s = vc_store_load (r->store, r->o->domain, &chain);
  if (s == -1)
    return "the stored checkpoint chain is unreadable";
  if (s == 0) {
    bool broken = chain.broken;
    if (broken)
      *owned = vc_printf ("the checkpoint chain is broken (%s)", chain.broken_reason);
    vc_chain_clear (&chain);
    if (broken)
      return *owned ? *owned : "the checkpoint chain is broken";
  }
  if (!has_checkpoint (r->dom, tip->checkpoint)) {
    struct vc_redefine_result res;
    vc_info ("libvirt lacks checkpoint %s: redefining the stored chain",
             tip->checkpoint);
    int rr = vc_redefine (r->conn, r->store, r->o->domain, &res);
    if (rr == VC_EXIT_CHAIN_BROKEN)
      return "the checkpoint chain is broken (bitmaps missing)";
    if (rr != VC_EXIT_OK || !has_checkpoint (r->dom, tip->checkpoint)) {
      *owned = vc_printf ("checkpoint %s is neither in libvirt nor redefinable",
                          tip->checkpoint);
      return *owned ? *owned : "the last checkpoint is gone";
    }
  }
  return NULL;
}

static int
choose_level (struct run *r, struct plan *p)
{
  const char *want = r->o->level;
  const struct vc_backup *tip = r->have_manifest ? vc_manifest_tip (&r->manifest) : NULL;
  CLEANUP_FREE char *owned = NULL;
  const char *problem;

  memset (p, 0, sizeof *p);
  if (strcmp (want, "full") == 0 || strcmp (want, "copy") == 0) {
    snprintf (p->level, sizeof p->level, "%s", want);
    return VC_EXIT_OK;
  }
  problem = chain_problem (r, tip, &owned);
  if (problem) {
    if (strcmp (want, "auto") == 0) {
      vc_notice ("full backup: %s", problem);
      snprintf (p->level, sizeof p->level, "full");
      return VC_EXIT_OK;
    }
    vc_error ("cannot make a%s %s backup of %s: %s; a full backup is needed",
              strcmp (want, "inc") == 0 ? "n" : "", want, r->o->domain, problem);
    return VC_EXIT_CHAIN_BROKEN;
  }
  if (strcmp (want, "diff") == 0) {
    const struct vc_backup *full = NULL;
    for (size_t i = 0; i < r->manifest.backups.len; i++) {
      const struct vc_backup *b = &r->manifest.backups.ptr[i];
      if (vc_streq (b->chain, tip->chain) && strcmp (b->level, "full") == 0)
        full = b;
    }
    if (full == NULL || !has_checkpoint (r->dom, full->checkpoint)) {
      vc_error ("cannot make a diff backup of %s: the chain's full backup or "
                "its checkpoint is gone; a full backup is needed", r->o->domain);
      return VC_EXIT_CHAIN_BROKEN;
    }
    snprintf (p->level, sizeof p->level, "diff");
    p->parent = full;
    p->since = full->checkpoint;
    return VC_EXIT_OK;
  }
  snprintf (p->level, sizeof p->level, "inc");
  p->parent = tip;
  p->since = tip->checkpoint;
  return VC_EXIT_OK;
}

/* --- stale state of an interrupted run --------------------------------- */

static bool
backup_dir_name (const char *s)
{
  unsigned id;
  char level[8];
  return sscanf (s, "%4u-%7[a-z]-", &id, level) == 2 &&
    (!strcmp (level, "full") || !strcmp (level, "inc") ||
     !strcmp (level, "diff") || !strcmp (level, "copy"));
}

static void
remove_stale_dirs (struct run *r)
{
  DIR *d = vc_opendir_at (r->outfd);
  struct dirent *e;
  string_vector stale = empty_vector;

  if (d == NULL)
    return;
  while ((e = readdir (d)) != NULL) {
    bool ours = strncmp (e->d_name, PARTIAL_PREFIX, strlen (PARTIAL_PREFIX)) == 0;
    if (!ours && backup_dir_name (e->d_name)) {
      ours = true;
      for (size_t i = 0; ours && i < r->manifest.backups.len; i++)
        if (strcmp (r->manifest.backups.ptr[i].dir, e->d_name) == 0)
          ours = false;
    }
    if (ours) {
      char *s = strdup (e->d_name);
      if (s && string_vector_append (&stale, s) == -1)
        free (s);
    }
  }
  closedir (d);
  for (size_t i = 0; i < stale.len; i++) {
    CLEANUP_FREE char *marker = vc_printf ("%s/" CHECKPOINT_MARKER, stale.ptr[i]);
    CLEANUP_FREE char *name = NULL;
    size_t len;
    if (marker && vc_read_file (r->outfd, marker, 1024, &name, &len) == 0 &&
        len > 0 && has_checkpoint (r->dom, name)) {
      vc_warn ("removing checkpoint %s, left by an interrupted backup", name);
      if (delete_checkpoint (r->dom, name) == 0)
        capture (r);
    }
    vc_warn ("removing %s/%s, left by an interrupted backup", r->o->outdir,
             stale.ptr[i]);
    if (remove_flat_dir (r->outfd, stale.ptr[i]) == -1)
      vc_warn ("cannot remove %s/%s: %m", r->o->outdir, stale.ptr[i]);
  }
  vc_string_vector_free (&stale);
}

/* A pull-mode job outlives a virtckpt killed with SIGKILL: the next run,
 * holding the run lock, ends it if it is ours.
 */
static int
abort_stale_job (struct run *r)
{
  int s = vc_backup_end_stale_job (r->dom, r->o->rundir, r->o->domain);

  if (s == 1)
    vc_error ("domain %s has a backup job that virtckpt did not start: "
              "wait for it or end it (virsh domjobabort)", r->o->domain);
  return s == 0 ? 0 : -1;
}

/* --- the libvirt job ----------------------------------------------------- */

static char *
backup_xml (struct run *r, const char *since, const char *socket)
{
  CLEANUP_FREE char *disks = strdup ("");

  for (size_t i = 0; disks && i < r->info.disks.len; i++) {
    const char *t = r->info.disks.ptr[i];
    char *more;
    if (in_list (&r->disks, t))
      more = vc_printf ("%s    <disk name='%s' backup='yes' type='file'>\n"
                        "      <scratch file='%s/scratch-%s.qcow2'/>\n"
                        "    </disk>\n", disks, t, r->jobdir, t);
    else
      more = vc_printf ("%s    <disk name='%s' backup='no'/>\n", disks, t);
    free (disks);
    disks = more;
  }
  if (disks == NULL)
    return NULL;
  return vc_printf ("<domainbackup mode='pull'>\n%s%s%s"
                    "  <server transport='unix' socket='%s'/>\n"
                    "  <disks>\n%s  </disks>\n</domainbackup>\n",
                    since ? "  <incremental>" : "", since ? since : "",
                    since ? "</incremental>\n" : "", socket, disks);
}

static char *
checkpoint_xml (struct run *r, const char *name, unsigned id)
{
  CLEANUP_FREE char *disks = strdup ("");

  for (size_t i = 0; disks && i < r->info.disks.len; i++) {
    const char *t = r->info.disks.ptr[i];
    char *more = vc_printf ("%s    <disk name='%s' checkpoint='%s'/>\n", disks, t,
                            in_list (&r->disks, t) ? "bitmap" : "no");
    free (disks);
    disks = more;
  }
  if (disks == NULL)
    return NULL;
  return vc_printf ("<domaincheckpoint>\n  <name>%s</name>\n"
                    "  <description>virtckpt backup %u</description>\n"
                    "  <disks>\n%s  </disks>\n</domaincheckpoint>\n",
                    name, id, disks);
}

static void
freeze (struct run *r, bool *frozen)
{
  *frozen = false;
  if (!r->info.has_agent) {
    vc_warn ("%s has no guest agent: the backup is crash-consistent, "
             "not application-consistent", r->o->domain);
    return;
  }
  if (virDomainFSFreeze (r->dom, NULL, 0, 0) < 0)
    vc_warn ("cannot freeze the filesystems of %s (%s): the backup is "
             "crash-consistent", r->o->domain, vc_libvirt_error ());
  else
    *frozen = true;
}

static void
thaw (struct run *r, bool *frozen)
{
  if (*frozen && virDomainFSThaw (r->dom, NULL, 0, 0) < 0)
    vc_error ("cannot thaw the filesystems of %s: %s", r->o->domain,
              vc_libvirt_error ());
  *frozen = false;
}

static int
start_job (struct run *r, const struct plan *p, const char *checkpoint,
           unsigned id, const char *socket)
{
  CLEANUP_FREE char *bxml = backup_xml (r, p->since, socket);
  CLEANUP_FREE char *cxml = checkpoint ? checkpoint_xml (r, checkpoint, id) : NULL;
  bool frozen;
  int ret;

  if (bxml == NULL || (checkpoint && cxml == NULL)) {
    vc_error ("out of memory");
    return -1;
  }
  vc_debug ("backup XML:\n%s", bxml);
  freeze (r, &frozen);
  ret = virDomainBackupBegin (r->dom, bxml, cxml, 0);
  thaw (r, &frozen);
  if (ret == -1) {
    vc_error ("cannot start the backup job of %s: %s", r->o->domain,
              vc_libvirt_error ());
    return -1;
  }
  r->job_started = true;
  if (checkpoint)
    r->new_checkpoint = strdup (checkpoint);
  return 0;
}

static void
end_job (struct run *r)
{
  if (!r->job_started)
    return;
  if (virDomainAbortJob (r->dom) == -1 &&
      vc_libvirt_error_code () != VIR_ERR_OPERATION_INVALID)
    vc_warn ("cannot end the backup job of %s: %s", r->o->domain,
             vc_libvirt_error ());
  r->job_started = false;
}

/* --- one disk -------------------------------------------------------------- */

struct sink {
  int fd;
  uint64_t pos;
  struct vc_checksum *hash;
};

static int
sink_emit (void *opaque, const void *buf, size_t len)
{
  struct sink *s = opaque;
  for (size_t done = 0; done < len; ) {
    ssize_t n = pwrite (s->fd, (const char *) buf + done, len - done, s->pos + done);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    done += n;
  }
  vc_checksum_update (s->hash, buf, len);
  s->pos += len;
  return 0;
}

static void
progress_cb (void *opaque, uint64_t bytes)
{
  vc_progress_add (opaque, bytes);
}

struct disk_job {
  const char *target;
  struct vc_nbd_source src;
  vc_range_vector data, zero;
};

static int
map_disk (struct run *r, struct disk_job *j, const char *socket, const char *since)
{
  CLEANUP_FREE char *context = since ? vc_printf ("qemu:dirty-bitmap:backup-%s", j->target) : NULL;
  vc_range_vector nonzero = empty_vector, dirty = empty_vector;
  int ret = -1;

  if (vc_nbd_open (&j->src, socket, j->target, context, r->o->connections) == -1 ||
      vc_nbd_map (&j->src, &nonzero, since ? &dirty : NULL) == -1)
    goto out;
  uint64_t limit = (j->src.size + VC_QCOW2_CLUSTER_SIZE - 1) & ~(VC_QCOW2_CLUSTER_SIZE - 1);
  vc_ranges_align (&nonzero, VC_QCOW2_CLUSTER_SIZE, limit);
  if (since) {
    vc_ranges_align (&dirty, VC_QCOW2_CLUSTER_SIZE, limit);
    /* Dirty clusters with data are copied; dirty clusters that now read as
     * zeroes (zeroed or discarded since) are marked zero in the overlay.
     */
    if (vc_ranges_intersect (&dirty, &nonzero, &j->data) == -1 ||
        vc_ranges_subtract (&dirty, &j->data, &j->zero) == -1)
      goto oom;
  }
  else {
    /* A standalone image reads zeroes wherever nothing is allocated. */
    for (size_t i = 0; i < nonzero.len; i++)
      if (vc_range_vector_append (&j->data, nonzero.ptr[i]) == -1)
        goto oom;
  }
  ret = 0;
  goto out;
 oom:
  vc_error ("out of memory");
 out:
  vc_range_vector_reset (&nonzero);
  vc_range_vector_reset (&dirty);
  return ret;
}

static int
write_disk (struct run *r, struct disk_job *j, int partfd, const char *backing,
            struct vc_backup_disk *out)
{
  struct vc_qcow2_plan plan = {
    .virtual_size = j->src.size, .data = &j->data, .zero = &j->zero,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  struct vc_checksum hash = { 0 };
  CLEANUP_FREE char *file = vc_printf ("%s.qcow2", j->target);
  int fd = -1;

  if (file == NULL || vc_qcow2_plan_layout (&plan) == -1) {
    vc_error ("cannot lay out the image of %s: %m", j->target);
    return -1;
  }
  fd = openat (partfd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) {
    vc_error ("cannot create %s/%s/%s: %m", r->o->outdir, r->partial, file);
    return -1;
  }
  if (vc_checksum_init (&hash, r->o->checksum) == -1) {
    vc_error ("out of memory");
    goto fail;
  }
  struct sink sink = { fd, 0, &hash };
  if (vc_qcow2_plan_emit_metadata (&plan, sink_emit, &sink) == -1) {
    vc_error ("cannot write %s/%s/%s: %m", r->o->outdir, r->partial, file);
    goto fail;
  }
  struct vc_copy c = {
    .src = &j->src, .data = &j->data, .fd = fd, .data_offset = plan.data_offset,
    .hash = &hash, .cancel = r->o->cancel,
    .progress = progress_cb, .progress_opaque = &r->progress,
    .request_size = r->o->request_size, .max_in_flight = r->o->max_in_flight,
  };
  if (vc_copy_run (&c) == -1)
    goto fail;
  if (fdatasync (fd) == -1 || close (fd) == -1) {
    fd = -1;
    vc_error ("cannot write %s/%s/%s: %m", r->o->outdir, r->partial, file);
    goto fail;
  }
  fd = -1;

  out->name = strdup (j->target);
  out->file = file;
  file = NULL;
  out->backing = backing ? strdup (backing) : NULL;
  out->virtual_size = j->src.size;
  out->bytes_read = c.bytes_read;
  out->bytes_zeroed = vc_ranges_total (&j->zero);
  out->file_size = plan.file_size;
  vc_checksum_final (&hash, &out->sum);
  return 0;

 fail:
  vc_checksum_abort (&hash);
  if (fd >= 0)
    close (fd);
  return -1;
}

static int
save_text (struct run *r, int partfd, const char *name, const char *text,
           struct vc_backup *b)
{
  struct vc_checksum hash;
  struct vc_backup_file f = { .name = strdup (name) };

  if (f.name == NULL || vc_atomic_write (partfd, name, text, strlen (text)) == -1) {
    vc_error ("cannot write %s/%s/%s: %m", r->o->outdir, r->partial, name);
    free (f.name);
    return -1;
  }
  if (vc_checksum_init (&hash, r->o->checksum) == -1) {
    free (f.name);
    return -1;
  }
  vc_checksum_update (&hash, text, strlen (text));
  vc_checksum_final (&hash, &f.sum);
  if (vc_backup_file_vector_append (&b->files, f) == -1) {
    free (f.name);
    return -1;
  }
  return 0;
}

/* NBD connections go before the job ends: QEMU cannot tear down an
 * export while it waits to send replies nobody reads, and libvirt then
 * holds the domain's job lock for its 30 s timeout.
 */
static void
close_sources (struct disk_job *jobs, size_t n)
{
  for (size_t i = 0; jobs && i < n; i++)
    vc_nbd_close (&jobs[i].src);
}

/* --- the run ------------------------------------------------------------- */

static int
select_disks (struct run *r)
{
  for (size_t i = 0; i < r->o->include.len; i++)
    if (!in_list (&r->info.disks, r->o->include.ptr[i])) {
      vc_error ("domain %s has no disk '%s'", r->o->domain, r->o->include.ptr[i]);
      return VC_EXIT_USAGE;
    }
  for (size_t i = 0; i < r->o->exclude.len; i++)
    if (!in_list (&r->info.disks, r->o->exclude.ptr[i])) {
      vc_error ("domain %s has no disk '%s'", r->o->domain, r->o->exclude.ptr[i]);
      return VC_EXIT_USAGE;
    }
  for (size_t i = 0; i < r->info.disks.len; i++) {
    const char *t = r->info.disks.ptr[i];
    if ((r->o->include.len && !in_list (&r->o->include, t)) ||
        in_list (&r->o->exclude, t))
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

static char *
new_chain_id (void)
{
  char stamp[32];
  time_t now = time (NULL);
  struct tm tm;
  unsigned short rnd = 0;

  gmtime_r (&now, &tm);
  strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  if (getrandom (&rnd, sizeof rnd, 0) != sizeof rnd)
    rnd = getpid ();
  return vc_printf ("%s-%04x", stamp, rnd);
}

static int
prepare (struct run *r)
{
  CLEANUP_FREE char *xml = NULL, *err = NULL;
  CLEANUP_FREE char *busy = NULL;

  r->dom = vc_libvirt_domain (r->conn, r->o->domain);
  if (r->dom == NULL)
    return VC_EXIT_ERROR;
  if (virDomainIsActive (r->dom) != 1) {
    vc_error ("domain '%s' is not running: pull-mode backups need a running "
              "domain", r->o->domain);
    return VC_EXIT_ERROR;
  }

  if (vc_mkdir_parents (r->o->outdir, 0700) == -1 ||
      (r->outfd = open (r->o->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
    vc_error ("cannot open backup directory %s: %m", r->o->outdir);
    return VC_EXIT_ERROR;
  }
  busy = vc_printf ("another virtckpt is writing to %s", r->o->outdir);
  r->lockfd = take_lock (r->outfd, ".lock", busy ? busy : "busy");
  if (r->lockfd == -1)
    return VC_EXIT_ERROR;

  /* One backup per domain at a time, whatever the directory. */
  r->runlockfd = vc_backup_guard_take (r->o->rundir, r->o->domain);
  if (r->runlockfd == -1)
    return VC_EXIT_ERROR;

  switch (vc_manifest_load (r->outfd, r->o->outdir, &r->manifest)) {
  case 0:
    r->have_manifest = true;
    if (strcmp (r->manifest.domain, r->o->domain) != 0) {
      vc_error ("%s holds backups of domain '%s', not '%s'", r->o->outdir,
                r->manifest.domain, r->o->domain);
      return VC_EXIT_ERROR;
    }
    break;
  case 1:
    r->manifest.domain = strdup (r->o->domain);
    break;
  default:
    return VC_EXIT_ERROR;
  }

  xml = virDomainGetXMLDesc (r->dom, 0);
  if (xml == NULL) {
    vc_error ("cannot read the XML of %s: %s", r->o->domain, vc_libvirt_error ());
    return VC_EXIT_ERROR;
  }
  if (vc_domain_info_parse (xml, &r->info, &err) == -1) {
    vc_error ("cannot understand the XML of %s: %s", r->o->domain, err);
    return VC_EXIT_ERROR;
  }
  int s = select_disks (r);
  if (s != VC_EXIT_OK)
    return s;

  if (abort_stale_job (r) == -1)
    return VC_EXIT_ERROR;
  remove_stale_dirs (r);
  return VC_EXIT_OK;
}

static int
make_jobdir (struct run *r)
{
  r->jobdir = vc_printf ("%s/job-XXXXXX", r->o->rundir);
  if (r->jobdir == NULL || mkdtemp (r->jobdir) == NULL) {
    vc_error ("cannot create a job directory in %s: %m", r->o->rundir);
    free (r->jobdir);
    r->jobdir = NULL;
    return -1;
  }
  /* QEMU creates the socket: its user must own the directory. */
  if (r->info.have_owner && chown (r->jobdir, r->info.qemu_uid, r->info.qemu_gid) == -1) {
    vc_error ("cannot hand %s to the QEMU user: %m", r->jobdir);
    return -1;
  }
  return 0;
}

static void
remove_jobdir (struct run *r)
{
  if (r->jobdir == NULL)
    return;
  int fd = open (r->o->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    remove_flat_dir (fd, strrchr (r->jobdir, '/') + 1);
    close (fd);
  }
  free (r->jobdir);
  r->jobdir = NULL;
}

/* Undoes an uncommitted backup: the data is gone, and the checkpoint it
 * made must not be mistaken for the base of the next incremental.
 */
static void
roll_back (struct run *r)
{
  end_job (r);
  if (r->partial) {
    if (remove_flat_dir (r->outfd, r->partial) == -1)
      vc_warn ("cannot remove %s/%s: %m", r->o->outdir, r->partial);
  }
  if (r->new_checkpoint) {
    if (virDomainIsActive (r->dom) == 1 &&
        delete_checkpoint (r->dom, r->new_checkpoint) == 0) {
      vc_info ("removed checkpoint %s of the failed backup", r->new_checkpoint);
      capture (r);
    }
    else {
      vc_warn ("checkpoint %s of the failed backup could not be removed: "
               "the chain is marked broken, the next automatic backup is full",
               r->new_checkpoint);
      vc_store_set_broken (r->store, r->o->domain, true,
                           "a backup failed and its checkpoint could not be removed");
    }
  }
}

int
vc_backup_run (virConnectPtr conn, struct vc_store *store,
               const struct vc_backup_options *o)
{
  struct run r = { .o = o, .conn = conn, .store = store,
                   .outfd = -1, .lockfd = -1, .runlockfd = -1 };
  struct plan plan;
  struct vc_backup b = { 0 };
  struct disk_job *jobs = NULL;
  CLEANUP_FREE char *socket = NULL, *chain = NULL, *checkpoint = NULL;
  CLEANUP_FREE char *domxml = NULL, *cpxml = NULL;
  struct timespec t0, t1;
  int ret;
  bool committed = false;

  clock_gettime (CLOCK_MONOTONIC, &t0);
  b.started = time (NULL);
  ret = prepare (&r);
  if (ret != VC_EXIT_OK)
    goto out;
  ret = choose_level (&r, &plan);
  if (ret != VC_EXIT_OK)
    goto out;
  ret = VC_EXIT_ERROR;

  b.id = r.manifest.backups.len
    ? r.manifest.backups.ptr[r.manifest.backups.len - 1].id + 1 : 1;
  b.level = strdup (plan.level);
  if (strcmp (plan.level, "copy") != 0) {
    chain = strcmp (plan.level, "full") == 0 ? new_chain_id ()
      : strdup (plan.parent->chain);
    unsigned short rnd = 0;
    if (getrandom (&rnd, sizeof rnd, 0) != sizeof rnd)
      rnd = getpid ();
    checkpoint = chain ? vc_printf (CHECKPOINT_PREFIX "%s.%u.%04x", chain, b.id, rnd) : NULL;
    b.chain = chain ? strdup (chain) : NULL;
    b.checkpoint = checkpoint ? strdup (checkpoint) : NULL;
    if (b.checkpoint == NULL)
      goto oom;
  }
  if (plan.since) {
    b.since = strdup (plan.since);
    b.parent = plan.parent->id;
  }
  {
    char stamp[32];
    struct tm tm;
    time_t now = b.started;
    gmtime_r (&now, &tm);
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    b.dir = vc_printf ("%04u-%s-%s", b.id, plan.level, stamp);
    r.partial = vc_printf (PARTIAL_PREFIX "%u", b.id);
  }
  if (b.level == NULL || b.dir == NULL || r.partial == NULL)
    goto oom;
  vc_notice ("backup %u of %s: %s%s%s", b.id, o->domain, plan.level,
             plan.since ? " since " : "", plan.since ? plan.since : "");

  domxml = virDomainGetXMLDesc (r.dom, 0);
  if (domxml == NULL) {
    vc_error ("cannot read the XML of %s: %s", o->domain, vc_libvirt_error ());
    goto out;
  }
  if (make_jobdir (&r) == -1)
    goto out;
  socket = vc_printf ("%s/nbd.sock", r.jobdir);
  if (socket == NULL)
    goto oom;
  if (mkdirat (r.outfd, r.partial, 0700) == -1) {
    vc_error ("cannot create %s/%s: %m", o->outdir, r.partial);
    goto out;
  }
  if (checkpoint) {
    CLEANUP_FREE char *marker = vc_printf ("%s/" CHECKPOINT_MARKER, r.partial);
    if (marker == NULL ||
        vc_atomic_write (r.outfd, marker, checkpoint, strlen (checkpoint)) == -1) {
      vc_error ("cannot write %s/%s: %m", o->outdir, marker ? marker : r.partial);
      goto out;
    }
  }
  if (start_job (&r, &plan, checkpoint, b.id, socket) == -1)
    goto out;
  if (checkpoint && capture (&r) == -1)
    vc_warn ("could not record checkpoint %s in the store yet", checkpoint);

  jobs = calloc (r.disks.len, sizeof *jobs);
  if (jobs == NULL)
    goto oom;
  uint64_t total = 0;
  for (size_t i = 0; i < r.disks.len; i++) {
    jobs[i].target = r.disks.ptr[i];
    if (map_disk (&r, &jobs[i], socket, plan.since) == -1)
      goto out;
    total += vc_ranges_total (&jobs[i].data);
  }
  vc_progress_start (&r.progress, total, o->progress);

  int partfd = openat (r.outfd, r.partial, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (partfd == -1) {
    vc_error ("cannot open %s/%s: %m", o->outdir, r.partial);
    goto out;
  }
  for (size_t i = 0; i < r.disks.len; i++) {
    CLEANUP_FREE char *backing = NULL;
    struct vc_backup_disk d = { 0 };
    if (plan.parent) {
      const struct vc_backup_disk *pd = vc_backup_disk (plan.parent, jobs[i].target);
      backing = vc_printf ("../%s/%s", plan.parent->dir, pd->file);
      if (backing == NULL)
        goto oom_partfd;
    }
    if (write_disk (&r, &jobs[i], partfd, backing, &d) == -1 ||
        vc_backup_disk_vector_append (&b.disks, d) == -1) {
      close (partfd);
      goto out;
    }
  }
  vc_progress_finish (&r.progress);

  /* The data is durable; now the record of it. */
  if (checkpoint) {
    virDomainCheckpointPtr cp = virDomainCheckpointLookupByName (r.dom, checkpoint, 0);
    cpxml = cp ? virDomainCheckpointGetXMLDesc (cp, 0) : NULL;
    if (cp)
      virDomainCheckpointFree (cp);
    if (cpxml == NULL) {
      vc_error ("checkpoint %s vanished during the backup: %s", checkpoint,
                vc_libvirt_error ());
      close (partfd);
      goto out;
    }
  }
  if (save_text (&r, partfd, "domain.xml", domxml, &b) == -1 ||
      (cpxml && save_text (&r, partfd, "checkpoint.xml", cpxml, &b) == -1)) {
    close (partfd);
    goto out;
  }
  close (partfd);
  close_sources (jobs, r.disks.len);
  end_job (&r);
  if (renameat (r.outfd, r.partial, r.outfd, b.dir) == -1 || fsync (r.outfd) == -1) {
    vc_error ("cannot rename %s/%s to %s: %m", o->outdir, r.partial, b.dir);
    goto out;
  }
  free (r.partial);
  r.partial = strdup (b.dir);   /* roll_back removes it until committed */

  clock_gettime (CLOCK_MONOTONIC, &t1);
  b.finished = time (NULL);
  b.seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (vc_backup_vector_append (&r.manifest.backups, b) == -1)
    goto oom;
  if (vc_manifest_save (r.outfd, o->outdir, &r.manifest) == -1) {
    r.manifest.backups.len--;   /* b is still ours to free */
    goto out;
  }
  committed = true;
  free (r.partial);
  r.partial = NULL;
  free (r.new_checkpoint);
  r.new_checkpoint = NULL;

  /* After the commit: housekeeping that cannot lose a backup. */
  struct vc_backup *done = &r.manifest.backups.ptr[r.manifest.backups.len - 1];
  if (strcmp (done->level, "full") == 0) {
    virDomainCheckpointPtr *cps = NULL;
    int n = virDomainListAllCheckpoints (r.dom, &cps, 0);
    for (int i = 0; i < n; i++) {
      const char *name = virDomainCheckpointGetName (cps[i]);
      if (strncmp (name, CHECKPOINT_PREFIX, strlen (CHECKPOINT_PREFIX)) == 0 &&
          strcmp (name, done->checkpoint) != 0 &&
          virDomainCheckpointDelete (cps[i], 0) == 0)
        vc_info ("removed checkpoint %s of an older chain", name);
    }
    for (int i = 0; i < n; i++)
      virDomainCheckpointFree (cps[i]);
    free (cps);
  }
  if (done->checkpoint) {
    if (capture (&r) == -1)
      vc_warn ("backup %u is complete, but its checkpoint is not in the store yet",
               done->id);
    if (strcmp (done->level, "full") == 0)
      vc_store_set_broken (r.store, o->domain, false, NULL);
  }

  uint64_t read = 0, written = 0, size = 0;
  for (size_t i = 0; i < done->disks.len; i++) {
    read += done->disks.ptr[i].bytes_read;
    written += done->disks.ptr[i].file_size;
    size += done->disks.ptr[i].virtual_size;
  }
  vc_notice ("backup %u (%s) of %s done: read %.1f MiB, wrote %.1f MiB, "
             "skipped %.1f MiB, %.2f s, %.1f MiB/s", done->id, done->level,
             o->domain, read / 1048576.0, written / 1048576.0,
             (size - read) / 1048576.0, done->seconds,
             done->seconds > 0 ? read / 1048576.0 / done->seconds : 0.0);
  ret = VC_EXIT_OK;
  goto out;

 oom_partfd:
  close (partfd);
 oom:
  vc_error ("out of memory");
 out:
  close_sources (jobs, r.disks.len);
  if (!committed) {
    vc_progress_finish (&r.progress);
    roll_back (&r);
    vc_backup_clear (&b);
  }
  if (jobs) {
    for (size_t i = 0; i < r.disks.len; i++) {
      vc_range_vector_reset (&jobs[i].data);
      vc_range_vector_reset (&jobs[i].zero);
    }
    free (jobs);
  }
  end_job (&r);
  remove_jobdir (&r);
  free (r.partial);
  free (r.new_checkpoint);
  vc_manifest_clear (&r.manifest);
  vc_domain_info_clear (&r.info);
  vc_string_vector_free (&r.disks);
  if (r.dom)
    virDomainFree (r.dom);
  if (r.runlockfd >= 0)
    close (r.runlockfd);
  if (r.lockfd >= 0)
    close (r.lockfd);
  if (r.outfd >= 0)
    close (r.outfd);
  return ret;
}
