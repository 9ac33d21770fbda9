/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The first error logged during a piece of work (errors are logged once,
 * where they happen): what a record of its failure says.
 */
#ifndef VIRTCKPT_FIRST_ERROR_H
#define VIRTCKPT_FIRST_ERROR_H

/* Starts remembering; one at a time in a process. */
extern void vc_first_error_begin (void);
/* The first error message since vc_first_error_begin (malloc'd), or NULL
 * when none was logged; stops remembering.
 */
extern char *vc_first_error_end (void);

#endif
