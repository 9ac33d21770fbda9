/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt's <domaincheckpoint> XML: reading it and preparing it for
 * virDomainCheckpointCreateXML(..., REDEFINE).
 */
#ifndef VIRTCKPT_CHECKPOINT_XML_H
#define VIRTCKPT_CHECKPOINT_XML_H

#include <stdbool.h>

#include "store/chain.h"

/* Fills *out from xml (which it copies into out->xml).  On failure returns
 * -1 and a malloc'd reason in *err.
 */
extern int vc_checkpoint_parse (const char *xml, struct vc_checkpoint *out,
                                char **err);

/* libvirt refuses to redefine a checkpoint whose embedded <domain> has
 * another UUID, which is what a transient domain re-created without <uuid>
 * has.  Returns the XML to redefine for a domain whose UUID is uuid: the
 * stored XML unchanged if the UUIDs match, else without its <domain>
 * element (*dropped set).  NULL with *err on failure.
 */
extern char *vc_checkpoint_xml_for_redefine (const char *xml, const char *uuid,
                                             bool *dropped, char **err);

#endif
