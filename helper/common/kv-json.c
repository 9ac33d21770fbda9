/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/kv-json.h"
#include "common/kv-lines.h"

static const struct vc_kv_kind *
kind_of (const struct vc_kv_kind *kinds, const char *key)
{
  for (; kinds->key; kinds++)
    if (strcmp (kinds->key, key) == 0)
      return kinds;
  return NULL;
}

/* A decimal number, or null: a member's type never depends on its value. */
static void
json_uint (struct vc_json *j, const char *s)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (s, &end, 10);
  if (*s >= '0' && *s <= '9' && *end == '\0' && errno == 0)
    vc_json_uint (j, v);
  else
    vc_json_null (j);
}

static int
json_uint_list (struct vc_json *j, const char *s)
{
  vc_json_begin_array (j);
  for (const char *p = s; *p;) {
    size_t n = strcspn (p, " ");
    CLEANUP_FREE char *word = strndup (p, n);
    if (word == NULL)
      return -1;
    if (*word)
      json_uint (j, word);
    p += n + (p[n] == ' ');
  }
  vc_json_end_array (j);
  return 0;
}

/* The line at line, if it is "KEY:...": its key's length, else 0. */
static size_t
key_length (const char *line)
{
  size_t len = strcspn (line, "\n"), klen = strcspn (line, ":\n");

  return klen < len ? klen : 0;
}

/* The value of the line at line whose key is klen long (malloc'd,
 * unescaped), or NULL when out of memory.
 */
static char *
value_of (const char *line, size_t klen)
{
  const char *v = line + klen + 1 + (line[klen + 1] == ' ');
  CLEANUP_FREE char *raw = strndup (v, strcspn (v, "\n"));

  return raw ? vc_kv_unescape (raw) : NULL;
}

static const char *
next_line (const char *line)
{
  size_t len = strcspn (line, "\n");

  return line + len + (line[len] == '\n');
}

/* Whether a line of text is "KEY:...". */
static bool
has_key (const char *text, const char *key)
{
  size_t klen = strlen (key);

  for (const char *l = text; *l; l = next_line (l))
    if (key_length (l) == klen && strncmp (l, key, klen) == 0)
      return true;
  return false;
}

/* Whether a line of text before line has the key at line. */
static bool
seen_before (const char *text, const char *line, size_t klen)
{
  for (const char *l = text; l < line; l = next_line (l))
    if (key_length (l) == klen && strncmp (l, line, klen) == 0)
      return true;
  return false;
}

static int
json_all_lines (struct vc_json *j, const char *text, const char *key, size_t klen)
{
  vc_json_begin_array (j);
  for (const char *l = text; *l; l = next_line (l))
    if (key_length (l) == klen && strncmp (l, key, klen) == 0) {
      CLEANUP_FREE char *value = value_of (l, klen);
      if (value == NULL)
        return -1;
      vc_json_string (j, value);
    }
  vc_json_end_array (j);
  return 0;
}

static int
json_value (struct vc_json *j, const char *text, const char *line, size_t klen,
            enum vc_kv_type type)
{
  CLEANUP_FREE char *value = NULL;

  if (type == VC_KV_STRING_LIST)
    return json_all_lines (j, text, line, klen);
  value = value_of (line, klen);
  if (value == NULL)
    return -1;
  switch (type) {
  case VC_KV_UINT:
    json_uint (j, value);
    return 0;
  case VC_KV_BOOL:
    if (strcmp (value, "yes") == 0 || strcmp (value, "no") == 0)
      vc_json_bool (j, strcmp (value, "yes") == 0);
    else
      vc_json_null (j);
    return 0;
  case VC_KV_UINT_LIST:
    return json_uint_list (j, value);
  case VC_KV_STRING_OR_DASH:
    vc_json_string (j, strcmp (value, "-") == 0 ? NULL : value);
    return 0;
  default:
    vc_json_string (j, value);
    return 0;
  }
}

/* The key's member name: its json_key, else itself with '-' as '_'. */
static void
json_key (struct vc_json *j, const struct vc_kv_kind *k, char *key)
{
  if (k && k->json_key) {
    vc_json_key (j, k->json_key);
    return;
  }
  for (char *p = key; *p; p++)
    if (*p == '-')
      *p = '_';
  vc_json_key (j, key);
}

static int
member (struct vc_json *j, const char *text, const char *line, size_t klen,
        const struct vc_kv_kind *kinds)
{
  CLEANUP_FREE char *key = strndup (line, klen);
  const struct vc_kv_kind *k;

  if (key == NULL)
    return -1;
  k = kind_of (kinds, key);
  json_key (j, k, key);
  return json_value (j, text, line, klen, k ? k->type : VC_KV_STRING);
}

int
vc_kv_json_members (struct vc_json *j, const char *text,
                    const struct vc_kv_kind *kinds)
{
  for (const char *line = text; *line; line = next_line (line)) {
    size_t klen = key_length (line);
    if (klen > 0 && !seen_before (text, line, klen) &&
        member (j, text, line, klen, kinds) == -1)
      return -1;
  }
  /* An empty list is there too: a script need not test for the key. */
  for (const struct vc_kv_kind *k = kinds; k->key; k++) {
    CLEANUP_FREE char *key = NULL;
    if (k->type != VC_KV_STRING_LIST || has_key (text, k->key))
      continue;
    key = strdup (k->key);
    if (key == NULL)
      return -1;
    json_key (j, k, key);
    vc_json_begin_array (j);
    vc_json_end_array (j);
  }
  return 0;
}
