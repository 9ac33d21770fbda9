/* Subcommands of virtckpt(8). */
#ifndef VIRTCKPT_COMMANDS_H
#define VIRTCKPT_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct vc_options {
  const char *uri;              /* libvirt URI, NULL for the default */
  const char *store_dir;
  bool store_explicit;          /* --store or $VIRTCKPT_STORE given */
  const char *rundir;
  int verbosity;
  bool force;
  bool xml;
  /* backup, restore */
  const char *output;
  const char *level;
  string_vector disks;
  string_vector excludes;
  const char *until;
  const char *format;
  unsigned connections;
  uint32_t request_size;
  uint32_t in_flight;
  const char *checksum;         /* backup: xxh128 or sha256 */
  bool no_verify;
  bool no_progress;
  unsigned wait_synced;         /* status --wait-synced SECONDS */
  /* cancel */
  unsigned grace;
  unsigned wait;
  int hold;                     /* -1: not given */
  bool release;
};

/* Each returns a VC_EXIT_* code; argv holds the positional arguments
 * after the command's own name.
 */
extern int vc_cmd_checkpoints (const struct vc_options *opts,
                               int argc, char **argv);
extern void vc_usage_checkpoints (const char *sub);

extern int vc_cmd_backup (const struct vc_options *opts, int argc, char **argv);
extern int vc_cmd_restore (const struct vc_options *opts, int argc, char **argv);
extern int vc_cmd_verify (const struct vc_options *opts, int argc, char **argv);
extern int vc_cmd_list (const struct vc_options *opts, int argc, char **argv);
extern int vc_cmd_cancel (const struct vc_options *opts, int argc, char **argv);
extern void vc_usage_backup (const char *cmd);
extern int vc_cmd_status (const struct vc_options *opts, int argc, char **argv);

#endif
