/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the map of a qcow2 image of a backup: which guest cluster is
 * where in the file, which reads as zero, which is not there (and so comes
 * from the backing image).  Only what virtckpt writes is accepted: qcow2
 * v2 or v3, 64 KiB clusters, no encryption, no incompatible feature (no
 * external data file, no compression type, no extended L2), no compressed
 * cluster.  The image is untrusted input: every L1 and L2 entry is checked
 * (reserved bits clear, offset cluster aligned, the cluster inside the
 * file) before it is used.  Refcounts are never needed to read, and are
 * not read.
 *
 * I/O goes through a pread callback, so that the reader can be fuzzed on
 * a buffer.  Memory: the L1 table (8 bytes per 512 MiB of guest) and one
 * L2 table at a time, in the caller's buffer.
 */
#ifndef VIRTCKPT_QCOW2_READ_H
#define VIRTCKPT_QCOW2_READ_H

#include <stdint.h>

#include "backup/qcow2-plan.h"

/* Guest bytes one L2 table maps. */
#define VC_QCOW2_L2_ENTRIES (VC_QCOW2_CLUSTER_SIZE / 8)
#define VC_QCOW2_L2_COVERS (VC_QCOW2_L2_ENTRIES * VC_QCOW2_CLUSTER_SIZE)

/* A cluster's place, as vc_qcow2_read_l2 gives it: a host offset (a
 * non-zero multiple of the cluster size), or one of these.
 */
#define VC_QCOW2_UNALLOCATED UINT64_C (0)  /* from the backing image */
#define VC_QCOW2_ZERO UINT64_C (1)         /* reads as zeroes */

/* The why of a read that failed; errno says more. */
extern const char vc_qcow2_read_error[];

/* Reads len bytes at off; 0, or -1 with errno set (a short read: EIO). */
typedef int (*vc_pread_fn) (void *opaque, void *buf, size_t len, uint64_t off);

struct vc_qcow2_image {
  vc_pread_fn pread;
  void *opaque;
  uint64_t file_size;

  /* Set by vc_qcow2_read_open. */
  uint64_t virtual_size;
  uint64_t l1_entries;          /* those the virtual size needs */
  uint64_t *l1;                 /* host offsets of L2 tables, 0: none */
  uint64_t bytes_read;          /* of metadata, by this reader */
  int version;
};

/* Reads and checks the header and the L1 table.  Returns NULL, or why the
 * image is refused (a static string; on a read error, errno is set and
 * the string says it could not be read).  vc_qcow2_read_close frees the
 * L1 table in both cases.
 */
extern const char *vc_qcow2_read_open (struct vc_qcow2_image *img);
extern void vc_qcow2_read_close (struct vc_qcow2_image *img);

/* Fills map[0 .. VC_QCOW2_L2_ENTRIES) with the places of the clusters
 * that L2 table `table` covers (guest offsets table * VC_QCOW2_L2_COVERS
 * on): host offsets, VC_QCOW2_ZERO or VC_QCOW2_UNALLOCATED.  Clusters
 * past the virtual size are VC_QCOW2_UNALLOCATED.  `table` must be below
 * l1_entries.  Returns NULL or why not, as vc_qcow2_read_open.
 */
extern const char *vc_qcow2_read_l2 (struct vc_qcow2_image *img, uint64_t table,
                                     uint64_t *map);

#endif
