#include "fuserank_kernels.h"

#include <math.h>

// a ranks before b: higher score first, equal scores by lower index.
static int before(const float *s, int32_t a, int32_t b) {
    return s[a] > s[b] || (s[a] == s[b] && a < b);
}

// Heap of the r best so far, the worst at the root.
static void sift_down(const float *s, int32_t *heap, size_t r, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < r && before(s, heap[w], heap[l])) w = l;
        if (l + 1 < r && before(s, heap[w], heap[l + 1])) w = l + 1;
        if (w == i) return;
        int32_t t = heap[i];
        heap[i] = heap[w];
        heap[w] = t;
        i = w;
    }
}

size_t fr_top_indices(const float *scores, size_t n, size_t r, int32_t *out) {
    size_t kept = 0, j = 0;
    // Fill with the first r non-NaN scores.
    for (; j < n && kept < r; j++) {
        if (!isnan(scores[j])) out[kept++] = (int32_t)j;
    }
    if (kept < r) return kept;
    for (size_t i = r / 2; i-- > 0;) sift_down(scores, out, r, i);
    float worst = scores[out[0]];
    for (; j < n; j++) {
        float v = scores[j];
        if (v < worst || !(v >= worst)) continue;  // the common case: one compare (NaN fails too)
        if (!before(scores, (int32_t)j, out[0])) continue;
        out[0] = (int32_t)j;
        sift_down(scores, out, r, 0);
        worst = scores[out[0]];
    }
    return r;
}
