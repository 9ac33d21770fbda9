/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/sha2.h>

#include "common/cleanup.h"
#include "common/hex.h"
#include "store/name-map.h"

static bool
is_plain (unsigned char c, size_t pos)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
    (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && pos > 0);
}

static char *
hashed_file (const char *name)
{
  struct sha256_ctx ctx;
  uint8_t digest[SHA256_DIGEST_SIZE];
  char *file = malloc (1 + 2 * SHA256_DIGEST_SIZE + sizeof VC_DOC_SUFFIX);
  char *p = file;

  if (file == NULL)
    return NULL;
  sha256_init (&ctx);
  sha256_update (&ctx, strlen (name), (const uint8_t *) name);
  sha256_digest (&ctx, sizeof digest, digest);
  *p++ = '~';
  vc_hex_put (p, digest, sizeof digest);
  strcat (p, VC_DOC_SUFFIX);
  return file;
}

char *
vc_name_to_file (const char *name)
{
  size_t enc;
  char *file;

  if (*name == '\0') {
    errno = EINVAL;
    return NULL;
  }
  enc = vc_percent_len (name, is_plain);
  if (enc > VC_MAX_ENCODED_NAME)
    return hashed_file (name);
  file = malloc (enc + sizeof VC_DOC_SUFFIX);
  if (file)
    strcpy (vc_percent_put (file, name, is_plain), VC_DOC_SUFFIX);
  return file;
}

static bool
has_doc_suffix (const char *file, size_t *stem_len)
{
  size_t len = strlen (file), slen = strlen (VC_DOC_SUFFIX);

  if (len <= slen || strcmp (file + len - slen, VC_DOC_SUFFIX) != 0)
    return false;
  *stem_len = len - slen;
  return true;
}

enum vc_file_kind
vc_file_kind (const char *file)
{
  size_t stem;

  if (!has_doc_suffix (file, &stem))
    return VC_FILE_OTHER;
  if (file[0] == '~') {
    if (stem != 1 + 2 * SHA256_DIGEST_SIZE)
      return VC_FILE_OTHER;
    for (size_t i = 1; i < stem; i++)
      if (!strchr ("0123456789abcdef", file[i]))
        return VC_FILE_OTHER;
    return VC_FILE_HASHED;
  }
  CLEANUP_FREE char *name = vc_file_to_name (file);
  return name ? VC_FILE_ENCODED : VC_FILE_OTHER;
}

char *
vc_file_to_name (const char *file)
{
  size_t stem;
  char *name;

  if (!has_doc_suffix (file, &stem) || file[0] == '~' ||
      (name = vc_percent_decode (file, stem)) == NULL) {
    errno = EINVAL;
    return NULL;
  }
  /* Only the canonical encoding is a document: this keeps the mapping
   * one-to-one, so two files can never claim the same domain.
   */
  CLEANUP_FREE char *again = vc_name_to_file (name);
  if (again == NULL || strcmp (again, file) != 0) {
    free (name);
    errno = EINVAL;
    return NULL;
  }
  return name;
}
