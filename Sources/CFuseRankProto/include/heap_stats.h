/* Heap accounting for the leak tests of the wire codec and the server (glibc only).
 * Not part of the generated protobuf-c code; scripts/gen-proto leaves this file alone. */
#pragma once
#include <stddef.h>
#include <stdlib.h> /* defines __GLIBC__ */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
/* Bytes currently allocated with malloc, over every arena. */
static inline size_t fuserank_heap_bytes_in_use(void) { return mallinfo2().uordblks; }
#define FUSERANK_HAVE_HEAP_STATS 1
#else
static inline size_t fuserank_heap_bytes_in_use(void) { return 0; }
#define FUSERANK_HAVE_HEAP_STATS 0
#endif
