/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store document: one XML file per domain holding its chain.
 *
 *   <virtckpt-domain format="1">
 *     <name>web 1</name>
 *     <uuid>...</uuid>
 *     <version generation="7" node="0"/>      (quorate="no" when written
 *                                               without quorum)
 *     <base generation="6" node="2"/>          (virtckptd: version agreed at
 *                                               the last sync)
 *     <deleted/>                               (a tombstone: forgotten)
 *     <updated>1764228000</updated>
 *     <broken since="1764228000">bitmap c3 missing in vda</broken>
 *     <checkpoints>
 *       <checkpoint name="c1" created="1764227000">
 *         <disk name="vda" checkpoint="bitmap" bitmap="c1"/>
 *         <xml>&lt;domaincheckpoint&gt;...</xml>
 *       </checkpoint>
 *       <checkpoint name="c2" parent="c1" created="...">...</checkpoint>
 *     </checkpoints>
 *     <schedule every="900" set="...">                (optional: the
 *       <dir>/backups/web1</dir>                         backup schedule,
 *     </schedule>                                        store/schedule.h)
 *   </virtckpt-domain>
 *
 * The <xml> element is authoritative; the other checkpoint fields are a
 * summary derived from it for readers of the file.  On reading, the
 * summary's name and parent are checked against the XML (a mismatch means
 * a hand-edited or damaged document) and everything else is taken from
 * the XML.
 */
#ifndef VIRTCKPT_DOCUMENT_H
#define VIRTCKPT_DOCUMENT_H

#include <stddef.h>

#include "store/chain.h"

#define VC_DOCUMENT_FORMAT 1

/* The most checkpoints a document holds: a qcow2 image holds at most
 * 65535 bitmaps, so no longer chain can exist in libvirt.  Longer
 * documents are neither written nor read.
 */
#define VC_DOCUMENT_MAX_CHECKPOINTS 65535

/* Returns the serialised document (malloc'd) and its length. */
extern char *vc_document_format (const struct vc_chain *chain, size_t *len);

/* Parses a document.  On failure returns -1 and a malloc'd reason. */
extern int vc_document_parse (const char *buf, size_t len,
                              struct vc_chain *chain, char **err);

#endif
