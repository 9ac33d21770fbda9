/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the qcow2 header check, straight (fuzz-qcow2 reaches
 * it through verify, with a manifest around it).
 *
 * The first byte chooses the backing name the manifest would imply: none,
 * a name virtckpt writes, or whatever the header itself names (so that
 * the accepting paths are reached too).  The rest is the header.  An
 * accepted header must say what the check promises (qcow2-check.h): the
 * magic, version 2 or 3, no encryption, no incompatible feature, and
 * exactly the expected backing name.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/qcow2-check.h"
#include "common/cleanup.h"
#include "fuzz-common.h"

static uint64_t
be (const unsigned char *p, size_t n)
{
  uint64_t v = 0;

  for (size_t i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

/* The backing name the header claims, as a string, or NULL. */
static char *
claimed_backing (const unsigned char *h, size_t len)
{
  uint64_t off, size;

  if (len < 20)
    return NULL;
  off = be (h + 8, 8);
  size = be (h + 16, 4);
  if (size == 0 || off > len || size > len - off || memchr (h + off, 0, size))
    return NULL;
  return strndup ((const char *) h + off, size);
}

static void
check_accepted (const unsigned char *h, size_t len, const char *want)
{
  uint64_t version, off, size;

  if (len < 72 || memcmp (h, "QFI\xfb", 4) != 0)
    fuzz_fail ("accepted a header without the qcow2 magic");
  version = be (h + 4, 4);
  if (version != 2 && version != 3)
    fuzz_fail ("accepted version %llu", (unsigned long long) version);
  if (be (h + 32, 4) != 0)
    fuzz_fail ("accepted an encrypted image");
  if (version == 3 && (len < 80 || be (h + 72, 8) != 0))
    fuzz_fail ("accepted incompatible features");
  off = be (h + 8, 8);
  size = be (h + 16, 4);
  if (want == NULL) {
    if (off != 0 && size != 0)
      fuzz_fail ("accepted a backing name where none was expected");
    return;
  }
  if (size != strlen (want) || off > len || size > len - off ||
      memcmp (h + off, want, size) != 0)
    fuzz_fail ("accepted a backing name other than '%s'", want);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  CLEANUP_FREE char *claimed = NULL;
  const char *want = NULL;
  const unsigned char *h;
  size_t len;

  if (size < 1)
    return 0;
  h = data + 1;
  len = size - 1;
  if (len > VC_QCOW2_CHECK_BYTES)
    len = VC_QCOW2_CHECK_BYTES;
  switch (data[0] % 3) {
  case 1:
    want = "../0001-full-20261127T070000Z/vda.qcow2";
    break;
  case 2:
    want = claimed = claimed_backing (h, len);
    break;
  }
  if (vc_qcow2_check_header (h, len, want) == NULL)
    check_accepted (h, len, want);
  return 0;
}
