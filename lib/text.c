/*
 * text.c - bounded copies of NUL-terminated strings.
 *
 * text_copy(dst, sizeof(dst), src) copies at most sizeof(dst) - 1 bytes
 * of src and always terminates dst: a source longer than the buffer is
 * cut, never overrun.  A zero-sized buffer is a broken invariant (abort).
 */
#include <stdlib.h>
#include <string.h>

#include "panic.h"
#include "text.h"

size_t text_copy(char *dst, size_t size, const char *src)
{
    size_t n;

    if (dst == NULL || size == 0)
        DANCE_PANIC("unexpected: dst == NULL || size == 0");
    if (src == NULL)
        src = "";
    n = strnlen(src, size - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
    return n;
}
