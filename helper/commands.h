/* Subcommands of virtckpt(8). */
#ifndef VIRTCKPT_COMMANDS_H
#define VIRTCKPT_COMMANDS_H

#include <stdbool.h>

struct vc_options {
  const char *uri;              /* libvirt URI, NULL for the default */
  const char *store_dir;
  int verbosity;
  bool force;
  bool xml;
};

/* Each returns a VC_EXIT_* code; argv holds the positional arguments
 * after the subcommand's own name.
 */
extern int vc_cmd_checkpoints (const struct vc_options *opts,
                               int argc, char **argv);
extern void vc_usage_checkpoints (const char *sub);

#endif
