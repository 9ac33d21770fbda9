/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include "backup/checksum.h"
#include "cli/backup-json.h"

static void
json_checksum (struct vc_json *j, const struct vc_digest *sum)
{
  vc_json_member_string (j, "checksum_algorithm", vc_checksum_name (sum->algo));
  vc_json_member_string (j, "checksum", sum->hex);
}

static void
json_disk (struct vc_json *j, const struct vc_backup_disk *d)
{
  vc_json_begin_object (j);
  vc_json_member_string (j, "name", d->name);
  vc_json_member_string (j, "file", d->file);
  vc_json_member_string (j, "backing", d->backing);
  vc_json_member_uint (j, "virtual_size", d->virtual_size);
  vc_json_member_uint (j, "bytes_read", d->bytes_read);
  vc_json_member_uint (j, "bytes_zeroed", d->bytes_zeroed);
  vc_json_member_uint (j, "bytes_written", d->file_size);
  vc_json_member_uint (j, "bytes_reused", d->bytes_reused);
  json_checksum (j, &d->sum);
  vc_json_end_object (j);
}

void
vc_json_backup_members (struct vc_json *j, const struct vc_backup *b)
{
  uint64_t read = 0, written = 0, size = 0, reused = 0;

  for (size_t i = 0; i < b->disks.len; i++) {
    read += b->disks.ptr[i].bytes_read;
    reused += b->disks.ptr[i].bytes_reused;
    written += b->disks.ptr[i].file_size;
    size += b->disks.ptr[i].virtual_size;
  }
  vc_json_member_uint (j, "id", b->id);
  vc_json_member_string (j, "level", b->level);
  vc_json_member_string (j, "chain", b->chain);
  vc_json_member_string (j, "checkpoint", b->checkpoint);
  vc_json_member_string (j, "since", b->since);
  vc_json_key (j, "parent");
  if (b->parent)
    vc_json_uint (j, b->parent);
  else
    vc_json_null (j);
  vc_json_member_string (j, "dir", b->dir);
  vc_json_member_int (j, "started", b->started);
  vc_json_member_int (j, "finished", b->finished);
  vc_json_key (j, "seconds");
  vc_json_seconds (j, b->seconds);
  vc_json_member_string (j, "consistency", b->consistency);
  vc_json_member_uint (j, "virtual_size", size);
  vc_json_member_uint (j, "bytes_read", read);
  vc_json_member_uint (j, "bytes_written", written);
  vc_json_member_uint (j, "resumed", b->resumed);
  vc_json_member_bool (j, "synthetic", b->synthetic);
  vc_json_member_uint (j, "bytes_reused", reused);
  vc_json_key (j, "disks");
  vc_json_begin_array (j);
  for (size_t i = 0; i < b->disks.len; i++)
    json_disk (j, &b->disks.ptr[i]);
  vc_json_end_array (j);
  vc_json_key (j, "files");
  vc_json_begin_array (j);
  for (size_t i = 0; i < b->files.len; i++) {
    vc_json_begin_object (j);
    vc_json_member_string (j, "name", b->files.ptr[i].name);
    json_checksum (j, &b->files.ptr[i].sum);
    vc_json_end_object (j);
  }
  vc_json_end_array (j);
}
