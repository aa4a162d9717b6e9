/*
 * clock.c - the monotonic clock every timeout of dance is measured on.
 *
 * USAGE
 *	long long deadline = clock_now_ms() + timeout_ms;
 *	long long took_us = clock_now_us() - start_us;
 *
 * DIAGNOSTICS
 *	A system without CLOCK_MONOTONIC is a broken environment: panic.
 */
#include <time.h>

#include "clock.h"
#include "panic.h"

/* clock_now_ms - CLOCK_MONOTONIC in milliseconds. */
long long clock_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        DANCE_PANIC("clock_gettime(CLOCK_MONOTONIC) failed");
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* clock_now_us - CLOCK_MONOTONIC in microseconds. */
long long clock_now_us(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        DANCE_PANIC("clock_gettime(CLOCK_MONOTONIC) failed");
    return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
