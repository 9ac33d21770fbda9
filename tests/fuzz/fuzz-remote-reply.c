/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: what a full node's relay sends a Pacemaker Remote
 * node, read as the node reads it before it trusts any of it.
 *
 * - The first 8 bytes (when there are 8) as a frame header: a length over
 *   the limit is refused, anything else gives the length and word that,
 *   written again, make the same 8 bytes.
 * - The rest as the reply to LIST (vc_doc_file_names_parse): an accepted
 *   list is the names, each a document's safe file name followed by '\n',
 *   nothing more, nothing less; a refused one leaves nothing allocated and
 *   points at no byte outside the input.
 * - The same bytes quoted for a message (vc_printable): only printable
 *   ASCII, never longer than the buffer.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "remote/remote.h"
#include "store/doc-files.h"

#define MAX_FRAME 4096

static void
check_header (const uint8_t *h)
{
  uint32_t len = 0, word = 0;
  unsigned char again[VC_REMOTE_HEADER_LEN];

  errno = 0;
  if (vc_remote_parse_header (h, MAX_FRAME, &len, &word) == -1) {
    if (errno != EPROTO || len <= MAX_FRAME)
      fuzz_fail ("header refused without cause (length %u, errno %d)", len, errno);
    return;
  }
  if (len > MAX_FRAME)
    fuzz_fail ("header with length %u over %d accepted", len, MAX_FRAME);
  vc_remote_put_header (again, len, word);
  if (memcmp (again, h, sizeof again) != 0)
    fuzz_fail ("header does not round-trip");
}

static void
check_safe_name (const char *name)
{
  size_t len = strlen (name);

  if (len == 0 || len > NAME_MAX || name[0] == '.' || strchr (name, '/'))
    fuzz_fail ("unsafe file name accepted: '%s'", name);
}

static void
check_list (const char *text, size_t size)
{
  char **names = (char **) 1;
  size_t n = 1, pos = 0;
  const char *bad = (const char *) 1;

  if (vc_doc_file_names_parse (text, size, &names, &n, &bad) == -1) {
    if (names != NULL || n != 0)
      fuzz_fail ("a refused list left %zu names", n);
    if (errno == EPROTO && bad && (bad < text || bad >= text + size))
      fuzz_fail ("a refused list points outside itself");
    if (errno == EPROTO && bad) {
      const char *nl = memchr (bad, '\n', text + size - bad);
      char *line = nl ? strndup (bad, nl - bad) : NULL;
      if (line == NULL || vc_doc_file_name_ok (line))
        fuzz_fail ("a list refused at a name that is fine");
      free (line);
    }
    return;
  }
  if (names == NULL || names[n] != NULL)
    fuzz_fail ("an accepted list is not NULL terminated");
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen (names[i]);
    check_safe_name (names[i]);
    if (!vc_doc_file_name_ok (names[i]))
      fuzz_fail ("a name no document has was accepted: '%s'", names[i]);
    if (pos + len + 1 > size || memcmp (text + pos, names[i], len) != 0 ||
        text[pos + len] != '\n')
      fuzz_fail ("name %zu is not what the list holds", i);
    pos += len + 1;
  }
  if (pos != size)
    fuzz_fail ("an accepted list has %zu bytes its names do not account for",
               size - pos);
  vc_doc_file_names_free (names, n);
}

static void
check_printable (const char *text, size_t size)
{
  char shown[16];
  size_t len;

  vc_printable (text, size, shown, sizeof shown);
  len = strlen (shown);
  if (len >= sizeof shown)
    fuzz_fail ("quoted text overflows");
  for (size_t i = 0; i < len; i++)
    if (shown[i] < 0x20 || shown[i] >= 0x7f)
      fuzz_fail ("quoted text holds byte %#x", (unsigned char) shown[i]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text;

  fuzz_quiet_logs ();
  if (size >= VC_REMOTE_HEADER_LEN) {
    check_header (data);
    data += VC_REMOTE_HEADER_LEN;
    size -= VC_REMOTE_HEADER_LEN;
  }
  /* As the frame's payload arrives: malloc'd, NUL terminated. */
  text = malloc (size + 1);
  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  check_list (text, size);
  check_printable (text, size);
  free (text);
  return 0;
}
