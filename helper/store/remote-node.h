/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pacemaker Remote nodes: telling that this host is one, the full nodes
 * it reaches the store through, and the store as such a node sees it
 * (store-remote.c).
 */
#ifndef VIRTCKPT_REMOTE_NODE_H
#define VIRTCKPT_REMOTE_NODE_H

#include <stdbool.h>

#include "store/store.h"

/* Whether this host, where no virtckptd answers, is a Pacemaker Remote
 * node: VIRTCKPT_SERVERS is set, or Pacemaker's authkey is here,
 * store_dir is no virtckptd replica, and pacemaker-remoted runs here or
 * is installed without Pacemaker's full daemons.  A
 * full node whose daemon is down is none of these: it keeps using its
 * own replica (store-replica.c).
 */
extern bool vc_remote_node (const char *store_dir);

/* The full nodes to try, as HOST or HOST:PORT: VIRTCKPT_SERVERS (split
 * on blanks and commas) when set, else the members `crm_node -l` lists.
 * The list starts at a place this node's name picks, so that remote
 * nodes spread over the full nodes.  0, or -1 (logged).
 */
extern int vc_remote_servers (string_vector *servers);

/* This node's daemon; on a remote node (*remote_node set), the relay of
 * a full node.  NULL as vc_daemon_connect, errno saying why
 * (vc_daemon_unreachable); on a remote node, NULL means no full node
 * could be used, and then no store may be.
 */
extern struct vc_daemon *vc_daemon_open (const char *store_dir,
                                         bool *remote_node);

/* store-remote.c: a store whose dir is a private snapshot of the serving
 * node's replica, filled as documents are read, removed at close.
 */
extern int vc_store_open_remote (struct vc_store *store, struct vc_daemon *d);
extern void vc_store_remote_close (struct vc_store *store);
/* Brings file (a document's file name), or every document, from the
 * serving node into the snapshot, once per store; 0 or -1 (logged).
 */
extern int vc_store_remote_fetch (struct vc_store *store, const char *file);
extern int vc_store_remote_fetch_all (struct vc_store *store);
/* file was written through the daemon: read it anew next time. */
extern void vc_store_remote_wrote (struct vc_store *store, const char *file);

#endif
