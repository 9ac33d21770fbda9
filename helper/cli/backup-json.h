/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A backup of a manifest as JSON members: the same keys in list --json
 * and in backup --json's summary (virtckpt(8), JSON OUTPUT).
 */
#ifndef VIRTCKPT_BACKUP_JSON_H
#define VIRTCKPT_BACKUP_JSON_H

#include "backup/manifest.h"
#include "common/json-writer.h"

/* Writes b's members into the open object of j. */
extern void vc_json_backup_members (struct vc_json *j, const struct vc_backup *b);

#endif
