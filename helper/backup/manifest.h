/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manifest of a backup directory: every backup of one domain, in
 * order, with what is needed to restore and verify it.
 *
 *   <virtckpt-backups format="1">
 *     <domain>web1</domain>
 *     <backup id="1" level="full" chain="20261127T070000Z-3f2a"
 *             checkpoint="virtckpt.20261127T070000Z-3f2a.1.9c1e"
 *             dir="0001-full-20261127T070000Z"
 *             started="..." finished="..." seconds="4.21">
 *       <disk name="vda" file="vda.qcow2" virtual-size="..." read="..."
 *             zeroed="..." file-size="..." xxh128="..."/>
 *       (a backup that resumed interrupted runs: resumed="RUNS" on
 *       <backup>, reused="BYTES" on each <disk>; read then counts every
 *       run's reads)
 *       <file name="domain.xml" xxh128="..."/>
 *       <file name="checkpoint.xml" xxh128="..."/>
 *     </backup>
 *     (virtckpt prune: a kept inc or diff whose whole chain below was
 *     removed is rewritten as a standalone image, a synthetic full:
 *     level="full" synthetic="yes", its dir keeping the name it was
 *     taken under, e.g. 0004-inc-...; a kept inc whose parent was removed
 *     has the removed one's clusters folded in and builds on its nearest
 *     kept ancestor: parent, since and backing name that one)
 *     <backup id="2" level="inc" parent="1" since="CHECKPOINT-OF-1" ...>
 *       <disk name="vda" file="vda.qcow2" backing="../0001-full-.../vda.qcow2" .../>
 *   ...
 * Checksums are xxh128="HEX" (xxhsum -H2) or sha256="HEX" (sha256sum).
 * A backup is in the manifest only once its data is durable: the manifest
 * is the commit record.
 *
 * A backup directory is untrusted input: a manifest is loaded only if
 * every name in it is one virtckpt writes (vc_manifest_check):
 *
 *   id          1 .. VC_BACKUP_ID_MAX, increasing
 *   level       full | inc | diff | copy
 *   chain       STAMP "-" HEX4             (none for a copy)
 *   checkpoint  "virtckpt." CHAIN "." ID "." HEX4   (none for a copy)
 *   dir         ID4 "-" LEVEL "-" STAMP    (ID4: the id, at least 4 digits;
 *               a synthetic full: LEVEL full, inc or diff)
 *   synthetic   "yes" on a full only, or absent
 *   parent      inc and diff only: an earlier backup of the same chain,
 *               not a copy (a full for a diff); since = its checkpoint
 *   disk name   [A-Za-z0-9] [A-Za-z0-9_.-]*, at most 64 bytes, unique
 *   disk file   NAME ".qcow2"
 *   backing     "../" PARENT-DIR "/" PARENT-FILE of the same disk, or
 *               none without a parent
 *   file name   domain.xml | checkpoint.xml, each at most once
 *   domain      1 .. 1024 bytes, no control character, no "/"
 *
 * with STAMP = 8 digits "T" 6 digits "Z" (UTC) and HEX4 = 4 lower-case
 * hex digits.  Parents being earlier backups, every walk down a chain
 * ends.
 */
#ifndef VIRTCKPT_MANIFEST_H
#define VIRTCKPT_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/checksum.h"
#include "common/vector.h"

#define VC_MANIFEST_FILE "manifest.xml"
#define VC_BACKUP_ID_MAX 99999999u    /* ids never wrap: a new directory then */
#define VC_BACKUP_MAX_DISKS 1024

struct vc_backup_disk {
  char *name;                   /* target, e.g. vda */
  char *file;                   /* relative to the backup's dir */
  char *backing;                /* as written in the image, or NULL */
  uint64_t virtual_size;
  uint64_t bytes_read;          /* guest bytes read over NBD (by every run
                                   of a resumed backup) */
  uint64_t bytes_reused;        /* resumed: taken from the interrupted run */
  uint64_t bytes_zeroed;        /* guest bytes marked zero */
  uint64_t file_size;
  struct vc_digest sum;         /* of the whole image file */
};
DEFINE_VECTOR_TYPE (vc_backup_disk_vector, struct vc_backup_disk);

struct vc_backup_file {
  char *name;
  struct vc_digest sum;
};
DEFINE_VECTOR_TYPE (vc_backup_file_vector, struct vc_backup_file);

struct vc_backup {
  unsigned id;
  char *level;                  /* full, inc, diff, copy */
  char *chain;                  /* NULL for copy */
  char *checkpoint;             /* created by this backup; NULL for copy */
  char *since;                  /* checkpoint it is incremental to */
  unsigned parent;              /* backup its images are overlays of */
  char *dir;
  int64_t started, finished;
  double seconds;
  char *consistency;            /* VC_*_CONSISTENT; NULL: not recorded */
  unsigned resumed;             /* interrupted runs it resumed; 0: none */
  bool synthetic;               /* a full made by prune from a chain */
  vc_backup_disk_vector disks;
  vc_backup_file_vector files;
};
DEFINE_VECTOR_TYPE (vc_backup_vector, struct vc_backup);

/* A backup started with the guest's filesystems frozen by its agent, or
 * not (a copy of disks that were in use, as after a power cut).
 */
#define VC_APPLICATION_CONSISTENT "application"
#define VC_CRASH_CONSISTENT "crash"

struct vc_manifest {
  char *domain;
  vc_backup_vector backups;     /* by id */
};

extern void vc_backup_clear (struct vc_backup *b);
extern void vc_manifest_clear (struct vc_manifest *m);

/* 0 loaded, 1 none in dir, -1 error (logged). */
extern int vc_manifest_load (int dirfd, const char *dir, struct vc_manifest *m);
extern int vc_manifest_save (int dirfd, const char *dir, const struct vc_manifest *m);

/* 0 when m follows the grammar above, else -1 with why not in *err
 * (allocated; NULL when out of memory).
 */
extern int vc_manifest_check (const struct vc_manifest *m, char **err);

/* The grammar's names, for the other records of a backup directory. */
extern bool vc_manifest_valid_chain (const char *s);
extern bool vc_manifest_valid_checkpoint (const char *s, const char *chain,
                                          unsigned id);
extern bool vc_manifest_valid_disk_name (const char *s);

/* By id, in O(log n): ids are increasing. */
extern struct vc_backup *vc_manifest_find (const struct vc_manifest *m, unsigned id);
/* By id ("3") or checkpoint name; NULL if none. */
extern struct vc_backup *vc_manifest_lookup (const struct vc_manifest *m,
                                             const char *what);
/* The newest backup that is part of a chain (not a copy), or NULL. */
extern struct vc_backup *vc_manifest_tip (const struct vc_manifest *m);
extern const struct vc_backup_disk *vc_backup_disk (const struct vc_backup *b,
                                                    const char *name);

#endif
