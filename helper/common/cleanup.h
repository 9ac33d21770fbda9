/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Scope-bound cleanup of heap objects, in the style of nbdkit's common/. */
#ifndef VIRTCKPT_CLEANUP_H
#define VIRTCKPT_CLEANUP_H

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

static inline void cleanup_free (void *ptr) { free (*(void **) ptr); }
#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))

static inline void
cleanup_xml_doc (xmlDocPtr *doc)
{
  if (*doc)
    xmlFreeDoc (*doc);
}
#define CLEANUP_XMLFREEDOC __attribute__ ((cleanup (cleanup_xml_doc)))

static inline void
cleanup_xml_xpath_ctx (xmlXPathContextPtr *ctx)
{
  if (*ctx)
    xmlXPathFreeContext (*ctx);
}
#define CLEANUP_XMLXPATHFREECONTEXT __attribute__ ((cleanup (cleanup_xml_xpath_ctx)))

static inline void
cleanup_xml_xpath_obj (xmlXPathObjectPtr *obj)
{
  if (*obj)
    xmlXPathFreeObject (*obj);
}
#define CLEANUP_XMLXPATHFREEOBJECT __attribute__ ((cleanup (cleanup_xml_xpath_obj)))

static inline void
cleanup_xml_free (xmlChar **p)
{
  if (*p)
    xmlFree (*p);
}
#define CLEANUP_XMLFREE __attribute__ ((cleanup (cleanup_xml_free)))

static inline void
cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}
#define CLEANUP_CLOSE __attribute__ ((cleanup (cleanup_close)))

/* Hands a CLEANUP_CLOSE descriptor to the caller. */
static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

static inline void
cleanup_closedir (DIR **d)
{
  if (*d)
    closedir (*d);
}
#define CLEANUP_CLOSEDIR __attribute__ ((cleanup (cleanup_closedir)))

#endif
