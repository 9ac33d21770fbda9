/* SPDX-License-Identifier: GPL-2.0-or-later */
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
  bool names;                   /* checkpoints show --names */
  bool json;                    /* one JSON document on stdout */
  bool check;                   /* checkpoints list --check */
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
  uint64_t max_rate;            /* backup --max-rate, bytes per second */
  const char *checksum;         /* backup: xxh128 or sha256 */
  bool no_verify;
  bool no_progress;
  unsigned wait_synced;         /* status --wait-synced SECONDS */
  /* cancel */
  unsigned grace;
  unsigned wait;
  int hold;                     /* -1: not given */
  bool release;
  bool instant;                 /* restore --instant */
  /* schedule set, prune: as given, parsed by cmd-schedule.c, cmd-prune.c */
  const char *every, *full_every;
  const char *keep_last, *keep_daily, *keep_weekly, *keep_monthly;
  bool dry_run;                 /* prune */
  /* status: the domains' backup health; --attribute its short form */
  bool domains;
  bool attribute;
  /* backup of a stopped domain */
  bool offline;
  const char *config;
};

/* The long options without a short form. */
enum {
  VC_OPT_XML = 256, VC_OPT_NAMES, VC_OPT_DISK, VC_OPT_EXCLUDE, VC_OPT_UNTIL,
  VC_OPT_FORMAT, VC_OPT_CONNECTIONS, VC_OPT_REQUEST_SIZE, VC_OPT_IN_FLIGHT,
  VC_OPT_NO_VERIFY, VC_OPT_NO_PROGRESS, VC_OPT_RUNDIR, VC_OPT_WAIT_SYNCED,
  VC_OPT_CHECKSUM, VC_OPT_GRACE, VC_OPT_WAIT, VC_OPT_HOLD, VC_OPT_RELEASE,
  VC_OPT_MAX_RATE,
  VC_OPT_JSON, VC_OPT_CHECK,
  VC_OPT_INSTANT,
  VC_OPT_EVERY, VC_OPT_FULL_EVERY, VC_OPT_KEEP_LAST, VC_OPT_KEEP_DAILY,
  VC_OPT_KEEP_WEEKLY, VC_OPT_KEEP_MONTHLY,
  VC_OPT_DRY_RUN,
  VC_OPT_DOMAINS, VC_OPT_ATTRIBUTE,
  VC_OPT_OFFLINE, VC_OPT_CONFIG,
  VC_OPT_END                    /* past the last */
};

/* A command's handler returns a VC_EXIT_* code; argv holds the positional
 * arguments after the command's (and subcommand's) name.
 */
typedef int vc_command_fn (const struct vc_options *opts, int argc, char **argv);

/* An entry of virtckpt's command table (virtckpt.c). */
struct vc_command {
  const char *name;
  const char *args;             /* after the name in 'virtckpt --help' */
  const char *summary;          /* one line in 'virtckpt --help' */
  const char *synopsis;         /* 'NAME --help' usage line; NULL: args */
  const char *help;             /* the rest of 'NAME --help', or NULL */
  vc_command_fn *run;           /* NULL when it has subcommands */
  const struct vc_command *subcommands; /* ended by a NULL name, or NULL */
  /* The long names of the options it takes, space separated, beyond
   * those every command takes (connect, store, rundir, verbose, quiet,
   * help, version); any other is a usage error.
   */
  const char *options;
};

/* checkpoints SUBCOMMAND */
extern vc_command_fn vc_cmd_capture, vc_cmd_redefine, vc_cmd_show,
  vc_cmd_list_domains, vc_cmd_forget, vc_cmd_import;

/* schedule SUBCOMMAND */
extern vc_command_fn vc_cmd_schedule_set, vc_cmd_schedule_show,
  vc_cmd_schedule_list, vc_cmd_schedule_remove, vc_cmd_schedule_run;

extern vc_command_fn vc_cmd_backup, vc_cmd_restore, vc_cmd_verify,
  vc_cmd_list, vc_cmd_cancel, vc_cmd_status, vc_cmd_thaw;

extern vc_command_fn vc_cmd_prune;

#endif
