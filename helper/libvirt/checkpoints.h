/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Moving checkpoint chains between libvirt and the store. */
#ifndef VIRTCKPT_CHECKPOINTS_H
#define VIRTCKPT_CHECKPOINTS_H

#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

#include "store/chain.h"
#include "store/store.h"

/* Reads libvirt's checkpoints of dom into chain (parents first).  Fills
 * chain->domain and chain->uuid.  Logs and returns -1 on failure.
 */
extern int vc_libvirt_chain (virDomainPtr dom, struct vc_chain *chain);

struct vc_capture_result {
  size_t count;                 /* checkpoints now stored */
  size_t added, removed;
  bool changed;                 /* document written */
  bool none_held;               /* refused: libvirt holds none of the stored */
};

/* Records libvirt's current chain of domain in the store.  Refuses (-1,
 * result->none_held) to replace a stored chain with one that shares none
 * of its checkpoints unless force: that is what libvirt shows on a host
 * where the chain has not been redefined yet, and capturing it would throw
 * the chain away.
 */
extern int vc_capture (virConnectPtr conn, struct vc_store *store,
                       const char *domain, bool force, uint32_t node,
                       struct vc_capture_result *result);

/* The same, recording rec (store/last-backup.h) as the outcome of the
 * domain's last backup in the same update of its document; a full
 * backup that ended ok also clears the chain's broken mark.
 */
struct vc_last_backup;
extern int vc_capture_recording (virConnectPtr conn, struct vc_store *store,
                                 const char *domain, bool force, uint32_t node,
                                 const struct vc_last_backup *rec,
                                 struct vc_capture_result *result);

struct vc_redefine_result {
  size_t stored;                /* checkpoints in the store */
  size_t present;               /* already known to libvirt */
  size_t redefined;             /* redefined by this call */
  size_t foreign;               /* in libvirt, not in the store: left alone */
  bool broken;                  /* chain found or marked broken */
};

/* Redefines, parent first, every stored checkpoint libvirt lacks: all of
 * them or none.  Returns a VC_EXIT_* code: VC_EXIT_CHAIN_BROKEN when a
 * bitmap is missing or inconsistent (the chain is then marked broken in
 * the store so the next automatic backup is full), VC_EXIT_NOT_SYNCED when
 * virtckptd here is not synced (its replica may hold an old chain).
 */
extern int vc_redefine (virConnectPtr conn, struct vc_store *store,
                        const char *domain, struct vc_redefine_result *result);

#endif
