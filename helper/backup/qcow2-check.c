/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "common/full-io.h"
#include "backup/qcow2-check.h"

#define V2_HEADER_LENGTH 72
#define V3_HEADER_LENGTH 104
#define MAX_BACKING_NAME 1023           /* QEMU's own limit */

#define EXT_END 0x00000000u
#define EXT_BACKING_FORMAT 0xE2792ACAu
#define EXT_FEATURE_NAMES 0x6803f857u
#define EXT_BITMAPS 0x23852875u
#define EXT_CRYPTO 0x0537be77u
#define EXT_DATA_FILE 0x44415441u

#define INCOMPAT_DIRTY 1u
#define INCOMPAT_CORRUPT 2u
#define INCOMPAT_DATA_FILE 4u

static const char *
check_features (uint64_t incompat)
{
  if (incompat & INCOMPAT_DATA_FILE)
    return "it uses an external data file";
  if (incompat & INCOMPAT_CORRUPT)
    return "it is marked corrupt";
  if (incompat & INCOMPAT_DIRTY)
    return "it is marked dirty (not cleanly closed)";
  if (incompat)
    return "it uses incompatible features virtckpt never writes";
  return NULL;
}

/* One extension: its type and data.  The backing format must name qcow2,
 * the only format of a backup's images; extensions that name other files
 * or keys are refused, and so are types unknown to this check.
 */
static const char *
check_extension (uint32_t type, const unsigned char *data, uint32_t len,
                 const char *want_backing)
{
  switch (type) {
  case EXT_BACKING_FORMAT:
    if (want_backing == NULL)
      return "it has a backing format but no backing file is expected";
    if (len != 5 || memcmp (data, "qcow2", 5) != 0)
      return "its backing format is not qcow2";
    return NULL;
  case EXT_FEATURE_NAMES:
  case EXT_BITMAPS:
    return NULL;
  case EXT_DATA_FILE:
    return "it names an external data file";
  case EXT_CRYPTO:
    return "it is encrypted";
  default:
    return "it has a header extension of an unknown type";
  }
}

/* Extensions lie in [pos, end): end is the backing name, or the end of
 * the first cluster.  Every step moves on by at least 8 bytes.
 */
static const char *
check_extensions (const unsigned char *h, uint64_t pos, uint64_t end,
                  const char *want_backing)
{
  for (;;) {
    if (end < 8 || pos > end - 8)
      return "its header extensions do not fit";
    uint32_t type = vc_be32 (h + pos), len = vc_be32 (h + pos + 4);
    uint64_t padded = ((uint64_t) len + 7) & ~UINT64_C (7);
    if (type == EXT_END)
      return NULL;
    if (padded > end - pos - 8)
      return "its header extensions do not fit";
    const char *why = check_extension (type, h + pos + 8, len, want_backing);
    if (why)
      return why;
    pos += 8 + padded;
  }
}

static const char *
check_backing (const unsigned char *h, uint64_t header_length, uint64_t limit,
               const char *want)
{
  uint64_t off = vc_be64 (h + 8);
  uint32_t size = vc_be32 (h + 16);

  if (want == NULL)
    return off ? "it has a backing file, and none is expected" : NULL;
  if (off == 0)
    return "it has no backing file";
  if (off < header_length)
    return "its backing file name overlaps its header";
  if (size > MAX_BACKING_NAME || off > limit || size > limit - off)
    return "its backing file name does not fit in its header";
  if (size != strlen (want) || memcmp (h + off, want, size) != 0)
    return "its backing file name is not the one the manifest implies";
  return NULL;
}

const char *
vc_qcow2_check_header (const unsigned char *h, size_t len, const char *want_backing)
{
  uint32_t version, cluster_bits, header_length;
  uint64_t cluster_size, limit, backing_off, ext_end;
  const char *why;

  if (len < V2_HEADER_LENGTH || memcmp (h, "QFI\xfb", 4) != 0)
    return "it is not a qcow2 image";
  version = vc_be32 (h + 4);
  if (version != 2 && version != 3)
    return "it is a qcow2 image of an unknown version";
  cluster_bits = vc_be32 (h + 20);
  if (cluster_bits < 9 || cluster_bits > 21)
    return "its cluster size is invalid";
  if (vc_be32 (h + 32) != 0)
    return "it is encrypted";
  cluster_size = UINT64_C (1) << cluster_bits;
  limit = len < cluster_size ? len : cluster_size;

  header_length = V2_HEADER_LENGTH;
  if (version == 3) {
    if (len < V3_HEADER_LENGTH)
      return "its header is truncated";
    header_length = vc_be32 (h + 100);
    if (header_length < V3_HEADER_LENGTH || header_length % 8 || header_length > limit)
      return "its header length is invalid";
    if ((why = check_features (vc_be64 (h + 72))) != NULL)
      return why;
  }
  if ((why = check_backing (h, header_length, limit, want_backing)) != NULL)
    return why;
  backing_off = vc_be64 (h + 8);
  ext_end = backing_off ? backing_off : limit;
  return check_extensions (h, header_length, ext_end, want_backing);
}
