/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "store/last-backup.h"
#include "store/store.h"

static const char *const levels[] = { "full", "inc", "diff", "copy", NULL };
static const char *const results[] = {
  [VC_RESULT_OK] = "ok", [VC_RESULT_FAILED] = "failed",
  [VC_RESULT_INTERRUPTED] = "interrupted",
};

void
vc_last_backup_free (struct vc_last_backup *lb)
{
  if (lb == NULL)
    return;
  free (lb->level);
  free (lb->node);
  free (lb->dir);
  free (lb->error);
  free (lb->ok_level);
  free (lb);
}

static bool
dup_field (char **to, const char *from)
{
  *to = from ? strdup (from) : NULL;
  return from == NULL || *to != NULL;
}

struct vc_last_backup *
vc_last_backup_dup (const struct vc_last_backup *lb)
{
  struct vc_last_backup *c = malloc (sizeof *c);

  if (c == NULL)
    return NULL;
  *c = *lb;
  c->level = c->node = c->dir = c->error = c->ok_level = NULL;
  if (!dup_field (&c->level, lb->level) || !dup_field (&c->node, lb->node) ||
      !dup_field (&c->dir, lb->dir) || !dup_field (&c->error, lb->error) ||
      !dup_field (&c->ok_level, lb->ok_level)) {
    vc_last_backup_free (c);
    return NULL;
  }
  return c;
}

const char *
vc_backup_result_name (enum vc_backup_result r)
{
  return r <= VC_RESULT_INTERRUPTED ? results[r] : "failed";
}

int
vc_backup_result_of (const char *name, enum vc_backup_result *r)
{
  for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
    if (name && strcmp (name, results[i]) == 0) {
      *r = i;
      return 0;
    }
  return -1;
}

static bool
is_level (const char *s)
{
  for (size_t i = 0; levels[i]; i++)
    if (strcmp (s, levels[i]) == 0)
      return true;
  return false;
}

/* --- texts ---------------------------------------------------------------- */

/* A C0 or C1 control character or DEL at s (which is UTF-8): 0 when none,
 * else its length in bytes.  A terminal acts on them, and XML cannot
 * carry most.
 */
static size_t
control_at (const unsigned char *s)
{
  if (*s < 0x20 || *s == 0x7f)
    return 1;
  if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
    return 2;
  return 0;
}

static bool
text_ok (const char *s, size_t max)
{
  if (strlen (s) > max)
    return false;
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if (control_at (p))
      return false;
  return true;
}

/* The length of the character at s if it is UTF-8 that XML allows (no
 * overlong form, surrogate, U+FFFE, U+FFFF or past U+10FFFF), else 0.
 */
static size_t
char_len (const unsigned char *s)
{
  uint32_t c;
  size_t n;

  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2, c = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3, c = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4, c = s[0] & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)    /* also the terminating NUL */
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
      (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
    return 0;
  return n;
}

/* s made fit for text_ok (s, max): each control character and each byte
 * that is not part of a character XML allows as '?', cut to max bytes at
 * a character's start.  What is written must read back: a byte libxml2
 * refuses would make the whole document, the chain with it, unreadable.
 * NULL when out of memory.
 */
static char *
sanitise (const char *s, size_t max)
{
  const unsigned char *p = (const unsigned char *) s;
  unsigned char *t = malloc (strlen (s) + 1);
  size_t o = 0;

  if (t == NULL)
    return NULL;
  while (*p) {
    size_t n = char_len (p);
    if (n == 0 || control_at (p)) {
      t[o++] = '?';
      p += n ? n : 1;
    }
    else {
      memcpy (t + o, p, n);
      o += n;
      p += n;
    }
  }
  if (o > max) {
    o = max;
    while (o > 0 && (t[o] & 0xc0) == 0x80)
      o--;
  }
  t[o] = '\0';
  return (char *) t;
}

/* --- writing --------------------------------------------------------------- */

static bool
add_text (xmlNodePtr parent, const char *name, const char *text, size_t max)
{
  CLEANUP_FREE char *t = NULL;

  if (text == NULL)
    return true;
  t = sanitise (text, max);
  return t && xmlNewTextChild (parent, NULL, BAD_CAST name, BAD_CAST t) != NULL;
}

/* Seconds as "S.mmm", whatever the locale. */
static bool
set_seconds (xmlNodePtr node, double seconds)
{
  char buf[32];
  uint64_t ms;

  if (!(seconds >= 0) || seconds > 1e12)
    seconds = 0;
  ms = (uint64_t) (seconds * 1000 + 0.5);
  snprintf (buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
  return vc_xml_set_prop (node, "seconds", buf);
}

bool
vc_last_backup_format (xmlNodePtr root, const struct vc_chain *chain)
{
  const struct vc_last_backup *lb = chain->last_backup;
  CLEANUP_FREE char *node_name = NULL;
  xmlNodePtr node, ok;

  if (lb == NULL)
    return true;
  if (lb->node && (node_name = sanitise (lb->node, VC_LAST_BACKUP_MAX_NODE)) == NULL)
    return false;
  node = xmlNewChild (root, NULL, BAD_CAST "last-backup", NULL);
  if (node == NULL ||
      !vc_xml_set_prop_i64 (node, "time", lb->time < 0 ? 0 : lb->time) ||
      !vc_xml_set_prop (node, "level",
                        lb->level && is_level (lb->level) ? lb->level : NULL) ||
      !vc_xml_set_prop (node, "result", vc_backup_result_name (lb->result)) ||
      !vc_xml_set_prop (node, "node", node_name) ||
      (lb->id && !vc_xml_set_prop_u64 (node, "id", lb->id)) ||
      !set_seconds (node, lb->seconds) ||
      !vc_xml_set_prop_u64 (node, "bytes", lb->bytes) ||
      !add_text (node, "dir", lb->dir, VC_LAST_BACKUP_MAX_DIR) ||
      (lb->result != VC_RESULT_OK &&
       !add_text (node, "error", lb->error ? lb->error : "", VC_LAST_BACKUP_MAX_ERROR)))
    return false;
  if (lb->ok_time <= 0)
    return true;
  ok = xmlNewChild (node, NULL, BAD_CAST "last-ok", NULL);
  return ok && vc_xml_set_prop_i64 (ok, "time", lb->ok_time) &&
    vc_xml_set_prop (ok, "level",
                     lb->ok_level && is_level (lb->ok_level) ? lb->ok_level : NULL) &&
    (lb->ok_id == 0 || vc_xml_set_prop_u64 (ok, "id", lb->ok_id));
}

/* --- reading --------------------------------------------------------------- */

static int
prop_time (xmlNodePtr node, int64_t *out)
{
  uint64_t v;

  if (vc_xml_prop_u64 (node, "time", &v, true) == -1 || v > INT64_MAX)
    return -1;
  *out = v;
  return 0;
}

static int
prop_id (xmlNodePtr node, uint32_t *out)
{
  uint64_t v;

  if (vc_xml_prop_u64 (node, "id", &v, false) == -1 || v > UINT32_MAX)
    return -1;
  *out = v;
  return 0;
}

/* An optional level: NULL when absent. */
static int
prop_level (xmlNodePtr node, char **out)
{
  *out = vc_xml_prop (node, "level");
  if (*out == NULL || is_level (*out))
    return 0;
  free (*out);
  *out = NULL;
  return -1;
}

/* "S" or "S.f" with up to three decimals. */
static int
prop_seconds (xmlNodePtr node, double *out)
{
  CLEANUP_FREE char *s = vc_xml_prop (node, "seconds");
  uint64_t whole = 0, frac = 0, scale = 1;
  const char *p;

  *out = 0;
  if (s == NULL)
    return 0;
  for (p = s; *p >= '0' && *p <= '9'; p++) {
    if (p - s >= 12)
      return -1;
    whole = whole * 10 + (*p - '0');
  }
  if (p == s)
    return -1;
  if (*p == '.') {
    const char *f = ++p;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (p - f >= 3)
        return -1;
      frac = frac * 10 + (*p - '0');
      scale *= 10;
    }
    if (p == f)
      return -1;
  }
  if (*p)
    return -1;
  *out = whole + (double) frac / scale;
  return 0;
}

/* The text of the child element name, bounded; NULL (and 0) when absent. */
static int
child_text (xmlNodePtr node, const char *name, size_t max, char **out)
{
  xmlNodePtr c = vc_xml_child (node, name);
  xmlChar *v;

  *out = NULL;
  if (c == NULL)
    return 0;
  v = xmlNodeGetContent (c);
  if (v == NULL || !text_ok ((char *) v, max)) {
    xmlFree (v);
    return -1;
  }
  *out = strdup ((char *) v);
  xmlFree (v);
  return *out ? 0 : -1;
}

static int
parse_last_ok (xmlNodePtr node, struct vc_last_backup *lb)
{
  xmlNodePtr ok = vc_xml_child (node, "last-ok");

  if (ok == NULL)
    return 0;
  if (prop_time (ok, &lb->ok_time) == -1 || lb->ok_time == 0 ||
      prop_level (ok, &lb->ok_level) == -1 || prop_id (ok, &lb->ok_id) == -1)
    return -1;
  return 0;
}

int
vc_last_backup_parse (xmlNodePtr root, struct vc_chain *chain, char **err)
{
  xmlNodePtr node = vc_xml_child (root, "last-backup");
  CLEANUP_FREE char *result = NULL;
  struct vc_last_backup *lb;

  chain->last_backup = NULL;
  if (node == NULL)
    return 0;
  lb = calloc (1, sizeof *lb);
  if (lb == NULL)
    return *err = vc_printf ("out of memory"), -1;
  result = vc_xml_prop (node, "result");
  lb->node = vc_xml_prop (node, "node");
  if (prop_time (node, &lb->time) == -1 ||
      prop_level (node, &lb->level) == -1 ||
      vc_backup_result_of (result, &lb->result) == -1 ||
      (lb->node && !text_ok (lb->node, VC_LAST_BACKUP_MAX_NODE)) ||
      prop_id (node, &lb->id) == -1 ||
      prop_seconds (node, &lb->seconds) == -1 ||
      vc_xml_prop_u64 (node, "bytes", &lb->bytes, false) == -1 ||
      child_text (node, "dir", VC_LAST_BACKUP_MAX_DIR, &lb->dir) == -1 ||
      child_text (node, "error", VC_LAST_BACKUP_MAX_ERROR, &lb->error) == -1 ||
      parse_last_ok (node, lb) == -1) {
    vc_last_backup_free (lb);
    return *err = vc_printf ("bad <last-backup>"), -1;
  }
  chain->last_backup = lb;
  return 0;
}

/* --- recording ------------------------------------------------------------- */

int
vc_last_backup_set (struct vc_chain *chain, const struct vc_last_backup *rec)
{
  struct vc_last_backup *prev = chain->last_backup;
  struct vc_last_backup *next = vc_last_backup_dup (rec);

  if (next == NULL)
    return -1;
  free (next->ok_level);
  next->ok_level = NULL;
  if (rec->result == VC_RESULT_OK) {
    next->ok_time = rec->time;
    next->ok_id = rec->id;
    next->ok_level = rec->level ? strdup (rec->level) : NULL;
    if (rec->level && next->ok_level == NULL) {
      vc_last_backup_free (next);
      return -1;
    }
  }
  else {
    next->ok_time = prev ? prev->ok_time : 0;
    next->ok_id = prev ? prev->ok_id : 0;
    next->ok_level = prev ? prev->ok_level : NULL;
    if (prev)
      prev->ok_level = NULL;
  }
  vc_last_backup_free (prev);
  chain->last_backup = next;
  return 0;
}

int
vc_store_record_backup (struct vc_store *store, const char *domain,
                        const struct vc_last_backup *rec)
{
  struct vc_chain chain;
  struct vc_version version = { 0 };
  int r;

  if (vc_store_lock (store) == -1)
    return -1;
  r = vc_store_load_any (store, domain, &chain);
  if (r == -1)
    return -1;
  if (r == 0 && chain.version.deleted) {
    /* Forgotten: a new document, newer than the tombstone. */
    version = chain.version;
    version.deleted = false;
    vc_chain_clear (&chain);
    r = 1;
  }
  if (r == 1) {
    memset (&chain, 0, sizeof chain);
    chain.version = version;
    chain.domain = strdup (domain);
    if (chain.domain == NULL) {
      vc_error ("out of memory");
      return -1;
    }
  }
  if (vc_last_backup_set (&chain, rec) == -1) {
    vc_error ("out of memory");
    vc_chain_clear (&chain);
    return -1;
  }
  chain.version.generation++;
  chain.updated = time (NULL);
  r = vc_store_save (store, &chain);
  vc_chain_clear (&chain);
  return r;
}
