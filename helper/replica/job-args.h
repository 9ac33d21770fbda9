/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a job handed over by a peer may ask for (jobs.h): its kind, the
 * domain, and virtckpt's options, checked here before anything runs.
 * Pure, so that it is tested on its own (tests/unit/test-job-args.c).
 */
#ifndef VIRTCKPT_JOB_ARGS_H
#define VIRTCKPT_JOB_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum vc_job_kind { VC_JOB_BACKUP, VC_JOB_CANCEL, VC_JOB_LOCATE };

/* "backup", "cancel", "locate", then NULL: indexed by enum vc_job_kind. */
extern const char *const vc_job_kinds[];

/* The kind named name, or -1. */
extern int vc_job_kind (const char *name);

/* 1 to max bytes, none a control character. */
extern bool vc_job_text_ok (const char *s, size_t max);

/* Whether args (n of them) are options the CLI forwards for kind: for a
 * backup --output (required), --level, --disk, --exclude, --checksum,
 * --connections, --request-size, --in-flight, --max-rate, --rundir,
 * --json, --no-progress; for a cancel --grace, --wait, --hold, --release,
 * --rundir; nothing for a locate.  Each value follows its option, is
 * text (vc_job_text_ok, PATH_MAX), does not start with '-', and for
 * --output and --rundir is an absolute path without "..".
 */
extern bool vc_job_args_allowed (enum vc_job_kind kind, char *const *args,
                                 size_t n);

#endif
