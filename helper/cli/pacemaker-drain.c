/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vc_pacemaker_draining (pacemaker-drain.h). */
#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

#include "cli/pacemaker-drain.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/run-capture.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"

/* Pacemaker's tools answer at once, or the node has other problems. */
#define PCMK_TIMEOUT 20

static bool
prop_true (xmlNodePtr n, const char *name)
{
  CLEANUP_FREE char *v = vc_xml_prop (n, name);

  return v && strcmp (v, "true") == 0;
}

/* This node's name, as Pacemaker knows it, or NULL. */
static char *
node_name (void)
{
  char *argv[] = { (char *) "crm_node", (char *) "-n", NULL };
  char *out = NULL;
  size_t len;

  if (vc_run_capture (argv, PCMK_TIMEOUT, &out, &len) != 0) {
    free (out);
    return NULL;
  }
  while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
    out[--len] = '\0';
  if (len == 0 || strchr (out, '\n')) {
    free (out);
    return NULL;
  }
  return out;
}

static char *
why_of (xmlDocPtr doc, const char *name)
{
  xmlNodePtr root = xmlDocGetRootElement (doc), summary, opts, nodes;

  if (root == NULL)
    return NULL;
  if ((summary = vc_xml_child (root, "summary")) &&
      (opts = vc_xml_child (summary, "cluster_options")) &&
      prop_true (opts, "maintenance-mode"))
    return strdup ("the cluster is in maintenance mode");
  if ((nodes = vc_xml_child (root, "nodes")) == NULL)
    return NULL;
  for (xmlNodePtr n = nodes->children; n; n = n->next) {
    CLEANUP_FREE char *nm = NULL;
    if (n->type != XML_ELEMENT_NODE || xmlStrcmp (n->name, BAD_CAST "node") != 0)
      continue;
    nm = vc_xml_prop (n, "name");
    if (nm == NULL || strcmp (nm, name) != 0)
      continue;
    if (prop_true (n, "standby") || prop_true (n, "standby_onfail"))
      return vc_printf ("node %s is in standby", name);
    if (prop_true (n, "maintenance"))
      return vc_printf ("node %s is in maintenance", name);
    if (prop_true (n, "shutdown"))
      return vc_printf ("node %s is shutting down", name);
    return NULL;
  }
  return NULL;
}

int
vc_pacemaker_drain_reason (const char *xml, size_t len, const char *node,
                           char **why)
{
  CLEANUP_FREE char *err = NULL;
  xmlDocPtr doc = vc_xml_parse (xml, len, &err);

  *why = NULL;
  if (doc == NULL) {
    vc_warn ("cannot read what crm_mon says about this node: %s", err);
    return -1;
  }
  *why = why_of (doc, node);
  xmlFreeDoc (doc);
  return *why != NULL;
}

int
vc_pacemaker_draining (char **why)
{
  char *argv[] = { (char *) "crm_mon", (char *) "--one-shot",
                   (char *) "--output-as=xml", NULL };
  CLEANUP_FREE char *name = NULL, *out = NULL;
  size_t len;
  int st;

  *why = NULL;
  name = node_name ();
  if (name == NULL)
    return -1;
  st = vc_run_capture (argv, PCMK_TIMEOUT, &out, &len);
  if (st != 0) {
    vc_debug ("crm_mon did not answer (status %d): Pacemaker is not running here", st);
    return -1;
  }
  /* Unreadable: Pacemaker runs, and nothing is known to drain. */
  return vc_pacemaker_drain_reason (out, len, name, why) == 1;
}
