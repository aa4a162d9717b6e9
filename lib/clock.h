/*
 * clock.h - the monotonic clock every timeout of dance is measured on.
 *
 * Wall-clock time jumps (NTP, an operator); deadlines, TTLs and timeouts
 * never use it.  One clock, so the daemon and the library agree on
 * what "now" is and tests can reason about it.
 */
#ifndef DANCE_LIB_CLOCK_H
#define DANCE_LIB_CLOCK_H

/* clock_now_ms - CLOCK_MONOTONIC in milliseconds. */
long long clock_now_ms(void);

/* clock_now_us - CLOCK_MONOTONIC in microseconds (durations worth measuring finer). */
long long clock_now_us(void);

#endif
