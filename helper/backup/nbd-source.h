/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A disk exported over NBD by QEMU for a pull-mode backup: connections,
 * and its map (what holds data, what is dirty since the checkpoint).
 */
#ifndef VIRTCKPT_NBD_SOURCE_H
#define VIRTCKPT_NBD_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <libnbd.h>

#include "backup/extent.h"

#define VC_NBD_MAX_CONNECTIONS 8

struct vc_nbd_source {
  struct nbd_handle *h[VC_NBD_MAX_CONNECTIONS];
  unsigned connections;
  uint64_t size;
  char *dirty_context;          /* NULL for a full read */
  char *label;                  /* for messages, e.g. "vda" */
};

/* Connects to export on the unix socket.  Opens up to connections handles
 * when the server allows multi-conn (one otherwise).  dirty_context, e.g.
 * "qemu:dirty-bitmap:backup-vda", may be NULL.  Logs and returns -1.
 */
extern int vc_nbd_open (struct vc_nbd_source *s, const char *socket,
                        const char *export, const char *dirty_context,
                        unsigned connections);
extern void vc_nbd_close (struct vc_nbd_source *s);

/* Reads block status over the whole export: ranges that may hold
 * non-zero data, and (with a dirty context) ranges dirty since the
 * checkpoint.  Both sorted and merged.
 */
extern int vc_nbd_map (struct vc_nbd_source *s, vc_range_vector *nonzero,
                       vc_range_vector *dirty);

#endif
