/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include "backup/qcow2-plan.h"
#include "backup/restore-target.h"
#include "common/full-io.h"
#include "common/cleanup.h"
#include "common/log.h"

#define ZERO_CHUNK (UINT64_C (4) << 20)

static int
prepare_qcow2 (struct vc_restore_target *t, const struct vc_chain_map *map)
{
  vc_range_vector none = empty_vector;
  struct vc_qcow2_plan plan = {
    .virtual_size = map->virtual_size, .data = &map->data, .zero = &none,
  };

  if (vc_qcow2_plan_layout (&plan) == -1) {
    vc_error ("%s: cannot lay out the image: %m", t->label);
    return -1;
  }
  t->data_offset = plan.data_offset;
  if (ftruncate (t->fd, plan.file_size) == -1 ||
      vc_qcow2_plan_write_metadata (&plan, t->fd) == -1) {
    vc_error ("%s: cannot write: %m", t->label);
    return -1;
  }
  return 0;
}

/* [off, off+len) of a device reads as zero afterwards. */
static int
zero_device (struct vc_restore_target *t, uint64_t off, uint64_t len)
{
  static const unsigned char zeroes[65536];
  uint64_t range[2] = { off, len };

  if (len == 0)
    return 0;
  if (off % 512 == 0 && len % 512 == 0 && ioctl (t->fd, BLKZEROOUT, range) == 0)
    return 0;
  while (len) {
    size_t n = len < sizeof zeroes ? len : sizeof zeroes;
    if (vc_pwrite_full (t->fd, zeroes, n, off) == -1)
      return -1;
    off += n;
    len -= n;
  }
  return 0;
}

static int
prepare_device (struct vc_restore_target *t, const struct vc_chain_map *map)
{
  uint64_t size, pos = 0, head = VC_RESTORE_HEAD;

  if (ioctl (t->fd, BLKGETSIZE64, &size) == -1) {
    vc_error ("%s: cannot get its size: %m", t->label);
    return -1;
  }
  if (size < t->virtual_size) {
    vc_error ("%s: %" PRIu64 " bytes, too small for a disk of %" PRIu64
              " bytes: nothing written", t->label, size, t->virtual_size);
    return -1;
  }
  if (head > t->virtual_size)
    head = t->virtual_size;
  t->head = calloc (1, VC_RESTORE_HEAD);
  if (t->head == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  /* The head first: from now on the device does not look like a disk. */
  t->touched = true;
  if (zero_device (t, 0, head) == -1 || fdatasync (t->fd) == -1)
    goto fail;
  for (size_t i = 0; i <= map->data.len; i++) {
    uint64_t end = i < map->data.len ? map->data.ptr[i].offset : t->virtual_size;
    if (end > t->virtual_size)
      end = t->virtual_size;
    uint64_t start = pos > head ? pos : head;
    if (end > start && zero_device (t, start, end - start) == -1)
      goto fail;
    if (i < map->data.len)
      pos = map->data.ptr[i].offset + map->data.ptr[i].length;
  }
  return 0;
 fail:
  vc_error ("%s: cannot write: %m", t->label);
  return -1;
}

int
vc_target_prepare (struct vc_restore_target *t, const struct vc_chain_map *map)
{
  t->virtual_size = map->virtual_size;
  t->written = 0;
  switch (t->kind) {
  case VC_TARGET_QCOW2:
    return prepare_qcow2 (t, map);
  case VC_TARGET_DEVICE:
    return prepare_device (t, map);
  case VC_TARGET_RAW:
  default:
    if (ftruncate (t->fd, map->virtual_size) == -1) {
      vc_error ("%s: cannot write: %m", t->label);
      return -1;
    }
    return 0;
  }
}

/* Sends the extent written since the last call to disk, then waits for
 * the one sent before and drops it from the page cache.  Errors here are
 * not final: the fdatasync of vc_target_finish reports them.
 */
static void
writeback (struct vc_restore_target *t)
{
  sync_file_range (t->fd, t->wb_lo, t->wb_hi - t->wb_lo, SYNC_FILE_RANGE_WRITE);
  if (t->prev_hi > t->prev_lo) {
    sync_file_range (t->fd, t->prev_lo, t->prev_hi - t->prev_lo,
                     SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                     SYNC_FILE_RANGE_WAIT_AFTER);
    posix_fadvise (t->fd, t->prev_lo, t->prev_hi - t->prev_lo, POSIX_FADV_DONTNEED);
  }
  t->prev_lo = t->wb_lo;
  t->prev_hi = t->wb_hi;
  t->wb_bytes = 0;
}

int
vc_target_write (struct vc_restore_target *t, const struct vc_run *r,
                 uint64_t delta, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint64_t off;

  if (t->kind == VC_TARGET_QCOW2)
    off = t->data_offset + r->rank * VC_QCOW2_CLUSTER_SIZE + delta;
  else {
    off = r->guest + delta;
    /* The last cluster may reach past the end of the disk. */
    if (off >= t->virtual_size)
      return 0;
    if (len > t->virtual_size - off)
      len = t->virtual_size - off;
    if (t->head && off < VC_RESTORE_HEAD) {
      size_t n = VC_RESTORE_HEAD - off < len ? VC_RESTORE_HEAD - off : len;
      memcpy (t->head + off, p, n);
      p += n;
      off += n;
      len -= n;
    }
  }
  if (len == 0)
    return 0;
  if (vc_pwrite_full (t->fd, p, len, off) == -1) {
    vc_error ("%s: cannot write: %m", t->label);
    return -1;
  }
  t->written += len;
  /* The links of a chain write the clusters they hold, scattered over
   * the target: the extent is what lies between the lowest and the
   * highest byte written (only dirty pages in it are written).
   */
  if (t->wb_bytes == 0 || off < t->wb_lo)
    t->wb_lo = off;
  if (t->wb_bytes == 0 || off + len > t->wb_hi)
    t->wb_hi = off + len;
  t->wb_bytes += len;
  if (t->wb_bytes >= VC_RESTORE_WRITEBACK)
    writeback (t);
  return 0;
}

int
vc_target_finish (struct vc_restore_target *t)
{
  if (t->head) {
    uint64_t head = t->virtual_size < VC_RESTORE_HEAD ? t->virtual_size : VC_RESTORE_HEAD;
    if (fdatasync (t->fd) == -1 || vc_pwrite_full (t->fd, t->head, head, 0) == -1) {
      vc_error ("%s: cannot write: %m", t->label);
      return -1;
    }
  }
  if (fdatasync (t->fd) == -1) {
    vc_error ("%s: cannot write: %m", t->label);
    return -1;
  }
  return 0;
}

void
vc_target_clear (struct vc_restore_target *t)
{
  free (t->head);
  t->head = NULL;
}
