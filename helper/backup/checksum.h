/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checksums of backup files, computed as the files stream out.
 *
 * xxh128 (XXH3, 128 bits) is the default: it keeps up with any disk at a
 * fraction of a core, and `xxhsum -H2 FILE` checks it with stock tools.
 * sha256 (`sha256sum FILE`) is there for those who need a cryptographic
 * digest, at about 1.3 GB/s of one core.
 */
#ifndef VIRTCKPT_CHECKSUM_H
#define VIRTCKPT_CHECKSUM_H

#include <stddef.h>
#include <xxhash.h>
#include <nettle/sha2.h>

enum vc_checksum_algo {
  VC_CHECKSUM_XXH128,
  VC_CHECKSUM_SHA256,
};

#define VC_CHECKSUM_HEX_MAX 65

struct vc_digest {
  enum vc_checksum_algo algo;
  char hex[VC_CHECKSUM_HEX_MAX];        /* lowercase, as the stock tools print */
};

struct vc_checksum {
  enum vc_checksum_algo algo;
  struct sha256_ctx sha;
  XXH3_state_t *xxh;
};

extern int vc_checksum_init (struct vc_checksum *c, enum vc_checksum_algo algo);
extern void vc_checksum_update (struct vc_checksum *c, const void *buf, size_t len);
/* Ends the computation (and frees its state). */
extern void vc_checksum_final (struct vc_checksum *c, struct vc_digest *out);
extern void vc_checksum_abort (struct vc_checksum *c);

extern const char *vc_checksum_name (enum vc_checksum_algo algo);
/* -1 for an unknown name. */
extern int vc_checksum_algo_of (const char *name, enum vc_checksum_algo *algo);
/* Hex digits of a digest of algo. */
extern size_t vc_checksum_hex_len (enum vc_checksum_algo algo);

#endif
