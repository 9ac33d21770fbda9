/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xpath.h>

#include "common/cleanup.h"
#include "libvirt/domain-info.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

/* Disk targets become file names in backups: keep them plain. */
static bool
plain_target (const char *s)
{
  return *s && strspn (s, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen (s);
}

int
vc_domain_info_parse (const char *xml, struct vc_domain_info *info, char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = NULL;
  CLEANUP_XMLXPATHFREECONTEXT xmlXPathContextPtr ctx = NULL;
  CLEANUP_XMLXPATHFREEOBJECT xmlXPathObjectPtr obj = NULL;
  CLEANUP_FREE char *label = NULL, *agent = NULL;

  memset (info, 0, sizeof *info);
  doc = vc_xml_parse (xml, strlen (xml), err);
  if (doc == NULL)
    return -1;
  ctx = xmlXPathNewContext (doc);
  if (ctx == NULL)
    return *err = vc_printf ("out of memory"), -1;
  obj = xmlXPathEvalExpression (BAD_CAST
      "/domain/devices/disk[@device='disk' or not(@device)]/target/@dev", ctx);
  for (int i = 0; obj && obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
    xmlChar *dev = xmlNodeGetContent (obj->nodesetval->nodeTab[i]);
    char *s = dev ? strdup ((char *) dev) : NULL;
    xmlFree (dev);
    if (s == NULL || !plain_target (s)) {
      *err = vc_printf ("disk target '%s' is not a plain name", s ? s : "");
      free (s);
      vc_domain_info_clear (info);
      return -1;
    }
    if (string_vector_append (&info->disks, s) == -1) {
      free (s);
      vc_domain_info_clear (info);
      return *err = vc_printf ("out of memory"), -1;
    }
  }

  /* Live XML: <seclabel type='dynamic' model='dac'><label>+64055:+64055</label> */
  label = vc_xml_text (doc, NULL, "/domain/seclabel[@model='dac']/label");
  if (label) {
    unsigned long uid, gid;
    int end = 0;
    /* "+UID:+GID" or "UID:GID"; names, negatives and huge values give no
     * owner (the socket directory then stays root's).
     */
    if (strchr (label, '-') == NULL &&
        sscanf (label, "%lu:%lu%n", &uid, &gid, &end) == 2 && label[end] == '\0' &&
        uid < UINT32_MAX && gid < UINT32_MAX) {
      info->have_owner = true;
      info->qemu_uid = uid;
      info->qemu_gid = gid;
    }
  }
  agent = vc_xml_text (doc, NULL,
      "/domain/devices/channel/target[@name='org.qemu.guest_agent.0']/@name");
  info->has_agent = agent != NULL;
  return 0;
}

void
vc_domain_info_clear (struct vc_domain_info *info)
{
  vc_string_vector_free (&info->disks);
}
