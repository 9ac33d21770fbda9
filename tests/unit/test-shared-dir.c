/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/shared-dir.c: which filesystems a backup
 * directory may be on in a cluster, and when virtckpt says so.  The
 * magic numbers are the kernel's (linux/magic.h) where it has them.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backup/shared-dir.h"
#include "unit-common.h"

static const struct {
  uint32_t f_type;
  const char *name;
  enum vc_fs_kind kind;
} cases[] = {
  { EXT4_SUPER_MAGIC, "ext4", VC_FS_LOCAL },
  { XFS_SUPER_MAGIC, "xfs", VC_FS_LOCAL },
  { BTRFS_SUPER_MAGIC, "btrfs", VC_FS_LOCAL },
  { TMPFS_MAGIC, "tmpfs", VC_FS_LOCAL },
  { RAMFS_MAGIC, "ramfs", VC_FS_LOCAL },
  { F2FS_SUPER_MAGIC, "f2fs", VC_FS_LOCAL },
  { REISERFS_SUPER_MAGIC, "reiserfs", VC_FS_LOCAL },
  { OVERLAYFS_SUPER_MAGIC, "overlayfs", VC_FS_LOCAL },
  { MSDOS_SUPER_MAGIC, "vfat", VC_FS_LOCAL },
  { EXFAT_SUPER_MAGIC, "exfat", VC_FS_LOCAL },
  { 0x2FC12FC1, "zfs", VC_FS_LOCAL },
  { NFS_SUPER_MAGIC, "nfs", VC_FS_SHARED },
  { CIFS_SUPER_MAGIC, "cifs", VC_FS_SHARED },
  { SMB2_SUPER_MAGIC, "smb2", VC_FS_SHARED },
  { SMB_SUPER_MAGIC, "smb", VC_FS_SHARED },
  { CEPH_SUPER_MAGIC, "ceph", VC_FS_SHARED },
  { 0x01161970, "gfs2", VC_FS_SHARED },
  { OCFS2_SUPER_MAGIC, "ocfs2", VC_FS_SHARED },
  { FUSE_SUPER_MAGIC, "fuse", VC_FS_SHARED },
  { V9FS_MAGIC, "9p", VC_FS_SHARED },
  { AFS_SUPER_MAGIC, "afs", VC_FS_SHARED },
  { 0x0BD00BD0, "lustre", VC_FS_SHARED },
  { 0x47504653, "gpfs", VC_FS_SHARED },
  /* Neither: never warned about. */
  { PROC_SUPER_MAGIC, NULL, VC_FS_UNKNOWN },
  { 0x12345678, NULL, VC_FS_UNKNOWN },
  { 0, NULL, VC_FS_UNKNOWN },
};

static void
test_classify_table (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    const char *name = "unset";

    print_message ("f_type %#x\n", cases[i].f_type);
    assert_int_equal (vc_fs_classify (cases[i].f_type, &name), cases[i].kind);
    if (cases[i].name)
      assert_string_equal (name, cases[i].name);
    else
      assert_null (name);
  }
}

/* What fstatfs gives for real directories: /dev/shm is tmpfs, /proc proc. */
static void
test_classify_real_dirs (void **state)
{
  struct statfs st;
  const char *name;
  int fd = open ("/proc", O_RDONLY | O_DIRECTORY);

  assert_true (fd >= 0);
  assert_int_equal (fstatfs (fd, &st), 0);
  close (fd);
  assert_int_equal (vc_fs_classify ((uint32_t) st.f_type, &name), VC_FS_UNKNOWN);
  if (statfs ("/dev/shm", &st) == 0 && (uint32_t) st.f_type == TMPFS_MAGIC) {
    assert_int_equal (vc_fs_classify ((uint32_t) st.f_type, &name), VC_FS_LOCAL);
    assert_string_equal (name, "tmpfs");
  }
}

static void
test_status_members (void **state)
{
  assert_int_equal (vc_status_members ("node: 1\nstore: /x\nstate: synced\n"
                                       "members: 1 2 3\nquorate: yes\n"), 3);
  assert_int_equal (vc_status_members ("node: 2\nmembers: 2\n"), 1);
  /* Written as "members:" with nothing after it when alone and offline. */
  assert_int_equal (vc_status_members ("node: 0\nmembers:\nquorate: no\n"), 0);
  /* Only the line of that key: a conflict naming "members: 4 5" is a value. */
  assert_int_equal (vc_status_members ("members: 1\nconflict: members: 4 5\n"), 1);
  assert_int_equal (vc_status_members (""), 0);
  assert_int_equal (vc_status_members (NULL), 0);
}

/* Debian's corosync package ships a one-node nodelist: no cluster. */
static const char debian_default[] =
  "totem {\n\tversion: 2\n\tcluster_name: debian\n}\n"
  "nodelist {\n\t# node {\n\tnode {\n\t\tname: node1\n\t\tnodeid: 1\n"
  "\t\tring0_addr: 127.0.0.1\n\t}\n}\n";

static const char three_nodes[] =
  "nodelist {\n"
  "  node {\n    ring0_addr: n1\n    nodeid: 1\n  }\n"
  "  node{\n    ring0_addr: n2\n    nodeid: 2\n  }\n"
  "  node {\n    ring0_addr: n3\n    nodeid: 3\n  }\n"
  "}\n";

static void
test_corosync_conf_nodes (void **state)
{
  assert_int_equal (vc_corosync_conf_nodes (debian_default), 1);
  assert_int_equal (vc_corosync_conf_nodes (three_nodes), 3);
  assert_int_equal (vc_corosync_conf_nodes ("nodelist {\n}\n"), 0);
  assert_int_equal (vc_corosync_conf_nodes ("nodeid: 4\nnodes {\n"), 0);
  assert_int_equal (vc_corosync_conf_nodes (""), 0);
  assert_int_equal (vc_corosync_conf_nodes (NULL), 0);
}

static void
test_should_warn (void **state)
{
  assert_true (vc_shared_dir_should_warn (VC_FS_LOCAL, 2));
  assert_true (vc_shared_dir_should_warn (VC_FS_LOCAL, 16));
  assert_false (vc_shared_dir_should_warn (VC_FS_LOCAL, 1));
  assert_false (vc_shared_dir_should_warn (VC_FS_LOCAL, 0));
  assert_false (vc_shared_dir_should_warn (VC_FS_SHARED, 3));
  assert_false (vc_shared_dir_should_warn (VC_FS_UNKNOWN, 3));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_classify_table),
    cmocka_unit_test (test_classify_real_dirs),
    cmocka_unit_test (test_status_members),
    cmocka_unit_test (test_corosync_conf_nodes),
    cmocka_unit_test (test_should_warn),
  };

  vc_test_log_init ("test-shared-dir");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
