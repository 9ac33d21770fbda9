/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: qcow2 images in a backup directory, as verify reads
 * them.
 *
 * The input is one byte choosing the backing file the manifest expects
 * (none, or the parent backup's image), then the image.  The harness
 * writes the image into a backup directory with a manifest entry whose
 * size and checksum match it, so verify gets past the checksum to the
 * image header, and calls vc_verify_backup.  Whatever the header says,
 * nothing may crash or read outside the file, and verify passes only
 * when the header names exactly the expected backing file.
 */
#include <config.h>

#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "backup/checksum.h"
#include "backup/manifest.h"
#include "backup/verify.h"

#define PARENT_IMAGE "../0001-full/vda.qcow2"

static char *top;
static int top_fd = -1;

static void
remove_scratch (void)
{
  unlinkat (top_fd, "0002-inc/vda.qcow2", 0);
  unlinkat (top_fd, "0002-inc", AT_REMOVEDIR);
  rmdir (top);
}

static void
setup (void)
{
  const char *tmp = getenv ("TMPDIR");

  fuzz_quiet_logs ();
  top = vc_printf ("%s/fuzz-qcow2-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (top == NULL || mkdtemp (top) == NULL ||
      (top_fd = open (top, O_RDONLY | O_DIRECTORY)) == -1 ||
      mkdirat (top_fd, "0002-inc", 0700) == -1)
    fuzz_fail ("cannot make a scratch directory");
  atexit (remove_scratch);
}

/* Whether the header names want as backing file, as QEMU reads it: the
 * name is backing_file_size bytes at backing_file_offset, and ends at a
 * NUL; no offset, or an empty name, is no backing file.  The property's
 * oracle, written from the qcow2 specification, not from the code under
 * test.
 */
static bool
header_names (const uint8_t *img, size_t size, const char *want)
{
  uint64_t off;
  uint32_t len;
  size_t name_len;

  if (size < 20)
    return false;
  memcpy (&off, img + 8, 8);
  memcpy (&len, img + 16, 4);
  off = be64toh (off);
  len = be32toh (len);
  if (off == 0 || len == 0)
    return *want == '\0';
  if (off > size || size - off < len)
    return false;
  name_len = strnlen ((const char *) img + off, len);
  return name_len == strlen (want) && memcmp (img + off, want, name_len) == 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vc_backup_disk disk = { .name = "vda", .file = "vda.qcow2" };
  struct vc_backup b = { .id = 2, .level = "inc", .parent = 1, .dir = "0002-inc" };
  struct vc_checksum ctx;
  const uint8_t *img = data + 1;
  size_t img_size = size ? size - 1 : 0;
  int fd, r;

  if (size == 0)
    return 0;
  if (top == NULL)
    setup ();
  disk.backing = data[0] & 1 ? PARENT_IMAGE : NULL;
  fd = openat (top_fd, "0002-inc/vda.qcow2", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1 || (img_size && write (fd, img, img_size) != (ssize_t) img_size))
    fuzz_fail ("cannot write the image");
  close (fd);
  if (vc_checksum_init (&ctx, VC_CHECKSUM_XXH128) == -1)
    fuzz_fail ("no checksum");
  vc_checksum_update (&ctx, img, img_size);
  vc_checksum_final (&ctx, &disk.sum);
  disk.file_size = img_size;
  b.disks.ptr = &disk;
  b.disks.len = 1;

  r = vc_verify_backup (top_fd, top, &b, false);
  if (r == 0 && !header_names (img, img_size, disk.backing ? disk.backing : ""))
    fuzz_fail ("verify passed an image whose header does not name '%s'",
               disk.backing ? disk.backing : "");
  return 0;
}
