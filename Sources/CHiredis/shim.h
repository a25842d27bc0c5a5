#ifndef KALE_CHIREDIS_SHIM_H
#define KALE_CHIREDIS_SHIM_H

#include <hiredis/hiredis.h>
#include <sys/time.h>

/// The context's error text; `errstr` is a fixed C array, so copying it through a pointer
/// keeps Swift from importing it as a 128-element tuple.
static inline const char *kale_redis_errstr(const redisContext *c) { return c->errstr; }

#endif
