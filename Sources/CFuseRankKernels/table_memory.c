#include "fuserank_kernels.h"

#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define FR_HUGE_PAGE ((size_t)2 << 20)

void *fr_table_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + FR_HUGE_PAGE - 1) / FR_HUGE_PAGE * FR_HUGE_PAGE;
    void *p = NULL;
    if (posix_memalign(&p, FR_HUGE_PAGE, rounded) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Before the first touch, so the kernel can back the table with 2 MiB pages where transparent
    // huge pages are "madvise" or "always"; a refusal (never, or no such support) changes nothing.
    (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

void fr_table_free(void *table) { free(table); }
