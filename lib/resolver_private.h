/*
 * resolver_private.h - what resolver.c and resolver_ctx.c share; used nowhere else.
 */
#ifndef DANCE_LIB_RESOLVER_PRIVATE_H
#define DANCE_LIB_RESOLVER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct ub_ctx;
struct resolver_config;

/* resolver_ctx_setup - configure a fresh libunbound context from cfg (relay_port: forward there); false with a message. */
bool resolver_ctx_setup(struct ub_ctx *ctx, const struct resolver_config *cfg, unsigned relay_port, char *err,
                        size_t errsize);

/* resolver_error - format a resolver_new() error message into err (may be NULL). */
void resolver_error(char *err, size_t errsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
