/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by store.c and store-replica.c only. */
#ifndef VIRTCKPT_STORE_INTERNAL_H
#define VIRTCKPT_STORE_INTERNAL_H

#include "store/chain.h"
#include "store/store.h"

/* Gives chain, about to be written into a replica whose daemon is down,
 * the version that lets the daemon's next sync order it (see
 * store-replica.c).
 */
extern void vc_store_flag_unreplicated (struct vc_store *store, struct vc_chain *chain);

#endif
