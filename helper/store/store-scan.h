/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What replication needs of every stored document, without parsing them
 * all each time: the summary, the status and the end of a sync of
 * virtckptd read it at 1000s of domains.
 *
 * A scan lists the store directory and parses only the documents that
 * changed since the previous scan: those this process wrote through the
 * store, and those whose file is another one (device, inode, size,
 * modification time) for writes by other processes.  The directory stays
 * the only truth; the cache only saves work.
 */
#ifndef VIRTCKPT_STORE_SCAN_H
#define VIRTCKPT_STORE_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct vc_doc_summary {
  const char *domain;
  struct vc_version version;
  size_t checkpoints;
  int64_t updated;
  /* The domain's schedule (store/schedule.h): 0 when it has none.  All
   * virtckptd's scheduler needs to know which domains to look at.
   */
  uint64_t schedule_every;
  int64_t schedule_set;
};

/* Refreshes the store's scan cache, then calls fn for every readable
 * document (tombstones included; damaged ones are reported once, when
 * first seen, and skipped), in file name order, until fn returns
 * non-zero.  Returns -1 (logged) when the directory cannot be listed,
 * else 0.  Documents this process writes through the store are parsed
 * again at the next scan whatever their file's identity.
 */
extern int vc_store_scan (struct vc_store *store,
                          int (*fn) (const struct vc_doc_summary *, void *),
                          void *opaque);

/* The summary of one domain's document, from the cache when its file is
 * the one last parsed or written by this process (one stat), else parsed
 * (and cached).  0 found (out->domain is only valid until the next call
 * into the store), 1 no document, -1 unreadable or damaged (logged), as
 * vc_store_load_any.  This is what applying an update needs of the
 * version it replaces, without parsing it again.
 */
extern int vc_store_summary (struct vc_store *store, const char *domain,
                             struct vc_doc_summary *out);

/* For store.c: file is being written or removed; file was written with
 * chain (its new identity is taken); the cache itself.
 */
extern void vc_store_scan_invalidate (struct vc_store_scan *scan, const char *file);
extern void vc_store_scan_wrote (struct vc_store *store, const char *file,
                                 const struct vc_chain *chain);
extern void vc_store_scan_free (struct vc_store_scan *scan);

#endif
