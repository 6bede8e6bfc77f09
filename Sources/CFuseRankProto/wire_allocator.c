/* See include/wire_allocator.h. */
#include "wire_allocator.h"

#include <stdlib.h>

static _Thread_local long live_blocks;

void *fuserank_wire_alloc(size_t size) {
    void *pointer = malloc(size ? size : 1);
    if (pointer) live_blocks++;
    return pointer;
}

void fuserank_wire_free(void *pointer) {
    if (!pointer) return;
    live_blocks--;
    free(pointer);
}

static void *protobuf_alloc(void *data, size_t size) {
    (void)data;
    return fuserank_wire_alloc(size);
}

static void protobuf_free(void *data, void *pointer) {
    (void)data;
    fuserank_wire_free(pointer);
}

static ProtobufCAllocator allocator = {protobuf_alloc, protobuf_free, NULL};

ProtobufCAllocator *fuserank_wire_allocator(void) { return &allocator; }

long fuserank_wire_live_blocks(void) { return live_blocks; }
