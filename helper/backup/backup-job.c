/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>

#include "backup/backup-dir.h"
#include "backup/backup-guard.h"
#include "backup/backup-job.h"
#include "backup/guest-freeze.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "libvirt/libvirt-conn.h"

int
vc_backup_job_end_stale (const struct vc_backup_domain *d, const char *rundir)
{
  int s = vc_backup_end_stale_job (d->dom, rundir, d->name);

  if (s == 1)
    vc_error ("domain %s has a backup job that virtckpt did not start: "
              "wait for it or end it (virsh domjobabort)", d->name);
  return s == 0 ? 0 : -1;
}

int
vc_backup_job_make_dir (struct vc_backup_job *j, const struct vc_domain_info *info)
{
  j->dir = vc_printf ("%s/job-XXXXXX", j->rundir);
  if (j->dir == NULL || mkdtemp (j->dir) == NULL) {
    vc_error ("cannot create a job directory in %s: %m", j->rundir);
    free (j->dir);
    j->dir = NULL;
    return -1;
  }
  /* QEMU creates the socket: its user must own the directory. */
  if (info->have_owner && chown (j->dir, info->qemu_uid, info->qemu_gid) == -1) {
    vc_error ("cannot hand %s to the QEMU user: %m", j->dir);
    return -1;
  }
  j->socket = vc_printf ("%s/nbd.sock", j->dir);
  if (j->socket == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  return 0;
}

void
vc_backup_job_remove_dir (struct vc_backup_job *j)
{
  if (j->dir == NULL)
    return;
  CLEANUP_CLOSE int fd = open (j->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    vc_remove_flat_dir (fd, strrchr (j->dir, '/') + 1);
  free (j->dir);
  free (j->socket);
  j->dir = j->socket = NULL;
}

/* --- XML ----------------------------------------------------------------- */

/* The document with root element name, or NULL. */
static xmlNodePtr
new_root (xmlDocPtr *doc, const char *name)
{
  xmlNodePtr root;

  *doc = xmlNewDoc (BAD_CAST "1.0");
  if (*doc == NULL || (root = xmlNewNode (NULL, BAD_CAST name)) == NULL)
    return NULL;
  xmlDocSetRootElement (*doc, root);
  return root;
}

/* A child element with up to two attributes (NULL names are skipped). */
static xmlNodePtr
add (xmlNodePtr parent, const char *name, const char *a1, const char *v1,
     const char *a2, const char *v2)
{
  xmlNodePtr n = xmlNewChild (parent, NULL, BAD_CAST name, NULL);

  if (n == NULL ||
      (a1 && xmlNewProp (n, BAD_CAST a1, BAD_CAST v1) == NULL) ||
      (a2 && xmlNewProp (n, BAD_CAST a2, BAD_CAST v2) == NULL))
    return NULL;
  return n;
}

static bool
add_backup_disk (xmlNodePtr disks, const char *dir, const char *target, bool yes)
{
  CLEANUP_FREE char *scratch = yes ? vc_printf ("%s/scratch-%s.qcow2", dir, target) : NULL;
  xmlNodePtr disk = add (disks, "disk", "name", target, "backup", yes ? "yes" : "no");

  if (disk == NULL || !yes)
    return disk != NULL;
  return scratch && xmlNewProp (disk, BAD_CAST "type", BAD_CAST "file") &&
    add (disk, "scratch", "file", scratch, NULL, NULL);
}

static char *
backup_xml (const struct vc_backup_job *j, const struct vc_domain_info *info,
            const string_vector *selected, const char *since)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  xmlNodePtr root = new_root (&doc, "domainbackup"), disks;

  if (root == NULL || !xmlNewProp (root, BAD_CAST "mode", BAD_CAST "pull") ||
      (since && !xmlNewTextChild (root, NULL, BAD_CAST "incremental", BAD_CAST since)) ||
      !add (root, "server", "transport", "unix", "socket", j->socket) ||
      (disks = add (root, "disks", NULL, NULL, NULL, NULL)) == NULL)
    return NULL;
  for (size_t i = 0; i < info->disks.len; i++) {
    const char *t = info->disks.ptr[i];
    if (!add_backup_disk (disks, j->dir, t, vc_in_list (selected, t)))
      return NULL;
  }
  return vc_xml_dump (doc, NULL);
}

static char *
checkpoint_xml (const struct vc_domain_info *info, const string_vector *selected,
                const char *name, unsigned id)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *description = vc_printf ("virtckpt backup %u", id);
  xmlNodePtr root = new_root (&doc, "domaincheckpoint"), disks;

  if (root == NULL || description == NULL ||
      !xmlNewTextChild (root, NULL, BAD_CAST "name", BAD_CAST name) ||
      !xmlNewTextChild (root, NULL, BAD_CAST "description", BAD_CAST description) ||
      (disks = add (root, "disks", NULL, NULL, NULL, NULL)) == NULL)
    return NULL;
  for (size_t i = 0; i < info->disks.len; i++) {
    const char *t = info->disks.ptr[i];
    if (!add (disks, "disk", "name", t, "checkpoint",
              vc_in_list (selected, t) ? "bitmap" : "no"))
      return NULL;
  }
  return vc_xml_dump (doc, NULL);
}

/* --- the job ------------------------------------------------------------- */

int
vc_backup_job_begin (struct vc_backup_job *j, const struct vc_domain_info *info,
                     const string_vector *disks, const char *since,
                     const char *checkpoint, unsigned id)
{
  CLEANUP_FREE char *bxml = backup_xml (j, info, disks, since);
  CLEANUP_FREE char *cxml = checkpoint ? checkpoint_xml (info, disks, checkpoint, id) : NULL;
  CLEANUP_FREE char *why = NULL;
  struct vc_freeze f = { .dom = j->d->dom, .domain = j->d->name, .rundir = j->rundir };
  int ret;

  if (bxml == NULL || (checkpoint && cxml == NULL)) {
    vc_error ("out of memory");
    return -1;
  }
  vc_debug ("backup XML:\n%s", bxml);
  j->consistent = vc_freeze (&f, info->has_agent);
  vc_freeze_test_pause (&f, j->cancel);
  if (j->cancel && *j->cancel) {
    /* The caller reports the signal; the guest must not stay frozen. */
    vc_thaw (&f);
    return -1;
  }
  ret = virDomainBackupBegin (j->d->dom, bxml, cxml, 0);
  /* Thawing resets libvirt's last error: keep the reason first. */
  if (ret == -1)
    why = strdup (vc_libvirt_error ());
  /* A failed thaw keeps the marker: the next run or 'virtckpt thaw'
   * retries.  The data was still read while frozen.
   */
  vc_thaw (&f);
  if (ret == -1) {
    vc_error ("cannot start the backup job of %s: %s", j->d->name,
              why ? why : "out of memory");
    return -1;
  }
  j->started = true;
  return 0;
}

void
vc_backup_job_end (struct vc_backup_job *j)
{
  if (!j->started)
    return;
  if (virDomainAbortJob (j->d->dom) == -1 &&
      vc_libvirt_error_code () != VIR_ERR_OPERATION_INVALID)
    vc_warn ("cannot end the backup job of %s: %s", j->d->name,
             vc_libvirt_error ());
  j->started = false;
}
