/*
 * panic.h - broken invariants and exhausted memory: say what broke, then abort.
 *
 * dance separates three kinds of trouble: bad input (logged, refused, the
 * program goes on), a bad environment at start-up (a clear message, exit
 * 1) and a broken invariant - something the code relies on turned out
 * false, or memory ran out.  The last kind ends the process, like
 * Postfix's msg_panic() and Unbound's log_assert(): DANCE_PANIC() and
 * DANCE_ASSERT() first write "file:line: reason" where it can be seen (the
 * daemon hooks its log in with panic_set_sink(); stderr otherwise), then
 * abort(), so a core dump comes with its explanation.  The x* allocators
 * never return NULL: they panic instead.
 */
#ifndef DANCE_LIB_PANIC_H
#define DANCE_LIB_PANIC_H

#include <stddef.h>

/* panic_sink - where a panic's message goes first (one line, no newline). */
typedef void panic_sink(const char *msg);

/* dance_panic - write "file:line: reason" to the sink, then abort(). */
void dance_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* panic_set_sink - send panic messages to fn as well as stderr (NULL: stderr only). */
void panic_set_sink(panic_sink *fn);

/* DANCE_PANIC - a broken invariant: log where and why, then abort. */
#define DANCE_PANIC(...) dance_panic(__FILE__, __LINE__, __VA_ARGS__)

/* DANCE_ASSERT - the condition must hold; when it does not, panic naming it. */
#define DANCE_ASSERT(cond) \
    do { \
        if (!(cond)) \
            dance_panic(__FILE__, __LINE__, "assertion failed: %s", #cond); \
    } while (0)

/* xmalloc - malloc() that panics when memory runs out (0 bytes allocates 1). */
void *xmalloc(size_t size);

/* xcalloc - calloc() that panics when memory runs out. */
void *xcalloc(size_t n, size_t size);

/* xrealloc - realloc() that panics when memory runs out. */
void *xrealloc(void *p, size_t size);

/* xstrdup - strdup() that panics when memory runs out. */
char *xstrdup(const char *s);

#endif
