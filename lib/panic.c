/*
 * panic.c - broken invariants and exhausted memory: say what broke, then abort.
 *
 * USAGE
 *	p = xcalloc(1, sizeof(*p));
 *	DANCE_ASSERT(n <= max);
 *	if (state_unknown) DANCE_PANIC("unknown state %d", st);
 *	panic_set_sink(daemon_log_line);		(danced, at start-up)
 *
 * DESCRIPTION
 *	The message is formatted into a stack buffer (no allocation: memory
 *	may be what ran out), written to stderr with "dance: panic: " in
 *	front, and handed to the sink when one is set (danced's log, which
 *	in the background is syslog).  Then abort(): the core dump, if the
 *	system keeps one, shows where.  The sink is the one global of this
 *	module; it is set once, before any thread exists.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "panic.h"

static panic_sink *panic_to;

/* panic_set_sink - send panic messages to fn as well. */
void panic_set_sink(panic_sink *fn)
{
    panic_to = fn;
}

/* dance_panic - write "file:line: reason", then abort(). */
void dance_panic(const char *file, int line, const char *fmt, ...)
{
    char msg[512], out[600];
    const char *base = strrchr(file, '/');
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = snprintf(out, sizeof(out), "dance: panic: %s:%d: %s\n", base != NULL ? base + 1 : file, line, msg);
    if (n > 0)
        (void) !write(2, out, (size_t) n < sizeof(out) ? (size_t) n : sizeof(out) - 1);
    if (panic_to != NULL) {
        out[n > 0 && (size_t) n < sizeof(out) ? (size_t) n - 1 : sizeof(out) - 1] = '\0';
        panic_to(out + strlen("dance: "));
    }
    abort();
}

/* xmalloc - malloc() that panics when memory runs out. */
void *xmalloc(size_t size)
{
    void *p = malloc(size > 0 ? size : 1);

    if (p == NULL)
        DANCE_PANIC("out of memory (%zu bytes)", size);
    return p;
}

/* xcalloc - calloc() that panics when memory runs out. */
void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size > 0 ? size : 1);

    if (p == NULL)
        DANCE_PANIC("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

/* xrealloc - realloc() that panics when memory runs out. */
void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size > 0 ? size : 1);

    if (q == NULL)
        DANCE_PANIC("out of memory (%zu bytes)", size);
    return q;
}

/* xstrdup - strdup() that panics when memory runs out. */
char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xmalloc(n), s, n);
}
