/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Resuming an interrupted backup.
 *
 * A backup cancelled or stopped by SIGTERM/SIGINT/SIGHUP once it knows
 * what it has to copy keeps its partial directory, its images and its
 * checkpoint, and writes a progress record (resume-record.h).  The next
 * backup of the domain into the directory resumes it when it can: same
 * level (auto takes the interrupted one's), same parent, same disks of
 * the same sizes, and the interrupted checkpoint still in libvirt (or
 * redefinable from the store).  Its job is incremental since that
 * checkpoint: it copies what was not copied, and what the guest wrote
 * since, into a new image laid out as an uninterrupted backup's, taking
 * the rest from the kept image (TARGET.kept) instead of NBD.  The image
 * is written and hashed in file order as any other, so the checksum needs
 * no second pass; the cost is the kept image's space until the commit.
 */
#ifndef VIRTCKPT_RESUME_H
#define VIRTCKPT_RESUME_H

#include "backup/backup-checkpoint.h"
#include "backup/backup-level.h"
#include "backup/disk-job.h"
#include "backup/manifest.h"
#include "backup/resume-record.h"

/* The partial directory of the backup that would come next in m, if it
 * holds a progress record: 0 with *partial and *rec set; 1 none; -1 a
 * record that fails its checks (said: the directory is then a leftover).
 */
extern int vc_resume_find (int outfd, const char *outdir, const struct vc_manifest *m,
                           char **partial, struct vc_resume *rec);

/* Why a backup that wants level want of disks cannot resume rec, kept in
 * outdir/partial; NULL when it can, with *p its plan.  When it can, the
 * record is consumed: removed, and the images renamed TARGET.kept.
 */
extern const char *vc_resume_problem (const struct vc_backup_domain *d,
                                      const struct vc_resume *rec, const char *want,
                                      const struct vc_manifest *m,
                                      const string_vector *disks, int outfd,
                                      const char *partial, struct vc_backup_plan *p,
                                      char **owned);

/* Keeps interrupted backup b in outdir/partial for the next run: writes
 * its progress record from its disk jobs (whose NBD connections and
 * libvirt job are closed), records its checkpoint in the store, and
 * deletes the checkpoint of prev, the record it resumed (NULL: none).
 * 0 kept (said), -1 not (logged): roll back.
 */
extern int vc_resume_keep (const struct vc_backup_domain *d, int outfd,
                           const char *outdir, const char *partial,
                           const struct vc_backup *b, const struct vc_resume *prev,
                           const struct vc_disk_job *jobs, size_t n);

/* A resumed run that stops before it can keep a record of its own (a
 * cancel before its copy starts, an error): puts rec back as it was, its
 * images and record, for the next run.  The caller has deleted the run's
 * own checkpoint.  0 put back (said), -1 not (warned).
 */
extern int vc_resume_restore (int outfd, const char *outdir, const char *partial,
                              const struct vc_resume *rec);

/* Once the resumed backup is written: the kept images go. */
extern int vc_resume_remove_kept (int outfd, const char *outdir, const char *partial,
                                  const string_vector *disks);

#endif
