/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The checkpoints virtckpt makes on the domain it backs up: their names,
 * and looking them up, deleting them and recording them in the store.
 */
#ifndef VIRTCKPT_BACKUP_CHECKPOINT_H
#define VIRTCKPT_BACKUP_CHECKPOINT_H

#include <stdbool.h>
#include <libvirt/libvirt.h>

#include "store/store.h"

/* The domain being backed up, and the store that records its chain. */
struct vc_backup_domain {
  virConnectPtr conn;
  virDomainPtr dom;
  struct vc_store *store;
  const char *name;
  /* Offline (backup/offline.h): dom is NULL or not running, and the
   * stored chain stands for libvirt's.
   */
  bool offline;
};

/* A new chain's id: the time and random bits. */
extern char *vc_backup_chain_id (void);

/* virtckpt.CHAIN.ID.RANDOM: the random part keeps a stale bitmap left in
 * an image from ever colliding with a new checkpoint.
 */
extern char *vc_backup_checkpoint_name (const char *chain, unsigned id);

extern bool vc_backup_has_checkpoint (const struct vc_backup_domain *d,
                                      const char *name);

/* 0 deleted or already gone, -1 failed (warned). */
extern int vc_backup_delete_checkpoint (const struct vc_backup_domain *d,
                                        const char *name);

/* The checkpoint's XML, or NULL (libvirt's error is left for the caller). */
extern char *vc_backup_checkpoint_xml (const struct vc_backup_domain *d,
                                       const char *name);

/* After a full backup: the checkpoints of older chains only cost the
 * guest bitmap updates on every write.  Keeps keep.
 */
extern void vc_backup_delete_older_checkpoints (const struct vc_backup_domain *d,
                                                const char *keep);

/* Records libvirt's chain in the store, replacing whatever it holds: the
 * callers know the stored chain is superseded.
 */
extern int vc_backup_capture (const struct vc_backup_domain *d);

#endif
