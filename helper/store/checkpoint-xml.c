/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xpath.h>

#include "store/checkpoint-xml.h"
#include "common/cleanup.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

/* Child elements named NAME in no namespace, in document order: what
 * an XPath step without a prefix selects.  The store parses every
 * checkpoint of every document it reads, so no XPath here: a context
 * and a compiled expression per lookup cost most of a document's parse.
 */
static xmlNodePtr
next_named (xmlNodePtr n, const char *name)
{
  for (; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && n->ns == NULL &&
        xmlStrEqual (n->name, BAD_CAST name))
      return n;
  return NULL;
}

#define FOR_NAMED(var, parent, name) \
  for (xmlNodePtr var = next_named ((parent)->children, name); var; \
       var = next_named (var->next, name))

/* The text of the first /ROOT/A/B (B NULL: /ROOT/A), or NULL. */
static char *
text_at (xmlNodePtr root, const char *a, const char *b)
{
  FOR_NAMED (x, root, a) {
    xmlNodePtr y = b ? next_named (x->children, b) : x;
    if (y) {
      CLEANUP_XMLFREE xmlChar *content = xmlNodeGetContent (y);
      return content ? strdup ((const char *) content) : NULL;
    }
  }
  return NULL;
}

static int
parse_disk (xmlNodePtr node, struct vc_checkpoint *out, char **err)
{
  CLEANUP_XMLFREE xmlChar *name = xmlGetProp (node, BAD_CAST "name");
  CLEANUP_XMLFREE xmlChar *mode = xmlGetProp (node, BAD_CAST "checkpoint");
  CLEANUP_XMLFREE xmlChar *bitmap = xmlGetProp (node, BAD_CAST "bitmap");
  struct vc_disk d = { 0 };

  if (name == NULL || *name == '\0')
    return *err = vc_printf ("checkpoint %s has a disk without a name",
                             out->name), -1;
  d.name = strdup ((char *) name);
  d.mode = strdup (mode ? (char *) mode : "bitmap");
  d.bitmap = bitmap ? strdup ((char *) bitmap) : NULL;
  if (d.name == NULL || d.mode == NULL || (bitmap && d.bitmap == NULL) ||
      vc_disk_vector_append (&out->disks, d) == -1) {
    vc_disk_clear (&d);
    return *err = vc_printf ("out of memory"), -1;
  }
  return 0;
}

/* /domaincheckpoint/disks/disk */
static int
parse_disks (xmlNodePtr root, struct vc_checkpoint *out, char **err)
{
  FOR_NAMED (disks, root, "disks")
    FOR_NAMED (disk, disks, "disk")
      if (parse_disk (disk, out, err) == -1)
        return -1;
  return 0;
}

int
vc_checkpoint_parse (const char *xml, struct vc_checkpoint *out, char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *created = NULL;
  xmlNodePtr root;
  char *end;

  memset (out, 0, sizeof *out);
  *err = NULL;
  doc = vc_xml_parse (xml, strlen (xml), err);
  if (doc == NULL)
    return -1;
  root = xmlDocGetRootElement (doc);
  if (!xmlStrEqual (root->name, BAD_CAST "domaincheckpoint"))
    return *err = vc_printf ("not a <domaincheckpoint> document"), -1;
  /* A root in a namespace matched none of the former XPath lookups. */
  if (root->ns == NULL) {
    out->name = text_at (root, "name", NULL);
    out->parent = text_at (root, "parent", "name");
    created = text_at (root, "creationTime", NULL);
  }
  if (out->name == NULL || *out->name == '\0') {
    vc_checkpoint_clear (out);
    return *err = vc_printf ("checkpoint XML has no <name>"), -1;
  }
  if (out->parent && *out->parent == '\0') {
    free (out->parent);
    out->parent = NULL;
  }
  if (created) {
    errno = 0;
    out->created = strtoll (created, &end, 10);
    if (errno || end == created || *end) {
      *err = vc_printf ("checkpoint %s has a bad creationTime '%s'",
                        out->name, created);
      vc_checkpoint_clear (out);
      return -1;
    }
  }
  if (parse_disks (root, out, err) == -1 ||
      (out->xml = strdup (xml)) == NULL) {
    if (*err == NULL)
      *err = vc_printf ("out of memory");
    vc_checkpoint_clear (out);
    return -1;
  }
  return 0;
}

char *
vc_checkpoint_xml_for_redefine (const char *xml, const char *uuid,
                                bool *dropped, char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *stored_uuid = NULL;
  xmlNodePtr root, child;

  *dropped = false;
  doc = vc_xml_parse (xml, strlen (xml), err);
  if (doc == NULL)
    return NULL;
  root = xmlDocGetRootElement (doc);
  stored_uuid = vc_xml_text (doc, NULL, "/domaincheckpoint/domain/uuid");
  if (stored_uuid == NULL || (uuid && strcasecmp (stored_uuid, uuid) == 0)) {
    char *copy = strdup (xml);
    if (copy == NULL)
      *err = vc_printf ("out of memory");
    return copy;
  }

  for (child = root->children; child; child = child->next) {
    if (child->type == XML_ELEMENT_NODE &&
        xmlStrEqual (child->name, BAD_CAST "domain")) {
      xmlUnlinkNode (child);
      xmlFreeNode (child);
      *dropped = true;
      break;
    }
  }
  char *out = vc_xml_dump (doc, NULL);
  if (out == NULL)
    *err = vc_printf ("out of memory");
  return out;
}
