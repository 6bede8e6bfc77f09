/* The allocator behind every C block FuseRankWire makes: protobuf-c's unpacked messages and the
 * encoder's strings, arrays and structs. It is malloc/free plus a count of the blocks live on the
 * calling thread, so a test can prove that encoding and decoding free everything they allocate,
 * even while other threads allocate. Not generated: scripts/gen-proto leaves this file alone. */
#pragma once
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* malloc(size) (size 0 allocates 1 byte); counts the block on this thread. NULL when out of memory. */
void *fuserank_wire_alloc(size_t size);

/* free(pointer) for a block from fuserank_wire_alloc; NULL is ignored. */
void fuserank_wire_free(void *pointer);

/* The allocator to pass to protobuf-c's *__unpack and *__free_unpacked. */
ProtobufCAllocator *fuserank_wire_allocator(void);

/* Blocks from fuserank_wire_alloc not yet freed, on the calling thread. */
long fuserank_wire_live_blocks(void);
