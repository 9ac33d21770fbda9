/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checking a backup directory against its manifest. */
#ifndef VIRTCKPT_VERIFY_H
#define VIRTCKPT_VERIFY_H

#include <stdbool.h>

#include "backup/manifest.h"

/* Checks the files of backup b (and, with chain, of the backups its images
 * build on): sizes, SHA-256, backing links.  Prints one line per file
 * when verbose.  Returns the number of problems found (each logged), or -1
 * when the check itself could not run.
 */
extern int vc_verify_backup (int dirfd, const char *dir,
                             const struct vc_manifest *m,
                             const struct vc_backup *b, bool chain, bool verbose);

#endif
