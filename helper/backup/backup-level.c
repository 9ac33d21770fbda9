/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup-level.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "libvirt/checkpoints.h"

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

/* Offline, the stored chain stands for libvirt's: the next start of the
 * domain redefines it.
 */
static bool
has_checkpoint (const struct vc_backup_domain *d, const char *name)
{
  struct vc_chain chain;
  bool ret = false;

  if (!d->offline)
    return vc_backup_has_checkpoint (d, name);
  if (vc_store_load (d->store, d->name, &chain) == 0) {
    ret = vc_chain_find (&chain, name) >= 0;
    vc_chain_clear (&chain);
  }
  return ret;
}

/* Why the chain cannot carry an incremental, or NULL when it can.
 * Redefines the stored chain first if libvirt lacks its tip (the domain
 * was re-created or moved here).
 */
static const char *
chain_problem (const struct vc_backup_domain *d, const struct vc_backup *tip,
               const string_vector *disks, char **owned)
{
  struct vc_chain chain;
  int s;

  if (tip == NULL)
    return "no backup chain in this directory yet";
  if (!same_disks (tip, disks))
    return "the set of disks changed";
  s = vc_store_load (d->store, d->name, &chain);
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
  if (d->offline && !has_checkpoint (d, tip->checkpoint)) {
    *owned = vc_printf ("checkpoint %s is not in the stored chain", tip->checkpoint);
    return *owned ? *owned : "the last checkpoint is not stored";
  }
  if (!d->offline && !vc_backup_has_checkpoint (d, tip->checkpoint)) {
    struct vc_redefine_result res;
    vc_info ("libvirt lacks checkpoint %s: redefining the stored chain",
             tip->checkpoint);
    int rr = vc_redefine (d->conn, d->store, d->name, &res);
    if (rr == VC_EXIT_CHAIN_BROKEN)
      return "the checkpoint chain is broken (bitmaps missing)";
    if (rr != VC_EXIT_OK || !vc_backup_has_checkpoint (d, tip->checkpoint)) {
      *owned = vc_printf ("checkpoint %s is neither in libvirt nor redefinable",
                          tip->checkpoint);
      return *owned ? *owned : "the last checkpoint is gone";
    }
  }
  return NULL;
}

/* A diff is relative to the full backup that started the tip's chain. */
static int
plan_diff (const struct vc_backup_domain *d, const struct vc_manifest *m,
           const struct vc_backup *tip, struct vc_backup_plan *p)
{
  const struct vc_backup *full = NULL;

  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i];
    if (vc_streq (b->chain, tip->chain) && strcmp (b->level, "full") == 0)
      full = b;
  }
  if (full == NULL || !has_checkpoint (d, full->checkpoint)) {
    vc_error ("cannot make a diff backup of %s: the chain's full backup or "
              "its checkpoint is gone; a full backup is needed", d->name);
    return VC_EXIT_CHAIN_BROKEN;
  }
  snprintf (p->level, sizeof p->level, "diff");
  p->parent = full;
  p->since = full->checkpoint;
  return VC_EXIT_OK;
}

int
vc_backup_choose_level (const struct vc_backup_domain *d, const char *want,
                        const struct vc_manifest *m, const string_vector *disks,
                        struct vc_backup_plan *p)
{
  const struct vc_backup *tip = m ? vc_manifest_tip (m) : NULL;
  CLEANUP_FREE char *owned = NULL;
  const char *problem;

  memset (p, 0, sizeof *p);
  if (strcmp (want, "full") == 0 || strcmp (want, "copy") == 0) {
    snprintf (p->level, sizeof p->level, "%s", want);
    return VC_EXIT_OK;
  }
  problem = chain_problem (d, tip, disks, &owned);
  if (problem) {
    if (strcmp (want, "auto") == 0) {
      vc_notice ("full backup: %s", problem);
      snprintf (p->level, sizeof p->level, "full");
      return VC_EXIT_OK;
    }
    vc_error ("cannot make a%s %s backup of %s: %s; a full backup is needed",
              strcmp (want, "inc") == 0 ? "n" : "", want, d->name, problem);
    return VC_EXIT_CHAIN_BROKEN;
  }
  /* No problem means a tip, hence a manifest. */
  if (strcmp (want, "diff") == 0)
    return plan_diff (d, m, tip, p);
  snprintf (p->level, sizeof p->level, "inc");
  p->parent = tip;
  p->since = tip->checkpoint;
  return VC_EXIT_OK;
}
