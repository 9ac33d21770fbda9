/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A backup directory's housekeeping: its lock, the .partial-ID directory
 * a backup is written into before its commit, and what interrupted runs
 * left behind.
 */
#ifndef VIRTCKPT_BACKUP_DIR_H
#define VIRTCKPT_BACKUP_DIR_H

#include <time.h>

#include "backup/backup-checkpoint.h"
#include "backup/manifest.h"

/* Takes outdir's writer lock (outfd is outdir); returns its fd, or -1
 * (logged) when another virtckpt writes there.
 */
extern int vc_backup_dir_lock (int outfd, const char *outdir);

/* Removes dirfd/name and the plain files in it; 0 when it is gone. */
extern int vc_remove_flat_dir (int dirfd, const char *name);

/* .partial-ID, and the name it is renamed to on commit. */
extern char *vc_backup_partial_name (unsigned id);
extern char *vc_backup_dir_name (unsigned id, const char *level, time_t started);

/* With no manifest in outdir: -1 (logged, with the way forward) when
 * outdir holds directories named like committed backups.  A missing
 * manifest never makes them leftovers.
 */
extern int vc_backup_dir_check_unlisted (int outfd, const char *outdir);

/* Creates the partial directory; with a checkpoint, records its name in
 * it first, so that whoever cleans up after a killed run knows which
 * checkpoint is its own (and never touches another directory's).
 */
extern int vc_backup_dir_make_partial (int outfd, const char *outdir,
                                       const char *partial, const char *checkpoint);

/* Records checkpoint in an existing partial directory (a resumed run's). */
extern int vc_backup_dir_mark_partial (int outfd, const char *outdir,
                                       const char *partial, const char *checkpoint);

/* Removes a partial directory and the checkpoint it records if it is its
 * own (see below).  Failures are warnings.
 */
extern void vc_backup_dir_discard (int outfd, const char *outdir, const char *partial,
                                   const struct vc_manifest *m,
                                   const struct vc_backup_domain *d);

/* Only .partial-ID directories are ever leftovers.  One whose backup m
 * lists is renamed to its committed name (the run stopped between its
 * commit and the rename); the others are removed, with the checkpoint
 * they record if it is theirs (virtckpt.CHAIN.ID.XXXX, named by no
 * committed backup), but keep: the partial directory of an interrupted
 * backup the run may resume (NULL: none).  Failures are warnings.
 */
extern void vc_backup_dir_remove_stale (int outfd, const char *outdir,
                                        const struct vc_manifest *m,
                                        const struct vc_backup_domain *d,
                                        const char *keep);

#endif
