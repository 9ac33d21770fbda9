/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs a program (argv, looked up in PATH, never a shell) and captures
 * its standard output, bounded in time and size.
 */
#ifndef VIRTCKPT_RUN_CAPTURE_H
#define VIRTCKPT_RUN_CAPTURE_H

#include <stddef.h>

/* Output beyond this is cut off (the program gets EPIPE). */
#define VC_RUN_CAPTURE_MAX (4 * 1024 * 1024)

/* Runs argv with stdin and stderr on /dev/null; its stdout, NUL-terminated,
 * in *out (malloc'd, also on failure, NULL when none).  Returns its exit
 * status, 127 when it could not be run, or -1 (errno set, not logged)
 * when it was killed, including after timeout_s seconds.
 */
extern int vc_run_capture (char *const argv[], unsigned timeout_s, char **out,
                           size_t *len);

#endif
