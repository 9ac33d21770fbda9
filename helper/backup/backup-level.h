/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which level a backup gets: what was asked for, unless the chain it
 * would extend is unusable (then auto falls back to full, and an explicit
 * inc or diff is refused).
 */
#ifndef VIRTCKPT_BACKUP_LEVEL_H
#define VIRTCKPT_BACKUP_LEVEL_H

#include "backup/backup-checkpoint.h"
#include "backup/manifest.h"

struct vc_backup_plan {
  char level[8];                    /* full, inc, diff, copy */
  const struct vc_backup *parent;   /* images are overlays of its images */
  const char *since;                /* checkpoint the backup is relative to */
};

/* want: full, inc, diff, copy or auto.  m: the backup directory's
 * manifest, NULL when it has none yet.  disks: the targets to back up.
 * May redefine the stored chain in libvirt.  Returns a VC_EXIT_* code
 * (VC_EXIT_CHAIN_BROKEN when the level asked for cannot be done).
 */
extern int vc_backup_choose_level (const struct vc_backup_domain *d,
                                   const char *want, const struct vc_manifest *m,
                                   const string_vector *disks,
                                   struct vc_backup_plan *p);

#endif
