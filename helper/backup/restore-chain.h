/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chain of one disk at one backup, opened for a restore: each image
 * from the backup down to its full backup opened once (no symlink,
 * regular files only: backup/verify.h), its qcow2 header checked against
 * the manifest (backup/qcow2-check.h) and its L1 table read
 * (backup/qcow2-read.h).  Only these open files are read afterwards, and
 * no file name stored inside an image is ever interpreted.
 */
#ifndef VIRTCKPT_RESTORE_CHAIN_H
#define VIRTCKPT_RESTORE_CHAIN_H

#include <stdbool.h>
#include <sys/stat.h>

#include "backup/manifest.h"
#include "backup/qcow2-read.h"
#include "backup/restore-map.h"
#include "common/vector.h"

struct vc_link {
  int fd;
  struct stat st;               /* as opened */
  char *label;                  /* DIR/BACKUP-DIR/FILE */
  const struct vc_backup *backup;
  const struct vc_backup_disk *disk;
  struct vc_qcow2_image img;
};
DEFINE_VECTOR_TYPE (vc_link_vector, struct vc_link);

/* Opens and checks the chain of disk name at b, top first.  Returns 0 or
 * -1 (logged).
 */
extern int vc_chain_open (int dirfd, const char *dir, const struct vc_manifest *m,
                          const struct vc_backup *b, const char *name,
                          vc_link_vector *out);
extern void vc_chain_close (vc_link_vector *v);
#define CLEANUP_CHAIN __attribute__ ((cleanup (vc_chain_close)))

/* Maps the chain (backup/restore-map.h); every L2 table it needs is read
 * and checked.  Returns 0 or -1 (logged).
 */
extern int vc_chain_map (vc_link_vector *v, struct vc_chain_map *map);

/* Metadata bytes read from the chain so far. */
extern uint64_t vc_chain_bytes_read (const vc_link_vector *v);

/* false (logged) when an image changed since it was opened. */
extern bool vc_chain_unchanged (const vc_link_vector *v);

#endif
