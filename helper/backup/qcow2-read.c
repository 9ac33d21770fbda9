/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backup/qcow2-read.h"
#include "common/full-io.h"
#include "common/cleanup.h"

#define CS VC_QCOW2_CLUSTER_SIZE
#define HEADER_READ 104                 /* a v3 header without extensions */
#define MAX_L1_BYTES (32 * 1024 * 1024) /* QEMU's own limit */

#define OFFSET_MASK UINT64_C (0x00fffffffffffe00)
#define L1_RESERVED UINT64_C (0x7f000000000001fe)
#define L2_RESERVED UINT64_C (0x3f000000000001fe)
#define L2_COMPRESSED (UINT64_C (1) << 62)
#define L2_ZERO UINT64_C (1)

const char vc_qcow2_read_error[] = "it cannot be read";
#define READ_ERROR vc_qcow2_read_error

/* A cluster at host offset off must lie wholly inside the file. */
static bool
in_file (const struct vc_qcow2_image *img, uint64_t off)
{
  return off % CS == 0 && off <= img->file_size &&
    img->file_size - off >= CS;
}

static const char *
check_header (struct vc_qcow2_image *img, const unsigned char *h,
              uint32_t *l1_size, uint64_t *l1_offset)
{
  if (memcmp (h, "QFI\xfb", 4) != 0)
    return "it is not a qcow2 image";
  img->version = vc_be32 (h + 4);
  if (img->version != 2 && img->version != 3)
    return "it is a qcow2 image of an unknown version";
  if (vc_be32 (h + 20) != VC_QCOW2_CLUSTER_BITS)
    return "its cluster size is not 64 KiB, the only one virtckpt writes";
  if (vc_be32 (h + 32) != 0)
    return "it is encrypted";
  if (img->version == 3 && vc_be64 (h + 72) != 0)
    return "it uses incompatible features virtckpt never writes";
  img->virtual_size = vc_be64 (h + 24);
  *l1_size = vc_be32 (h + 36);
  *l1_offset = vc_be64 (h + 40);
  /* QEMU's limit too: offsets keep bit 56 and up clear. */
  if (img->virtual_size > (UINT64_C (1) << 55))
    return "its virtual size is too large";
  img->l1_entries = (img->virtual_size + VC_QCOW2_L2_COVERS - 1) / VC_QCOW2_L2_COVERS;
  if (*l1_size < img->l1_entries || (uint64_t) *l1_size * 8 > MAX_L1_BYTES)
    return "its L1 table size does not match its virtual size";
  if (img->l1_entries &&
      (*l1_offset % CS || *l1_offset > img->file_size ||
       img->file_size - *l1_offset < img->l1_entries * 8))
    return "its L1 table lies outside the file";
  return NULL;
}

const char *
vc_qcow2_read_open (struct vc_qcow2_image *img)
{
  unsigned char h[HEADER_READ];
  uint32_t l1_size;
  uint64_t l1_offset;
  const char *why;

  img->l1 = NULL;
  img->bytes_read = 0;
  if (img->file_size < HEADER_READ)
    return "it is not a qcow2 image";
  if (img->pread (img->opaque, h, sizeof h, 0) == -1)
    return READ_ERROR;
  img->bytes_read += sizeof h;
  if ((why = check_header (img, h, &l1_size, &l1_offset)) != NULL)
    return why;
  img->l1 = calloc (img->l1_entries ? img->l1_entries : 1, 8);
  if (img->l1 == NULL)
    return "there is not enough memory for its L1 table";
  if (img->l1_entries == 0)
    return NULL;
  if (img->pread (img->opaque, img->l1, img->l1_entries * 8, l1_offset) == -1)
    return READ_ERROR;
  img->bytes_read += img->l1_entries * 8;
  for (uint64_t i = 0; i < img->l1_entries; i++) {
    uint64_t e = be64toh (img->l1[i]);
    if (e & L1_RESERVED)
      return "an L1 entry has reserved bits set";
    img->l1[i] = e & OFFSET_MASK;
    if (img->l1[i] && !in_file (img, img->l1[i]))
      return "an L1 entry points outside the file or is not aligned";
  }
  return NULL;
}

void
vc_qcow2_read_close (struct vc_qcow2_image *img)
{
  free (img->l1);
  img->l1 = NULL;
}

static const char *
place (const struct vc_qcow2_image *img, uint64_t e, uint64_t *out)
{
  uint64_t off = e & OFFSET_MASK;

  if (e & L2_COMPRESSED)
    return "it has compressed clusters, which virtckpt never writes";
  if (e & L2_RESERVED)
    return "an L2 entry has reserved bits set";
  if (e & L2_ZERO) {
    if (img->version < 3)
      return "an L2 entry has reserved bits set";
    *out = VC_QCOW2_ZERO;
    return NULL;
  }
  if (off == 0) {
    *out = VC_QCOW2_UNALLOCATED;
    return NULL;
  }
  if (!in_file (img, off))
    return "an L2 entry points outside the file or is not aligned";
  *out = off;
  return NULL;
}

const char *
vc_qcow2_read_l2 (struct vc_qcow2_image *img, uint64_t table, uint64_t *map)
{
  uint64_t first = table * VC_QCOW2_L2_COVERS;
  const char *why;

  memset (map, 0, VC_QCOW2_L2_ENTRIES * 8);
  if (table >= img->l1_entries || img->l1[table] == 0)
    return NULL;
  if (img->pread (img->opaque, map, CS, img->l1[table]) == -1)
    return READ_ERROR;
  img->bytes_read += CS;
  for (uint64_t i = 0; i < VC_QCOW2_L2_ENTRIES; i++) {
    uint64_t e = be64toh (map[i]);
    if (first + i * CS >= img->virtual_size) {
      map[i] = VC_QCOW2_UNALLOCATED;
      continue;
    }
    if ((why = place (img, e, &map[i])) != NULL)
      return why;
  }
  return NULL;
}
