/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libvirt/checkpoints.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "store/last-backup.h"

static size_t
count_missing (const struct vc_chain *from, const struct vc_chain *in)
{
  size_t n = 0;
  for (size_t i = 0; i < from->checkpoints.len; i++)
    if (vc_chain_find (in, from->checkpoints.ptr[i].name) == -1)
      n++;
  return n;
}

int
vc_capture (virConnectPtr conn, struct vc_store *store, const char *domain,
            bool force, uint32_t node, struct vc_capture_result *result)
{
  return vc_capture_recording (conn, store, domain, force, node, NULL, result);
}

int
vc_capture_recording (virConnectPtr conn, struct vc_store *store,
                      const char *domain, bool force, uint32_t node,
                      const struct vc_last_backup *rec,
                      struct vc_capture_result *result)
{
  struct vc_chain live, stored;
  virDomainPtr dom;
  int r, ret = -1;

  memset (result, 0, sizeof *result);
  dom = vc_libvirt_domain (conn, domain);
  if (dom == NULL)
    return -1;
  r = vc_libvirt_chain (dom, &live);
  virDomainFree (dom);
  if (r == -1)
    return -1;

  if (vc_store_lock (store) == -1)
    goto out_live;
  r = vc_store_load (store, domain, &stored);
  if (r == -1)
    goto out_live;
  if (r == 1)
    memset (&stored, 0, sizeof stored);

  result->count = live.checkpoints.len;
  result->added = count_missing (&live, &stored);
  result->removed = count_missing (&stored, &live);

  if (r == 0 && stored.checkpoints.len > 0 &&
      result->removed == stored.checkpoints.len && !force) {
    vc_error ("libvirt holds none of the %zu stored checkpoints of %s: "
              "run 'virtckpt checkpoints redefine' first "
              "(or capture --force to store libvirt's chain as it is)",
              stored.checkpoints.len, domain);
    result->none_held = true;
    goto out;
  }
  if (r == 0 && vc_chain_same_checkpoints (&live, &stored) && rec == NULL) {
    vc_info ("checkpoints of %s unchanged (%zu)", domain, result->count);
    ret = 0;
    goto out;
  }

  live.version.generation = stored.version.generation + 1;
  live.version.node = node;
  live.updated = time (NULL);
  /* Broken stays broken until a full backup starts a new chain: capturing
   * what libvirt shows cannot bring lost bitmaps back.
   */
  live.broken = stored.broken;
  live.broken_since = stored.broken_since;
  live.broken_reason = stored.broken_reason;
  stored.broken_reason = NULL;
  /* The rest of the document is not libvirt's: kept as it is. */
  live.schedule = stored.schedule;
  stored.schedule = NULL;
  /* The record of the last backup is no checkpoint: it stays. */
  live.last_backup = stored.last_backup;
  stored.last_backup = NULL;
  if (rec) {
    if (vc_last_backup_set (&live, rec) == -1) {
      vc_error ("out of memory");
      goto out;
    }
    /* A full backup starts a new chain: it is whole again, in the same
     * update as its checkpoint.
     */
    if (rec->result == VC_RESULT_OK && rec->level &&
        strcmp (rec->level, "full") == 0 && live.broken) {
      live.broken = false;
      free (live.broken_reason);
      live.broken_reason = NULL;
      live.broken_since = 0;
    }
  }

  if (vc_store_save (store, &live) == -1)
    goto out;
  result->changed = true;
  ret = 0;

 out:
  vc_chain_clear (&stored);
 out_live:
  vc_chain_clear (&live);
  return ret;
}
