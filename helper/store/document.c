/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "store/checkpoint-xml.h"
#include "common/cleanup.h"
#include "store/document.h"
#include "store/schedule.h"
#include "store/last-backup.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

static bool
add_text (xmlNodePtr parent, const char *name, const char *text)
{
  return xmlNewTextChild (parent, NULL, BAD_CAST name, BAD_CAST text) != NULL;
}

static bool
set_int (xmlNodePtr node, const char *name, int64_t v)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%" PRId64, v);
  return xmlNewProp (node, BAD_CAST name, BAD_CAST buf) != NULL;
}

char *
vc_document_format (const struct vc_chain *chain, size_t *len)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root, node, cps;
  char buf[32];
  bool ok;

  /* Not readable back: see VC_DOCUMENT_MAX_CHECKPOINTS. */
  if (doc == NULL || chain->checkpoints.len > VC_DOCUMENT_MAX_CHECKPOINTS)
    return NULL;
  root = xmlNewNode (NULL, BAD_CAST "virtckpt-domain");
  if (root == NULL)
    return NULL;
  xmlDocSetRootElement (doc, root);
  ok = set_int (root, "format", VC_DOCUMENT_FORMAT) &&
    add_text (root, "name", chain->domain) &&
    (chain->uuid == NULL || add_text (root, "uuid", chain->uuid));
  if (!ok || (node = xmlNewChild (root, NULL, BAD_CAST "version", NULL)) == NULL)
    return NULL;
  snprintf (buf, sizeof buf, "%" PRIu64, chain->version.generation);
  ok = xmlNewProp (node, BAD_CAST "generation", BAD_CAST buf) &&
    set_int (node, "node", chain->version.node) &&
    (!chain->version.without_quorum ||
     xmlNewProp (node, BAD_CAST "quorate", BAD_CAST "no"));
  if (ok && (chain->version.base_generation || chain->version.base_node)) {
    xmlNodePtr base = xmlNewChild (root, NULL, BAD_CAST "base", NULL);
    snprintf (buf, sizeof buf, "%" PRIu64, chain->version.base_generation);
    ok = base && xmlNewProp (base, BAD_CAST "generation", BAD_CAST buf) &&
      set_int (base, "node", chain->version.base_node);
  }
  if (ok && chain->version.deleted)
    ok = xmlNewChild (root, NULL, BAD_CAST "deleted", NULL) != NULL;
  snprintf (buf, sizeof buf, "%" PRId64, chain->updated);
  ok = ok && add_text (root, "updated", buf);
  if (ok && chain->broken) {
    node = xmlNewTextChild (root, NULL, BAD_CAST "broken",
                            BAD_CAST (chain->broken_reason ? chain->broken_reason : ""));
    ok = node && set_int (node, "since", chain->broken_since);
  }
  ok = ok && vc_last_backup_format (root, chain);
  if (!ok || (cps = xmlNewChild (root, NULL, BAD_CAST "checkpoints", NULL)) == NULL)
    return NULL;

  for (size_t i = 0; i < chain->checkpoints.len; i++) {
    const struct vc_checkpoint *c = &chain->checkpoints.ptr[i];
    xmlNodePtr cp = xmlNewChild (cps, NULL, BAD_CAST "checkpoint", NULL);

    if (cp == NULL || !xmlNewProp (cp, BAD_CAST "name", BAD_CAST c->name) ||
        (c->parent && !xmlNewProp (cp, BAD_CAST "parent", BAD_CAST c->parent)) ||
        !set_int (cp, "created", c->created))
      return NULL;
    for (size_t j = 0; j < c->disks.len; j++) {
      const struct vc_disk *d = &c->disks.ptr[j];
      xmlNodePtr dn = xmlNewChild (cp, NULL, BAD_CAST "disk", NULL);
      if (dn == NULL || !xmlNewProp (dn, BAD_CAST "name", BAD_CAST d->name) ||
          !xmlNewProp (dn, BAD_CAST "checkpoint", BAD_CAST d->mode) ||
          (d->bitmap && !xmlNewProp (dn, BAD_CAST "bitmap", BAD_CAST d->bitmap)))
        return NULL;
    }
    if (!add_text (cp, "xml", c->xml))
      return NULL;
  }
  if (chain->schedule && vc_schedule_format (root, chain->schedule) == -1)
    return NULL;
  return vc_xml_dump (doc, len);
}

static int
parse_uint64 (const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  if (s == NULL || !(*s >= '0' && *s <= '9'))
    return -1;
  *out = strtoull (s, &end, 10);
  return errno || *end ? -1 : 0;
}

static int
parse_int64 (const char *s, int64_t *out)
{
  char *end;
  errno = 0;
  if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '-'))
    return -1;
  *out = strtoll (s, &end, 10);
  return errno || *end ? -1 : 0;
}

static char *
child_text (xmlNodePtr node, const char *name)
{
  xmlNodePtr c = vc_xml_child (node, name);
  xmlChar *v = c ? xmlNodeGetContent (c) : NULL;
  char *s = v ? strdup ((char *) v) : NULL;
  xmlFree (v);
  return s;
}

static int
parse_checkpoint (xmlNodePtr node, struct vc_checkpoint *c, char **err)
{
  CLEANUP_FREE char *name = vc_xml_prop (node, "name");
  CLEANUP_FREE char *parent = vc_xml_prop (node, "parent");
  CLEANUP_FREE char *xml = child_text (node, "xml");

  if (name == NULL || xml == NULL)
    return *err = vc_printf ("a <checkpoint> lacks its name or <xml>"), -1;
  if (vc_checkpoint_parse (xml, c, err) == -1) {
    char *inner = *err;
    *err = vc_printf ("checkpoint %s: %s", name, inner);
    free (inner);
    return -1;
  }
  /* The summary attributes must agree with the XML they summarise. */
  if (strcmp (c->name, name) != 0 || !vc_streq (c->parent, parent)) {
    *err = vc_printf ("checkpoint %s: attributes disagree with its XML", name);
    vc_checkpoint_clear (c);
    return -1;
  }
  return 0;
}

/* Name, UUID, version, base, update time and tombstone of the document. */
static int
parse_identity (xmlNodePtr root, struct vc_chain *chain, char **err)
{
  CLEANUP_FREE char *gen = NULL, *nodeid = NULL, *updated = NULL;
  CLEANUP_FREE char *quorate = NULL;
  xmlNodePtr version, base;
  uint64_t node;

  chain->domain = child_text (root, "name");
  chain->uuid = child_text (root, "uuid");
  version = vc_xml_child (root, "version");
  if (version) {
    gen = vc_xml_prop (version, "generation");
    nodeid = vc_xml_prop (version, "node");
    quorate = vc_xml_prop (version, "quorate");
  }
  updated = child_text (root, "updated");
  if (chain->domain == NULL || *chain->domain == '\0' ||
      parse_uint64 (gen, &chain->version.generation) == -1 ||
      parse_uint64 (nodeid, &node) == -1 || node > UINT32_MAX ||
      parse_int64 (updated, &chain->updated) == -1)
    return *err = vc_printf ("missing or bad <name>, <version> or <updated>"), -1;
  chain->version.node = node;
  chain->version.without_quorum = quorate && strcmp (quorate, "no") == 0;

  base = vc_xml_child (root, "base");
  if (base) {
    CLEANUP_FREE char *bg = vc_xml_prop (base, "generation");
    CLEANUP_FREE char *bn = vc_xml_prop (base, "node");
    uint64_t bnode;
    if (parse_uint64 (bg, &chain->version.base_generation) == -1 ||
        parse_uint64 (bn, &bnode) == -1 || bnode > UINT32_MAX)
      return *err = vc_printf ("bad <base>"), -1;
    chain->version.base_node = bnode;
  }
  chain->version.deleted = vc_xml_child (root, "deleted") != NULL;
  if (!vc_version_valid (&chain->version))
    return *err = vc_printf ("version %" PRIu64 "/%" PRIu32 " is older than its "
                             "base %" PRIu64 "/%" PRIu32,
                             chain->version.generation, chain->version.node,
                             chain->version.base_generation,
                             chain->version.base_node), -1;
  return 0;
}

static int
parse_broken (xmlNodePtr root, struct vc_chain *chain, char **err)
{
  xmlNodePtr broken = vc_xml_child (root, "broken");
  CLEANUP_FREE char *since = NULL;
  xmlChar *reason;

  if (broken == NULL)
    return 0;
  reason = xmlNodeGetContent (broken);
  since = vc_xml_prop (broken, "since");
  chain->broken = true;
  chain->broken_reason = strdup (reason ? (char *) reason : "");
  xmlFree (reason);
  if (parse_int64 (since, &chain->broken_since) == -1)
    return *err = vc_printf ("bad <broken since=...>"), -1;
  return 0;
}

static int
parse_checkpoints (xmlNodePtr root, struct vc_chain *chain, char **err)
{
  xmlNodePtr cps = vc_xml_child (root, "checkpoints");

  if (cps == NULL)
    return *err = vc_printf ("no <checkpoints> element"), -1;
  for (xmlNodePtr n = cps->children; n; n = n->next) {
    struct vc_checkpoint c;
    if (n->type != XML_ELEMENT_NODE)
      continue;
    if (chain->checkpoints.len == VC_DOCUMENT_MAX_CHECKPOINTS)
      return *err = vc_printf ("more than %d checkpoints",
                               VC_DOCUMENT_MAX_CHECKPOINTS), -1;
    if (!xmlStrEqual (n->name, BAD_CAST "checkpoint") ||
        parse_checkpoint (n, &c, err) == -1) {
      if (*err == NULL)
        *err = vc_printf ("unexpected <%s> in <checkpoints>", (char *) n->name);
      return -1;
    }
    if (vc_checkpoint_vector_append (&chain->checkpoints, c) == -1) {
      vc_checkpoint_clear (&c);
      return *err = vc_printf ("out of memory"), -1;
    }
  }
  return 0;
}

/* A checkpoint's name and its place in the chain, for the sorted index. */
struct named {
  const char *name;
  size_t at;
};

static int
named_name_cmp (const void *a, const void *b)
{
  return strcmp (((const struct named *) a)->name, ((const struct named *) b)->name);
}

static int
named_cmp (const void *a, const void *b)
{
  const struct named *x = a, *y = b;
  int c = strcmp (x->name, y->name);

  if (c)
    return c;
  return x->at < y->at ? -1 : x->at > y->at;
}

/* A stored chain is always parents first with unique names; anything
 * else was not written by us and is not trusted.  Checked through an
 * index sorted by name: O(n log n), so that a long chain (up to
 * VC_DOCUMENT_MAX_CHECKPOINTS) reads in well under a second.
 */
static int
check_order (const struct vc_chain *chain, char **err)
{
  size_t n = chain->checkpoints.len;
  CLEANUP_FREE struct named *index = n ? calloc (n, sizeof *index) : NULL;

  if (n == 0)
    return 0;
  if (index == NULL)
    return *err = vc_printf ("out of memory"), -1;
  for (size_t i = 0; i < n; i++)
    index[i] = (struct named) { chain->checkpoints.ptr[i].name, i };
  qsort (index, n, sizeof *index, named_cmp);
  for (size_t i = 1; i < n; i++)
    if (strcmp (index[i - 1].name, index[i].name) == 0)
      return *err = vc_printf ("checkpoint %s appears twice", index[i].name), -1;
  for (size_t i = 0; i < n; i++) {
    const struct vc_checkpoint *c = &chain->checkpoints.ptr[i];
    struct named key = { c->parent, 0 };
    const struct named *p;
    if (c->parent == NULL)
      continue;
    /* names are unique: compare by name only */
    p = bsearch (&key, index, n, sizeof *index, named_name_cmp);
    if (p == NULL || p->at >= i)
      return *err = vc_printf ("checkpoint %s comes before its parent %s",
                               c->name, c->parent), -1;
  }
  return 0;
}

int
vc_document_parse (const char *buf, size_t len, struct vc_chain *chain,
                   char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *format = NULL;
  xmlNodePtr root;
  uint64_t fmt;

  memset (chain, 0, sizeof *chain);
  *err = NULL;
  doc = vc_xml_parse (buf, len, err);
  if (doc == NULL)
    return -1;
  root = xmlDocGetRootElement (doc);
  if (!xmlStrEqual (root->name, BAD_CAST "virtckpt-domain"))
    return *err = vc_printf ("not a virtckpt store document"), -1;
  format = vc_xml_prop (root, "format");
  if (parse_uint64 (format, &fmt) == -1 || fmt != VC_DOCUMENT_FORMAT)
    return *err = vc_printf ("unsupported document format '%s'",
                             format ? format : "(none)"), -1;

  if (parse_identity (root, chain, err) == -1 ||
      parse_broken (root, chain, err) == -1 ||
      vc_last_backup_parse (root, chain, err) == -1 ||
      parse_checkpoints (root, chain, err) == -1 ||
      check_order (chain, err) == -1 ||
      vc_schedule_parse (root, &chain->schedule, err) == -1) {
    vc_chain_clear (chain);
    return -1;
  }
  return 0;
}
