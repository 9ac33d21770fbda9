/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>
#include <errno.h>
#include <inttypes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xmlerror.h>

#include "common/cleanup.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

static void
silent (void *ctx, const char *msg, ...)
{
}

xmlDocPtr
vc_xml_parse (const char *buf, size_t len, char **err)
{
  xmlDocPtr doc;

  *err = NULL;
  if (len > VC_XML_MAX_SIZE) {
    *err = vc_printf ("XML is %zu bytes, more than the limit of %d MiB",
              len, VC_XML_MAX_SIZE / 1024 / 1024);
    return NULL;
  }
  /* Fail early on a DOCTYPE: libxml2 would otherwise read the internal
   * subset (entity definitions) before we could look at the tree.
   */
  if (memmem (buf, len, "<!DOCTYPE", 9) || memmem (buf, len, "<!ENTITY", 8)) {
    *err = vc_printf ("XML with a DOCTYPE or ENTITY declaration is refused");
    return NULL;
  }

  xmlSetGenericErrorFunc (NULL, silent);
  xmlResetLastError ();
  doc = xmlReadMemory (buf, (int) len, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR |
                       XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (doc == NULL) {
    const xmlError *e = xmlGetLastError ();
    if (e && e->message) {
      size_t n = strlen (e->message);
      while (n > 0 && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        n--;
      *err = vc_printf ("malformed XML at line %d: %.*s", e->line, (int) n,
                e->message);
    }
    else
      *err = vc_printf ("malformed XML");
    return NULL;
  }
  if (doc->intSubset || doc->extSubset) {
    xmlFreeDoc (doc);
    *err = vc_printf ("XML with a DOCTYPE is refused");
    return NULL;
  }
  if (xmlDocGetRootElement (doc) == NULL) {
    xmlFreeDoc (doc);
    *err = vc_printf ("XML has no root element");
    return NULL;
  }
  return doc;
}

char *
vc_xml_text (xmlDocPtr doc, xmlNodePtr node, const char *xpath)
{
  CLEANUP_XMLXPATHFREECONTEXT xmlXPathContextPtr ctx = xmlXPathNewContext (doc);
  CLEANUP_XMLXPATHFREEOBJECT xmlXPathObjectPtr obj = NULL;
  CLEANUP_XMLFREE xmlChar *content = NULL;

  if (ctx == NULL)
    return NULL;
  if (node)
    ctx->node = node;
  obj = xmlXPathEvalExpression (BAD_CAST xpath, ctx);
  if (obj == NULL || obj->type != XPATH_NODESET || obj->nodesetval == NULL ||
      obj->nodesetval->nodeNr == 0)
    return NULL;
  content = xmlNodeGetContent (obj->nodesetval->nodeTab[0]);
  return content ? strdup ((const char *) content) : NULL;
}

int
vc_xml_prop_u64 (xmlNodePtr node, const char *name, uint64_t *out, bool required)
{
  CLEANUP_FREE char *s = vc_xml_prop (node, name);
  char *end;

  *out = 0;
  if (s == NULL)
    return required ? -1 : 0;
  if (!(*s >= '0' && *s <= '9'))
    return -1;
  errno = 0;
  *out = strtoull (s, &end, 10);
  return errno || *end ? -1 : 0;
}

bool
vc_xml_set_prop (xmlNodePtr node, const char *name, const char *value)
{
  return value == NULL || xmlNewProp (node, BAD_CAST name, BAD_CAST value) != NULL;
}

bool
vc_xml_set_prop_u64 (xmlNodePtr node, const char *name, uint64_t value)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%" PRIu64, value);
  return vc_xml_set_prop (node, name, buf);
}

bool
vc_xml_set_prop_i64 (xmlNodePtr node, const char *name, int64_t value)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%" PRId64, value);
  return vc_xml_set_prop (node, name, buf);
}

char *
vc_xml_dump (xmlDocPtr doc, size_t *len)
{
  xmlChar *mem = NULL;
  int size = 0;
  char *out;

  xmlDocDumpFormatMemoryEnc (doc, &mem, &size, "UTF-8", 1);
  if (mem == NULL)
    return NULL;
  out = malloc (size + 1);
  if (out) {
    memcpy (out, mem, size);
    out[size] = '\0';
    if (len)
      *len = size;
  }
  xmlFree (mem);
  return out;
}

char *
vc_xml_prop (xmlNodePtr node, const char *name)
{
  xmlChar *v = xmlGetProp (node, BAD_CAST name);
  char *s = v ? strdup ((char *) v) : NULL;
  xmlFree (v);
  return s;
}

xmlNodePtr
vc_xml_child (xmlNodePtr node, const char *name)
{
  for (xmlNodePtr c = node->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name))
      return c;
  return NULL;
}
