/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Parsing untrusted XML: no network, no external entities, no DTD, a size
 * limit.  Store documents can be damaged or planted, and checkpoint XML
 * crosses hosts, so every parse goes through here.
 */
#ifndef VIRTCKPT_XML_SAFE_H
#define VIRTCKPT_XML_SAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libxml/tree.h>

/* Largest XML document accepted (store document or checkpoint XML). */
#define VC_XML_MAX_SIZE (32 * 1024 * 1024)

/* Parses buf; on failure returns NULL and a malloc'd one-line reason. */
extern xmlDocPtr vc_xml_parse (const char *buf, size_t len, char **err);

/* Text of the first node matching xpath under node (or the document), or
 * NULL.  The result is malloc'd (not xmlChar-owned).
 */
extern char *vc_xml_text (xmlDocPtr doc, xmlNodePtr node, const char *xpath);

/* Attribute name of node as a malloc'd string (not xmlChar-owned), or
 * NULL when absent.
 */
extern char *vc_xml_prop (xmlNodePtr node, const char *name);

/* First child element of node called name, or NULL. */
extern xmlNodePtr vc_xml_child (xmlNodePtr node, const char *name);

/* Reads attribute name of node as a decimal number, digits only (no sign,
 * space or suffix), into *out (0 when absent).  -1 when it is malformed,
 * out of range, or absent and required.
 */
extern int vc_xml_prop_u64 (xmlNodePtr node, const char *name, uint64_t *out,
                             bool required);

/* Sets attribute name of node; a NULL value sets nothing.  false only
 * when out of memory.
 */
extern bool vc_xml_set_prop (xmlNodePtr node, const char *name, const char *value);
extern bool vc_xml_set_prop_u64 (xmlNodePtr node, const char *name, uint64_t value);
extern bool vc_xml_set_prop_i64 (xmlNodePtr node, const char *name, int64_t value);

/* Serialises a document without the XML declaration's encoding surprises. */
extern char *vc_xml_dump (xmlDocPtr doc, size_t *len);

#endif
