/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/hex.h"
#include "common/vc-strings.h"
#include "replica/wire.h"

/* --- header ----------------------------------------------------------------- */

void
vc_wire_put_header (unsigned char *p, const struct vc_wire_header *h)
{
  uint32_t v32;
  uint16_t v16;
  uint64_t v64;

  memset (p, 0, VC_WIRE_HEADER_SIZE);
  v32 = htole32 (h->magic); memcpy (p, &v32, 4);
  v16 = htole16 (h->version); memcpy (p + 4, &v16, 2);
  v16 = htole16 (h->type); memcpy (p + 6, &v16, 2);
  v64 = htole64 (h->epoch); memcpy (p + 8, &v64, 8);
  v64 = htole64 (h->msgid); memcpy (p + 16, &v64, 8);
  v32 = htole32 (h->frag); memcpy (p + 24, &v32, 4);
  v32 = htole32 (h->frags); memcpy (p + 28, &v32, 4);
  v32 = htole32 (h->len); memcpy (p + 32, &v32, 4);
}

void
vc_wire_get_header (const unsigned char *p, struct vc_wire_header *h)
{
  uint32_t v32;
  uint16_t v16;
  uint64_t v64;

  memcpy (&v32, p, 4); h->magic = le32toh (v32);
  memcpy (&v16, p + 4, 2); h->version = le16toh (v16);
  memcpy (&v16, p + 6, 2); h->type = le16toh (v16);
  memcpy (&v64, p + 8, 8); h->epoch = le64toh (v64);
  memcpy (&v64, p + 16, 8); h->msgid = le64toh (v64);
  memcpy (&v32, p + 24, 4); h->frag = le32toh (v32);
  memcpy (&v32, p + 28, 4); h->frags = le32toh (v32);
  memcpy (&v32, p + 32, 4); h->len = le32toh (v32);
}

bool
vc_wire_header_ok (const struct vc_wire_header *h, size_t len)
{
  return h->magic == VC_MSG_MAGIC && h->version == VC_PROTO_VERSION &&
    h->len == len - VC_WIRE_HEADER_SIZE && h->len <= VC_FRAGMENT_SIZE &&
    h->frags != 0 && h->frag < h->frags &&
    h->type >= VC_MSG_SUMMARY && h->type <= VC_MSG_JOB &&
    (uint64_t) h->frags * VC_FRAGMENT_SIZE <= VC_MESSAGE_MAX + VC_FRAGMENT_SIZE;
}

/* --- fragments ---------------------------------------------------------------- */

int
vc_wire_fragment (vc_outmsg_vector *out, enum vc_msg_type type, uint64_t epoch,
                  uint64_t msgid, const char *payload, size_t len)
{
  uint32_t frags = len ? (len + VC_FRAGMENT_SIZE - 1) / VC_FRAGMENT_SIZE : 1;

  for (uint32_t i = 0; i < frags; i++) {
    size_t off = (size_t) i * VC_FRAGMENT_SIZE;
    size_t n = len - off < VC_FRAGMENT_SIZE ? len - off : VC_FRAGMENT_SIZE;
    struct vc_outmsg m = {
      .buf = malloc (VC_WIRE_HEADER_SIZE + n), .len = VC_WIRE_HEADER_SIZE + n,
    };
    struct vc_wire_header h = {
      .magic = VC_MSG_MAGIC, .version = VC_PROTO_VERSION, .type = type,
      .epoch = epoch, .msgid = msgid, .frag = i, .frags = frags, .len = n,
    };
    if (m.buf == NULL)
      return -1;
    vc_wire_put_header (m.buf, &h);
    if (n)
      memcpy (m.buf + VC_WIRE_HEADER_SIZE, payload + off, n);
    if (vc_outmsg_vector_append (out, m) == -1) {
      free (m.buf);
      return -1;
    }
  }
  return 0;
}

/* What came so far of one sender's fragmented message. */
struct vc_reassembly {
  struct vc_member from;
  uint64_t msgid;
  uint32_t type, next, frags;   /* next == 0: nothing under way */
  char *buf;
  size_t len, cap;
};

static struct vc_reassembly *
find_reassembly (vc_reassembly_vector *v, struct vc_member from)
{
  struct vc_reassembly *ra = NULL;

  for (size_t i = 0; i < v->len; i++)
    if (vc_member_eq (v->ptr[i]->from, from))
      ra = v->ptr[i];
  return ra;
}

/* Room for n more bytes and a NUL. */
static int
reserve (struct vc_reassembly *ra, size_t n)
{
  size_t cap = ra->cap ? ra->cap * 2 : 1024 * 1024;
  char *p;

  if (ra->len + n + 1 <= ra->cap)
    return 0;
  while (cap < ra->len + n + 1)
    cap *= 2;
  p = realloc (ra->buf, cap);
  if (p == NULL)
    return -1;
  ra->buf = p;
  ra->cap = cap;
  return 0;
}

enum vc_wire_result
vc_wire_reassemble (vc_reassembly_vector *v, struct vc_member from,
                    const struct vc_wire_header *h, const char *data,
                    struct vc_wire_message *msg)
{
  struct vc_reassembly *ra = find_reassembly (v, from);

  if (h->frags == 1 && (ra == NULL || ra->next == 0)) {
    *msg = (struct vc_wire_message) { h->type, h->msgid, data, h->len };
    return VC_WIRE_WHOLE;
  }
  if (ra == NULL) {
    ra = calloc (1, sizeof *ra);
    if (ra == NULL || vc_reassembly_vector_append (v, ra) == -1) {
      free (ra);
      return VC_WIRE_NO_MEMORY;
    }
    ra->from = from;
  }
  if (h->frag == 0) {
    ra->msgid = h->msgid;
    ra->type = h->type;
    ra->frags = h->frags;
    ra->next = 0;
    ra->len = 0;
  }
  if (h->msgid != ra->msgid || h->frag != ra->next || h->frags != ra->frags) {
    ra->next = 0;
    return VC_WIRE_OUT_OF_SEQUENCE;
  }
  if (reserve (ra, h->len) == -1) {
    ra->next = 0;
    return VC_WIRE_NO_MEMORY;
  }
  memcpy (ra->buf + ra->len, data, h->len);
  ra->len += h->len;
  if (++ra->next < ra->frags)
    return VC_WIRE_PARTIAL;
  ra->buf[ra->len] = '\0';
  ra->next = 0;
  *msg = (struct vc_wire_message) { ra->type, ra->msgid, ra->buf, ra->len };
  return VC_WIRE_WHOLE;
}

void
vc_wire_reassembly_free (vc_reassembly_vector *v)
{
  for (size_t i = 0; i < v->len; i++) {
    free (v->ptr[i]->buf);
    free (v->ptr[i]);
  }
  vc_reassembly_vector_reset (v);
}

/* --- payloads ----------------------------------------------------------------- */

static bool
plain_on_wire (unsigned char c, size_t pos)
{
  return c > ' ' && c != '%' && c < 0x7f;
}

/* A wire name: NULL when malformed or empty. */
static char *
name_from_wire (const char *s, size_t n)
{
  char *name = vc_percent_decode (s, n);

  if (name && *name == '\0') {
    free (name);
    return NULL;
  }
  return name;
}

void
vc_wire_view (char buf[VC_WIRE_VIEW_SIZE], uint64_t view)
{
  snprintf (buf, VC_WIRE_VIEW_SIZE, "%016" PRIx64, view);
}

void
vc_wire_summary_line (FILE *fp, const char *domain, const struct vc_version *v)
{
  CLEANUP_FREE char *esc = vc_percent_encode (domain, plain_on_wire);

  if (esc)
    fprintf (fp, "%s\t%" PRIu64 "\t%" PRIu32 "\t%c%c\t%" PRIu64 "\t%" PRIu32 "\n",
             esc, v->generation, v->node, v->without_quorum ? 'n' : 'q',
             v->deleted ? 'd' : '-', v->base_generation, v->base_node);
}

/* A decimal field of a summary line, up to max: digits only (no sign,
 * no spaces), as vc_wire_summary_line writes it.
 */
static int
summary_number (const char *s, size_t n, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if (n == 0 || n > 20)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned d = s[i] - '0';
    if (d > 9 || v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

/* One line of a summary, without its newline: exactly six tab-separated
 * fields, a version no older than its base (vc_version_valid: what the
 * planner needs to find a winner).
 */
static int
parse_summary_line (const char *p, const char *nl, vc_wire_entry_fn add,
                    void *opaque)
{
  const char *field[6];
  size_t flen[6], k = 0;
  struct vc_version v = { 0 };
  uint64_t node, base_node;
  char *name;

  for (const char *f = p; k < 6; k++) {
    const char *tab = memchr (f, '\t', nl - f);
    field[k] = f;
    flen[k] = (tab ? tab : nl) - f;
    if (tab == NULL)
      break;
    f = tab + 1;
  }
  if (k != 5 || flen[3] != 2 ||
      summary_number (field[1], flen[1], UINT64_MAX, &v.generation) == -1 ||
      summary_number (field[2], flen[2], UINT32_MAX, &node) == -1 ||
      summary_number (field[4], flen[4], UINT64_MAX, &v.base_generation) == -1 ||
      summary_number (field[5], flen[5], UINT32_MAX, &base_node) == -1 ||
      (field[3][0] != 'q' && field[3][0] != 'n') ||
      (field[3][1] != 'd' && field[3][1] != '-'))
    return -1;
  v.node = node;
  v.base_node = base_node;
  v.without_quorum = field[3][0] == 'n';
  v.deleted = field[3][1] == 'd';
  if (!vc_version_valid (&v))
    return -1;
  name = name_from_wire (field[0], flen[0]);
  if (name == NULL)
    return -1;
  return add (name, &v, opaque);
}

int
vc_wire_parse_summary (const char *p, size_t len, vc_wire_entry_fn add,
                       void *opaque)
{
  const char *end = p + len;

  while (p < end) {
    const char *nl = memchr (p, '\n', end - p);
    if (nl == NULL || parse_summary_line (p, nl, add, opaque) == -1)
      return -1;
    p = nl + 1;
  }
  return 0;
}

char *
vc_wire_doc (const char *domain, const char *text)
{
  CLEANUP_FREE char *esc = vc_percent_encode (domain, plain_on_wire);

  return esc ? vc_printf ("%s\n%s", esc, text) : NULL;
}

int
vc_wire_parse_doc (const char *payload, size_t len, char **domain,
                   const char **text, size_t *text_len)
{
  const char *nl = memchr (payload, '\n', len);

  *domain = nl ? name_from_wire (payload, nl - payload) : NULL;
  if (*domain == NULL)
    return -1;
  *text = nl + 1;
  *text_len = len - (nl + 1 - payload);
  return 0;
}

char *
vc_wire_update (const char *domain, const char *text, size_t len, bool quorate)
{
  CLEANUP_FREE char *esc = vc_percent_encode (domain, plain_on_wire);

  if (esc == NULL)
    return NULL;
  return vc_printf ("%c\t%s\t%c\n%.*s", text ? 'P' : 'D', esc,
                    quorate ? 'q' : 'n', (int) (text ? len : 0), text ? text : "");
}

int
vc_wire_parse_update (const char *payload, size_t len, struct vc_wire_update *u)
{
  const char *nl = memchr (payload, '\n', len);
  const char *t1 = nl ? memchr (payload, '\t', nl - payload) : NULL;
  const char *t2 = t1 ? memchr (t1 + 1, '\t', nl - t1 - 1) : NULL;

  memset (u, 0, sizeof *u);
  u->op = len > 2 ? payload[0] : 0;
  u->domain = t2 ? name_from_wire (t1 + 1, t2 - t1 - 1) : NULL;
  if (u->domain == NULL || (u->op != 'P' && u->op != 'D')) {
    free (u->domain);
    u->domain = NULL;
    return -1;
  }
  u->without_quorum = t2[1] == 'n';
  u->text = nl + 1;
  u->text_len = len - (nl + 1 - payload);
  return 0;
}

/* --- tab-separated fields ------------------------------------------------------- */

char *
vc_wire_join (size_t n, const char *const *fields)
{
  size_t len = 1;
  char *buf, *p;

  for (size_t i = 0; i < n; i++)
    len += vc_percent_len (fields[i], plain_on_wire) + 1;
  buf = p = malloc (len);
  if (buf == NULL)
    return NULL;
  *p = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i)
      *p++ = '\t';
    p = vc_percent_put (p, fields[i], plain_on_wire);
  }
  return buf;
}

void
vc_wire_fields_free (size_t n, char **fields)
{
  for (size_t i = 0; i < n; i++) {
    free (fields[i]);
    fields[i] = NULL;
  }
}

ssize_t
vc_wire_split (const char *p, size_t len, size_t max, char **fields)
{
  const char *end = p + len;
  size_t n = 0;

  if (memchr (p, '\n', len) || memchr (p, '\0', len))
    return -1;
  for (;;) {
    const char *tab = memchr (p, '\t', end - p);
    const char *stop = tab ? tab : end;
    if (n == max || (fields[n] = vc_percent_decode (p, stop - p)) == NULL) {
      vc_wire_fields_free (n, fields);
      return -1;
    }
    n++;
    if (tab == NULL)
      return n;
    p = tab + 1;
  }
}
