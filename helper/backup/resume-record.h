/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The progress record of an interrupted backup: what its partial
 * directory holds, so that the next backup can resume it.
 *
 *   .partial-ID/progress.xml
 *   <virtckpt-progress format="1" id="3" level="inc" chain="CHAIN"
 *                      checkpoint="virtckpt.CHAIN.3.HEX4"
 *                      parent="2" since="CHECKPOINT-OF-2" started="..."
 *                      runs="1">
 *     <disk name="vda" virtual-size="..." image="yes" read="...">
 *       <data offset="..." length="..."/>     the image's data clusters
 *       <zero offset="..." length="..."/>     marked zero (inc, diff)
 *       <copied offset="..." length="..."/>   data copied and durable
 *     </disk>
 *   </virtckpt-progress>
 *
 * as of checkpoint: the copied ranges hold the guest's data at that
 * checkpoint, data and zero are what the backup had to cover then.
 * image="yes": .partial-ID/NAME.qcow2 was laid out from data and zero
 * (backup/qcow2-plan.h).  read: bytes read over NBD by all runs so far.
 *
 * The record is untrusted input, like the manifest: it is loaded only if
 * every name follows the manifest's grammar, its parent is in the
 * manifest, and every range list is cluster aligned, sorted, disjoint and
 * within the disk (copied within data, data apart from zero).
 */
#ifndef VIRTCKPT_RESUME_RECORD_H
#define VIRTCKPT_RESUME_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/extent.h"
#include "backup/manifest.h"

#define VC_RESUME_FILE "progress.xml"
/* While a resumed run writes NAME.qcow2 anew, the interrupted run's. */
#define VC_RESUME_KEPT ".kept"

struct vc_resume_disk {
  char *name;
  uint64_t virtual_size;
  bool image;                   /* NAME.qcow2 was written (in part) */
  uint64_t bytes_read;          /* over NBD, all runs so far */
  vc_range_vector data, zero, copied;
};
DEFINE_VECTOR_TYPE (vc_resume_disk_vector, struct vc_resume_disk);

struct vc_resume {
  unsigned id;
  char *level;                  /* full, inc, diff */
  char *chain, *checkpoint, *since;
  unsigned parent;
  int64_t started;
  unsigned runs;                /* runs that copied into it so far */
  vc_resume_disk_vector disks;
};

extern void vc_resume_clear (struct vc_resume *r);

/* Writes the record into partfd (dir: its path, for messages). */
extern int vc_resume_save (int partfd, const char *dir, const struct vc_resume *r);

/* 0 loaded, 1 no record, -1 a record that fails its checks (why in *why,
 * allocated).  id: the partial directory's; m: the manifest (parents).
 */
extern int vc_resume_load (int partfd, unsigned id, const struct vc_manifest *m,
                           struct vc_resume *r, char **why);

extern const struct vc_resume_disk *vc_resume_disk (const struct vc_resume *r,
                                                    const char *name);

#endif
