/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The checkpoint chain of one domain, as the store keeps it. */
#ifndef VIRTCKPT_CHAIN_H
#define VIRTCKPT_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/vector.h"
#include "store/version.h"

struct vc_disk {
  char *name;                   /* target, e.g. "vda" */
  char *mode;                   /* libvirt's checkpoint='bitmap'|'no' */
  char *bitmap;                 /* bitmap name in the image, or NULL */
};
DEFINE_VECTOR_TYPE (vc_disk_vector, struct vc_disk);

struct vc_checkpoint {
  char *name;
  char *parent;                 /* NULL for a root */
  int64_t created;              /* libvirt's creationTime, seconds */
  vc_disk_vector disks;
  char *xml;                    /* as virDomainCheckpointGetXMLDesc gave it */
};
DEFINE_VECTOR_TYPE (vc_checkpoint_vector, struct vc_checkpoint);

struct vc_last_backup;          /* store/last-backup.h */

struct vc_chain {
  char *domain;
  char *uuid;
  struct vc_version version;
  int64_t updated;
  /* A broken chain cannot carry an incremental: the next backup is full. */
  bool broken;
  char *broken_reason;
  int64_t broken_since;
  vc_checkpoint_vector checkpoints;   /* parents before children */
  /* The domain's backup schedule (store/schedule.h), or NULL: a
   * document may hold a schedule and no checkpoints.
   */
  struct vc_schedule *schedule;
  /* How the last backup ended, or NULL: store/last-backup.h. */
  struct vc_last_backup *last_backup;
};

extern void vc_disk_clear (struct vc_disk *d);
extern void vc_checkpoint_clear (struct vc_checkpoint *c);
extern void vc_chain_clear (struct vc_chain *chain);

/* True when the document holds nothing but its identity: no checkpoint,
 * no schedule.  Removing the last thing it holds removes the document.
 */
extern bool vc_chain_holds_nothing (const struct vc_chain *chain);

extern ssize_t vc_chain_find (const struct vc_chain *chain, const char *name);

/* Orders checkpoints parents first; siblings by creation time, then name.
 * Fails (returning -1 and a malloc'd message in *err) on duplicate names,
 * a parent missing from the chain, or a cycle.
 */
extern int vc_chain_sort (struct vc_chain *chain, char **err);

/* Marks the chain broken, keeping the first reason if already broken. */
extern int vc_chain_mark_broken (struct vc_chain *chain, const char *reason,
                                 int64_t now);

/* True if both chains hold the same checkpoints with the same XML. */
extern bool vc_chain_same_checkpoints (const struct vc_chain *a,
                                       const struct vc_chain *b);

#endif
