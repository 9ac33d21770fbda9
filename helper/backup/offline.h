/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Offline backups: the images of a domain that runs nowhere, exported by
 * qemu-storage-daemon instead of a libvirt backup job.  The data path
 * after the export (NBD map, qcow2 writer, manifest) is the same.
 *
 * The daemon opens every image read-only: its qcow2 node still refuses
 * to share write access, so it holds the images' locks (QEMU's OFD
 * locks) for as long as it runs.  A domain started meanwhile, here or on
 * another host of the shared storage, fails to open them; and a domain
 * that runs somewhere makes the export fail.  A checkpoint's bitmap is
 * added with qemu-img before the export starts: it then covers every
 * write after the data read, whatever happens between the two.
 */
#ifndef VIRTCKPT_OFFLINE_H
#define VIRTCKPT_OFFLINE_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <libvirt/libvirt.h>

#include "common/vector.h"
#include "store/store.h"

#define VC_QEMU_STORAGE_DAEMON "/usr/bin/qemu-storage-daemon"
#define VC_QEMU_IMG "/usr/bin/qemu-img"

struct vc_offline_disk {
  char *target;
  char *path;                   /* absolute, a regular file or block device */
  bool block;
};
DEFINE_VECTOR_TYPE (vc_offline_disk_vector, struct vc_offline_disk);

struct vc_offline {
  const char *domain;
  char *domxml;                 /* the <domain> the disks come from */
  char *origin;                 /* where it comes from, for messages */
  char *uuid;                   /* its <uuid>, or NULL */
  char *tip;                    /* the stored chain's newest checkpoint */
  vc_offline_disk_vector disks; /* the disks backed up */
  pid_t pid;                    /* the export's qemu-storage-daemon, or 0 */
  char *log;                    /* its stderr */
  bool bad_bitmap;              /* the export failed on the bitmap asked for */
  bool no_member_runs_it;       /* the cluster said so: a lock is a host outside it */
};

/* The domain XML to back up from: --config FILE if given, else libvirt's
 * definition of dom (an inactive persistent domain; NULL for none), else
 * the <domain> of the newest stored checkpoint.  Also loads the stored
 * chain's tip.  -1 logged.
 */
extern int vc_offline_prepare (struct vc_offline *o, struct vc_store *store,
                               virDomainPtr dom, const char *config);

/* The images of targets (validated: absolute, regular files or block
 * devices, qcow2).  -1 logged.
 */
extern int vc_offline_find_disks (struct vc_offline *o, const string_vector *targets);

/* Adds the persistent bitmap name to every image: refused (-1, logged as
 * the domain seeming to run elsewhere) when an image is locked.
 */
extern int vc_offline_add_bitmap (struct vc_offline *o, const char *name);

/* Removes bitmap name from the images, as far as it can (warns). */
extern void vc_offline_remove_bitmap (struct vc_offline *o, const char *name);

/* Starts qemu-storage-daemon serving each disk as an export named after
 * its target on socket (dir holds its pid file and log), with bitmap,
 * unless NULL, as the context qemu:dirty-bitmap:BITMAP.  Returns once the
 * exports exist.  -1 logged; o->bad_bitmap set when an image lacks the
 * bitmap or holds it inconsistent (QEMU was killed while it ran).
 */
extern int vc_offline_export_start (struct vc_offline *o, const char *dir,
                                    const char *socket, const char *bitmap,
                                    volatile sig_atomic_t *cancel);

/* Stops the daemon (SIGTERM, then SIGKILL after 30 s) and reaps it;
 * -1 if it did not exit cleanly.  Nothing when none runs.
 */
extern int vc_offline_export_stop (struct vc_offline *o);

/* The libvirt <domaincheckpoint> of a checkpoint name made offline: the
 * stored tip as parent, the backed-up disks with checkpoint='bitmap', the
 * others 'no', and the domain XML.  NULL logged.
 */
extern char *vc_offline_checkpoint_xml (const struct vc_offline *o, const char *name,
                                        const string_vector *all_targets,
                                        unsigned id);

/* Records checkpoint XML cpxml in the store as the chain's new tip: the
 * next start's 'checkpoints redefine' gives it to libvirt.  With full,
 * it replaces the stored chain, as after a full backup of a running
 * domain (whose older checkpoints are deleted): the export is stopped
 * and the bitmaps of the virtckpt checkpoints it replaced are removed
 * from the images.  -1 logged.
 */
extern int vc_offline_record (struct vc_offline *o, struct vc_store *store,
                              const char *cpxml, bool full);

/* Stops the daemon if it runs and frees. */
extern void vc_offline_clear (struct vc_offline *o);

#endif
