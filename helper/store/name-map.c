#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/sha2.h>

#include "common/cleanup.h"
#include "store/name-map.h"

static const char hexdigits[] = "0123456789ABCDEF";

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
  for (size_t i = 0; i < sizeof digest; i++) {
    *p++ = "0123456789abcdef"[digest[i] >> 4];
    *p++ = "0123456789abcdef"[digest[i] & 15];
  }
  strcpy (p, VC_DOC_SUFFIX);
  return file;
}

char *
vc_name_to_file (const char *name)
{
  size_t len = strlen (name), enc = 0;

  if (len == 0) {
    errno = EINVAL;
    return NULL;
  }
  for (size_t i = 0; i < len; i++)
    enc += is_plain (name[i], i) ? 1 : 3;
  if (enc > VC_MAX_ENCODED_NAME)
    return hashed_file (name);

  char *file = malloc (enc + sizeof VC_DOC_SUFFIX);
  char *p = file;
  if (file == NULL)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = name[i];
    if (is_plain (c, i))
      *p++ = c;
    else {
      *p++ = '%';
      *p++ = hexdigits[c >> 4];
      *p++ = hexdigits[c & 15];
    }
  }
  strcpy (p, VC_DOC_SUFFIX);
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

static int
hexval (char c)
{
  const char *p = c ? strchr (hexdigits, c) : NULL;
  return p ? p - hexdigits : -1;
}

static char *
decode (const char *file, size_t stem)
{
  char *name = malloc (stem + 1), *p = name;

  if (name == NULL)
    return NULL;
  for (size_t i = 0; i < stem; i++) {
    if (file[i] == '%') {
      int hi = i + 2 < stem ? hexval (file[i + 1]) : -1;
      int lo = hi >= 0 ? hexval (file[i + 2]) : -1;
      if (lo < 0 || (hi == 0 && lo == 0)) {
        free (name);
        errno = EINVAL;
        return NULL;
      }
      *p++ = hi << 4 | lo;
      i += 2;
    }
    else
      *p++ = file[i];
  }
  *p = '\0';
  return name;
}

char *
vc_file_to_name (const char *file)
{
  size_t stem;
  char *name;

  if (!has_doc_suffix (file, &stem) || file[0] == '~' ||
      (name = decode (file, stem)) == NULL) {
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
