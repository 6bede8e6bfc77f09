#pragma once
#include <hiredis/hiredis.h>

/// The context's error text (a fixed-size char array, which Swift imports as a tuple).
static inline const char *fuserank_redis_errstr(const redisContext *c) { return c->errstr; }
