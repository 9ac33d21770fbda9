/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the mapping between domain names and store files.
 *
 * The input is used both ways:
 * - as a domain name: it maps to one file name, which is a single safe
 *   path component and decodes back to the same name (or is hashed);
 * - as a file name: decoding accepts only what encoding produces, so two
 *   files can never claim one domain.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "store/name-map.h"

static void
check_file_name (const char *name, const char *file)
{
  size_t len = strlen (file);

  if (len == 0 || len > 255 || strchr (file, '/') ||
      strcmp (file, ".") == 0 || strcmp (file, "..") == 0 || file[0] == '.')
    fuzz_fail ("name '%s' maps to an unsafe file name '%s'", name, file);
}

static void
name_round_trip (const char *name)
{
  char *file = vc_name_to_file (name);

  if (*name == '\0') {
    if (file != NULL || errno != EINVAL)
      fuzz_fail ("the empty name maps to a file");
    return;
  }
  if (file == NULL)
    fuzz_fail ("name '%s' maps to nothing", name);
  check_file_name (name, file);
  switch (vc_file_kind (file)) {
  case VC_FILE_ENCODED: {
    char *back = vc_file_to_name (file);
    if (back == NULL || strcmp (back, name) != 0)
      fuzz_fail ("name '%s' -> '%s' -> '%s'", name, file, back ? back : "(null)");
    free (back);
    break;
  }
  case VC_FILE_HASHED:
    if (vc_file_to_name (file) != NULL)
      fuzz_fail ("hashed file '%s' decodes to a name", file);
    break;
  case VC_FILE_OTHER:
    fuzz_fail ("name '%s' maps to '%s', which is not a document", name, file);
  }
  free (file);
}

static void
file_canonical (const char *file)
{
  char *name = vc_file_to_name (file);
  enum vc_file_kind kind = vc_file_kind (file);

  if (name == NULL) {
    if (kind == VC_FILE_ENCODED)
      fuzz_fail ("'%s' is called encoded but does not decode", file);
    return;
  }
  if (kind != VC_FILE_ENCODED)
    fuzz_fail ("'%s' decodes but is not called encoded", file);
  char *again = vc_name_to_file (name);
  if (again == NULL || strcmp (again, file) != 0)
    fuzz_fail ("'%s' decodes to '%s', which encodes as '%s'", file, name,
               again ? again : "(null)");
  free (again);
  free (name);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);

  if (s == NULL)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  /* A name or file name with a NUL ends there, as it would in C. */
  name_round_trip (s);
  file_canonical (s);
  free (s);
  return 0;
}
