/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where each guest cluster of a disk at one backup comes from: the
 * topmost link of its chain that has it (data, or marked zero), or
 * nowhere (it reads as zero).  Only the L2 tables the walk reaches are
 * read: a link is asked about a cluster only when every link above it
 * left the cluster unallocated.
 *
 * The result is, for each link, the runs of its file to copy, sorted by
 * host offset so that the file can be read in one sequential pass, and the
 * guest ranges that hold data, in guest order (the layout of a qcow2
 * target).  A cluster past a link's virtual size reads as zero, as QEMU
 * reads past the end of a backing image.
 */
#ifndef VIRTCKPT_RESTORE_MAP_H
#define VIRTCKPT_RESTORE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "backup/extent.h"
#include "backup/qcow2-read.h"
#include "common/vector.h"

struct vc_run {
  uint64_t host;                /* offset in the link's file */
  uint64_t guest;               /* offset in the disk */
  uint64_t rank;                /* data clusters of the disk before guest */
  uint64_t length;              /* a multiple of the cluster size */
};
DEFINE_VECTOR_TYPE (vc_run_vector, struct vc_run);

struct vc_chain_map {
  uint64_t virtual_size;        /* the top link's */
  vc_run_vector *runs;          /* one vector per link, top first */
  vc_range_vector data;         /* guest ranges with data, in order */
  vc_range_vector zero;         /* guest ranges a link marks zero (or past
                                   the end of a backing), in order */
  uint64_t data_clusters;
};

/* Maps the chain links[0] (top) .. links[n-1] (the full backup), each
 * opened with vc_qcow2_read_open.  Returns NULL, or why not with the
 * link at fault in *bad (see vc_qcow2_read_l2).  Refuses a link whose
 * runs share host clusters: virtckpt never writes one, and a single
 * sequential pass needs them disjoint.
 */
extern const char *vc_chain_map_build (struct vc_qcow2_image *links, size_t n,
                                       struct vc_chain_map *map, size_t *bad);
extern void vc_chain_map_clear (struct vc_chain_map *map, size_t n);

#endif
