/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Warns when a backup directory cannot follow a domain around a cluster:
 * see shared-dir.h.
 */
#include <config.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "backup/shared-dir.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/kv-lines.h"
#include "common/log.h"
#include "store/daemon-client.h"
#include "store/store.h"

/* corosync's own path (Debian's and upstream's default). */
#define COROSYNC_CONF "/etc/corosync/corosync.conf"

/* statfs magic numbers (linux/magic.h and the filesystems' sources; not
 * all are in the kernel's headers).  Anything not listed is unknown, and
 * unknown is never warned about: only a filesystem known to be one
 * node's alone is.
 */
static const struct {
  uint32_t magic;
  const char *name;
  enum vc_fs_kind kind;
} filesystems[] = {
  { 0xEF53, "ext4", VC_FS_LOCAL },          /* ext2, ext3 and ext4 */
  { 0x58465342, "xfs", VC_FS_LOCAL },
  { 0x9123683E, "btrfs", VC_FS_LOCAL },
  { 0x01021994, "tmpfs", VC_FS_LOCAL },
  { 0x858458F6, "ramfs", VC_FS_LOCAL },
  { 0xF2F52010, "f2fs", VC_FS_LOCAL },
  { 0x52654973, "reiserfs", VC_FS_LOCAL },
  { 0x3153464A, "jfs", VC_FS_LOCAL },
  { 0x2FC12FC1, "zfs", VC_FS_LOCAL },
  { 0xCA451A4E, "bcachefs", VC_FS_LOCAL },
  { 0x794C7630, "overlayfs", VC_FS_LOCAL },
  { 0x4D44, "vfat", VC_FS_LOCAL },
  { 0x2011BAB0, "exfat", VC_FS_LOCAL },
  { 0x5346544E, "ntfs", VC_FS_LOCAL },
  { 0x7366746E, "ntfs3", VC_FS_LOCAL },
  { 0x6969, "nfs", VC_FS_SHARED },
  { 0xFF534D42, "cifs", VC_FS_SHARED },
  { 0xFE534D42, "smb2", VC_FS_SHARED },
  { 0x517B, "smb", VC_FS_SHARED },
  { 0x00C36400, "ceph", VC_FS_SHARED },
  { 0x01161970, "gfs2", VC_FS_SHARED },
  { 0x7461636F, "ocfs2", VC_FS_SHARED },
  { 0x65735546, "fuse", VC_FS_SHARED },     /* GlusterFS, ceph-fuse, ... */
  { 0x01021997, "9p", VC_FS_SHARED },
  { 0x5346414F, "afs", VC_FS_SHARED },
  { 0x6B414653, "kafs", VC_FS_SHARED },
  { 0x0BD00BD0, "lustre", VC_FS_SHARED },
  { 0x47504653, "gpfs", VC_FS_SHARED },
  { 0x19830326, "beegfs", VC_FS_SHARED },
  { 0x20030528, "orangefs", VC_FS_SHARED },
};

enum vc_fs_kind
vc_fs_classify (uint32_t f_type, const char **name)
{
  for (size_t i = 0; i < sizeof filesystems / sizeof filesystems[0]; i++)
    if (filesystems[i].magic == f_type) {
      *name = filesystems[i].name;
      return filesystems[i].kind;
    }
  *name = NULL;
  return VC_FS_UNKNOWN;
}

static unsigned
count_words (const char *s)
{
  unsigned n = 0;

  while (*s) {
    while (isspace ((unsigned char) *s))
      s++;
    if (*s == '\0')
      break;
    n++;
    while (*s && !isspace ((unsigned char) *s))
      s++;
  }
  return n;
}

unsigned
vc_status_members (const char *status)
{
  CLEANUP_FREE char *list = status ? vc_kv_get (status, "members") : NULL;

  return list ? count_words (list) : 0;
}

unsigned
vc_corosync_conf_nodes (const char *text)
{
  unsigned n = 0;

  for (const char *line = text; line && *line;) {
    const char *p = line + strspn (line, " \t");

    if (strncmp (p, "node", 4) == 0) {
      p += 4;
      p += strspn (p, " \t");
      if (*p == '{')
        n++;
    }
    line = strchr (line, '\n');
    if (line)
      line++;
  }
  return n;
}

bool
vc_shared_dir_should_warn (enum vc_fs_kind kind, unsigned cluster_nodes)
{
  return kind == VC_FS_LOCAL && cluster_nodes > 1;
}

/* How many nodes this one shares a cluster with, itself included: the
 * configured nodes, else the daemon's current members.
 */
static unsigned
cluster_nodes (struct vc_store *store)
{
  CLEANUP_FREE char *conf = NULL;
  CLEANUP_FREE char *status = NULL;
  size_t len;
  unsigned n = 0;

  if (vc_read_file (AT_FDCWD, COROSYNC_CONF, 1 << 20, &conf, &len) == 0)
    n = vc_corosync_conf_nodes (conf);
  if (n > 1 || store == NULL || store->daemon == NULL)
    return n;
  status = vc_daemon_status (store->daemon);
  if (status && vc_status_members (status) > n)
    n = vc_status_members (status);
  return n;
}

void
vc_shared_dir_check (int dirfd, const char *dir, struct vc_store *store)
{
  struct statfs st;
  const char *name;
  enum vc_fs_kind kind;
  unsigned nodes;

  if (fstatfs (dirfd, &st) == -1)
    return;
  kind = vc_fs_classify ((uint32_t) st.f_type, &name);
  if (kind != VC_FS_LOCAL)
    return;
  nodes = cluster_nodes (store);
  if (!vc_shared_dir_should_warn (kind, nodes))
    return;
  vc_warn ("%s is on a local filesystem (%s) of a node in a cluster of %u: "
           "after the domain moves to another node, its next backup there "
           "will not find this chain; put backup directories on storage "
           "every node sees (see the admin guide)", dir, name, nodes);
}
