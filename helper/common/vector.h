/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Typed growable arrays, after nbdkit's common/utils/vector.h.
 *
 *   DEFINE_VECTOR_TYPE (string_vector, char *);
 *   string_vector v = empty_vector;
 *   if (string_vector_append (&v, s) == -1) ...
 */
#ifndef VIRTCKPT_VECTOR_H
#define VIRTCKPT_VECTOR_H

#include <stdlib.h>
#include <string.h>
#include <errno.h>

#define DEFINE_VECTOR_TYPE(name, type)                                  \
  typedef struct {                                                      \
    type *ptr;                                                          \
    size_t len;                                                         \
    size_t cap;                                                         \
  } name;                                                               \
                                                                        \
  static inline int __attribute__ ((unused))                            \
  name##_reserve (name *v, size_t n)                                    \
  {                                                                     \
    if (v->len + n <= v->cap)                                           \
      return 0;                                                         \
    size_t cap = v->cap ? v->cap * 2 : 8;                               \
    while (cap < v->len + n)                                            \
      cap *= 2;                                                         \
    type *p = reallocarray (v->ptr, cap, sizeof (type));                \
    if (p == NULL)                                                      \
      return -1;                                                        \
    v->ptr = p;                                                         \
    v->cap = cap;                                                       \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline int __attribute__ ((unused))                            \
  name##_append (name *v, type elem)                                    \
  {                                                                     \
    if (name##_reserve (v, 1) == -1)                                    \
      return -1;                                                        \
    v->ptr[v->len++] = elem;                                            \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline void __attribute__ ((unused))                           \
  name##_remove (name *v, size_t i)                                     \
  {                                                                     \
    memmove (&v->ptr[i], &v->ptr[i + 1], (v->len - i - 1) * sizeof (type)); \
    v->len--;                                                           \
  }                                                                     \
                                                                        \
  static inline void __attribute__ ((unused))                           \
  name##_reset (name *v)                                                \
  {                                                                     \
    free (v->ptr);                                                      \
    v->ptr = NULL;                                                      \
    v->len = v->cap = 0;                                                \
  }

#define empty_vector { .ptr = NULL, .len = 0, .cap = 0 }

#endif
