/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Retention of a backup directory: virtckpt prune.
 *
 * The policy (backup/prune-policy.h) picks the backups to keep.  A kept
 * inc or diff whose parent is removed is rewritten so that nothing it
 * needs goes: the clusters of the removed backups below it (down to its
 * nearest kept ancestor) are folded into it, and it builds on that
 * ancestor; with no kept ancestor it becomes a standalone image, a
 * synthetic full (backup/manifest.h).  The new images are written by
 * virtckpt's qcow2 writer (backup/qcow2-plan.h) from the chain map
 * (backup/restore-map.h), streamed, each source verified against its
 * checksum as it is read, and checksummed and fdatasync'd themselves.
 *
 * The transaction, under the directory's writer lock (the one a backup
 * holds, backup-dir.h):
 *
 *   1. stage: each rewritten backup's images in .prune-ID/, synced;
 *   2. journal: .prune-journal names the rewritten ids and the removed
 *      directories (written atomically);
 *   3. commit: the new manifest, written atomically;
 *   4. move: each staged image renamed over its backup's image;
 *   5. remove: the removed backups' directories;
 *   6. the journal is removed.
 *
 * A crash before 3 leaves the old state, whose files are untouched; after
 * 3 the new one, which vc_prune_recover (run by the next prune and the
 * next backup, under the lock) completes: a staged image whose checksum
 * is the one the manifest lists is moved into place, any other staged
 * file is dropped, and a journaled directory the manifest no longer lists
 * is removed.  Between 3 and the end of 4 a rewritten backup's image is
 * not yet the one the manifest lists: restore and verify refuse it (its
 * backing name or checksum differs) until the recovery ran.
 *
 * Only .prune-* names and directories the manifest listed are ever
 * touched; .partial-* (an interrupted backup, backup/resume.h) is left
 * alone, as is the tip, which is always kept.
 */
#ifndef VIRTCKPT_PRUNE_H
#define VIRTCKPT_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/manifest.h"
#include "backup/prune-policy.h"
#include "common/vector.h"

/* Test hook, for tests/integration/prune-crash.sh only: the process
 * kills itself (SIGKILL) when it reaches this step: writing (after the
 * first image staged), staged (all of them), journal,
 * committed, moved (after the first image moved), removed (after the
 * first directory removed).
 */
#define VC_PRUNE_KILL_ENV "VIRTCKPT_TEST_PRUNE_KILL_AT"

DEFINE_VECTOR_TYPE (vc_id_vector, unsigned);

enum vc_prune_action {
  VC_PRUNE_KEEP,                /* kept as it is */
  VC_PRUNE_FOLD,                /* kept; removed parents folded into it */
  VC_PRUNE_SYNTHETIC,           /* kept; becomes a synthetic full */
  VC_PRUNE_REMOVE,
};

struct vc_prune_entry {
  unsigned id;
  char *dir, *level;            /* as the manifest listed them */
  int64_t started;
  enum vc_prune_action action;
  unsigned keep;                /* VC_KEEP_* reasons; 0 when removed */
  unsigned new_parent;          /* FOLD: the kept ancestor it builds on */
  vc_id_vector folded;            /* FOLD, SYNTHETIC: the ids folded in */
  uint64_t bytes;               /* REMOVE: freed; FOLD, SYNTHETIC: written */
};
DEFINE_VECTOR_TYPE (vc_prune_entry_vector, struct vc_prune_entry);

struct vc_prune_options {
  const char *dir;
  struct vc_prune_policy policy;
  bool dry_run;
  bool progress;
};

struct vc_prune_report {
  char *domain;
  vc_prune_entry_vector entries;        /* one per backup, by id */
  uint64_t bytes_written, bytes_freed;
  bool committed;               /* the new manifest is written */
};

extern void vc_prune_report_clear (struct vc_prune_report *r);

/* The plan: what the policy keeps and how each kept backup survives.
 * pinned: the backups interrupted backups build on.  Pure; 0 or -1
 * (ENOMEM).
 */
extern int vc_prune_plan (const struct vc_manifest *m,
                          const struct vc_prune_policy *p,
                          const vc_id_vector *pinned,
                          struct vc_prune_report *r);

/* Runs the prune (or, with dry_run, only plans it).  Returns a VC_EXIT_*
 * code: VC_EXIT_BUSY when another virtckpt writes to the directory.
 */
extern int vc_prune (const struct vc_prune_options *o, struct vc_prune_report *r);

/* Completes or rolls back what a killed prune left in outdir (outfd),
 * whose manifest m is loaded: see above.  The caller holds the writer
 * lock.  Returns 0, or -1 (warned) when a staged image could not be read
 * or moved, or a directory removed: then everything is left as it is for
 * the next run (a staged image may be the only copy of a committed one).
 */
extern int vc_prune_recover (int outfd, const char *outdir,
                              const struct vc_manifest *m);

#endif
