/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is a backup directory on storage every cluster node sees?  A chain
 * lives in one directory: after the domain moves, its next backup on the
 * new node must find that directory's manifest, which a node-local
 * filesystem cannot give it.  virtckpt warns when it can tell.
 */
#ifndef VIRTCKPT_SHARED_DIR_H
#define VIRTCKPT_SHARED_DIR_H

#include <stdbool.h>
#include <stdint.h>

struct vc_store;

enum vc_fs_kind {
  VC_FS_UNKNOWN,                /* cannot tell: never warned about */
  VC_FS_LOCAL,                  /* this node's alone (ext4, xfs, tmpfs...) */
  VC_FS_SHARED,                 /* network or cluster filesystem */
};

/* What statfs's f_type (its low 32 bits) names; *name is the
 * filesystem's name ("ext4" stands for ext2/3/4), or NULL if unknown.
 */
extern enum vc_fs_kind vc_fs_classify (uint32_t f_type, const char **name);

/* Members listed on the "members:" line of virtckptd's status text;
 * 0 when there is none.
 */
extern unsigned vc_status_members (const char *status);

/* node { } entries in a corosync.conf's text (its nodelist). */
extern unsigned vc_corosync_conf_nodes (const char *text);

/* The decision: warn when the directory is local and this node is one
 * of several (cluster_nodes is the larger count of the two above).
 */
extern bool vc_shared_dir_should_warn (enum vc_fs_kind kind,
                                       unsigned cluster_nodes);

/* Warns (once: call it once per backup) when dirfd, the backup directory
 * dir, is on a local filesystem of a node that is part of a cluster
 * (its corosync.conf lists several nodes, or virtckptd reports several
 * members).  store may be NULL.
 */
extern void vc_shared_dir_check (int dirfd, const char *dir,
                                 struct vc_store *store);

#endif
