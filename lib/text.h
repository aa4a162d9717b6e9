/*
 * text.h - bounded copies of NUL-terminated strings.
 *
 * The verdict, cache and reply code copies names and reasons into fixed
 * buffers many times per request; text_copy() does what
 * snprintf(dst, size, "%s", src) does, without the format machinery.
 */
#ifndef DANCE_LIB_TEXT_H
#define DANCE_LIB_TEXT_H

#include <stddef.h>

/* text_copy - copy src (NULL as "") into dst of size > 0 bytes, cut to fit, NUL-terminated; returns the length. */
size_t text_copy(char *dst, size_t size, const char *src);

#endif
