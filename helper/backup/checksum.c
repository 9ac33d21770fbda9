/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <string.h>

#include "backup/checksum.h"
#include "common/hex.h"

int
vc_checksum_init (struct vc_checksum *c, enum vc_checksum_algo algo)
{
  memset (c, 0, sizeof *c);
  c->algo = algo;
  if (algo == VC_CHECKSUM_SHA256) {
    sha256_init (&c->sha);
    return 0;
  }
  c->xxh = XXH3_createState ();
  if (c->xxh == NULL || XXH3_128bits_reset (c->xxh) != XXH_OK)
    return -1;
  return 0;
}

void
vc_checksum_update (struct vc_checksum *c, const void *buf, size_t len)
{
  if (c->algo == VC_CHECKSUM_SHA256)
    sha256_update (&c->sha, len, buf);
  else
    XXH3_128bits_update (c->xxh, buf, len);
}

void
vc_checksum_final (struct vc_checksum *c, struct vc_digest *out)
{
  out->algo = c->algo;
  if (c->algo == VC_CHECKSUM_SHA256) {
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_digest (&c->sha, sizeof d, d);
    vc_hex_put (out->hex, d, sizeof d);
  }
  else {
    /* The canonical (big-endian) form is what xxhsum prints. */
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash (&canon, XXH3_128bits_digest (c->xxh));
    vc_hex_put (out->hex, canon.digest, sizeof canon.digest);
    XXH3_freeState (c->xxh);
    c->xxh = NULL;
  }
}

void
vc_checksum_abort (struct vc_checksum *c)
{
  if (c->xxh)
    XXH3_freeState (c->xxh);
  c->xxh = NULL;
}

const char *
vc_checksum_name (enum vc_checksum_algo algo)
{
  return algo == VC_CHECKSUM_SHA256 ? "sha256" : "xxh128";
}

int
vc_checksum_algo_of (const char *name, enum vc_checksum_algo *algo)
{
  if (strcmp (name, "sha256") == 0)
    *algo = VC_CHECKSUM_SHA256;
  else if (strcmp (name, "xxh128") == 0)
    *algo = VC_CHECKSUM_XXH128;
  else
    return -1;
  return 0;
}

size_t
vc_checksum_hex_len (enum vc_checksum_algo algo)
{
  return algo == VC_CHECKSUM_SHA256 ? 64 : 32;
}
