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

static int
parse_disks (xmlDocPtr doc, struct vc_checkpoint *out, char **err)
{
  CLEANUP_XMLXPATHFREECONTEXT xmlXPathContextPtr ctx = xmlXPathNewContext (doc);
  CLEANUP_XMLXPATHFREEOBJECT xmlXPathObjectPtr obj = NULL;

  if (ctx == NULL)
    return *err = vc_printf ("out of memory"), -1;
  obj = xmlXPathEvalExpression (BAD_CAST "/domaincheckpoint/disks/disk", ctx);
  if (obj == NULL || obj->nodesetval == NULL)
    return 0;
  for (int i = 0; i < obj->nodesetval->nodeNr; i++) {
    xmlNodePtr node = obj->nodesetval->nodeTab[i];
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
  }
  return 0;
}

int
vc_checkpoint_parse (const char *xml, struct vc_checkpoint *out, char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_FREE char *created = NULL;
  char *end;

  memset (out, 0, sizeof *out);
  *err = NULL;
  doc = vc_xml_parse (xml, strlen (xml), err);
  if (doc == NULL)
    return -1;
  if (!xmlStrEqual (xmlDocGetRootElement (doc)->name, BAD_CAST "domaincheckpoint"))
    return *err = vc_printf ("not a <domaincheckpoint> document"), -1;

  out->name = vc_xml_text (doc, NULL, "/domaincheckpoint/name");
  if (out->name == NULL || *out->name == '\0') {
    vc_checkpoint_clear (out);
    return *err = vc_printf ("checkpoint XML has no <name>"), -1;
  }
  out->parent = vc_xml_text (doc, NULL, "/domaincheckpoint/parent/name");
  if (out->parent && *out->parent == '\0') {
    free (out->parent);
    out->parent = NULL;
  }
  created = vc_xml_text (doc, NULL, "/domaincheckpoint/creationTime");
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
  if (parse_disks (doc, out, err) == -1 ||
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
