// Int8 catalogue scoring kernels (C, because Swift has no portable access to the CPU's 8-bit
// dot-product instructions). Runtime dispatch: AVX-512 VNNI, else AVX2, else plain C; every path
// computes the same integers.
#ifndef FUSERANK_KERNELS_H
#define FUSERANK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Rows per packed block: the lanes of one 512-bit register of int32 sums.
#define FR_INT8_BLOCK_ROWS 16

/// Bytes of the packed table of `n` rows of `d` values: ceil(n/16) blocks of ceil(d/4) groups of
/// 16 rows x 4 int8 values.
size_t fr_int8_packed_bytes(size_t n, size_t d);

/// Quantizes rows of `table` (n, d) to int8 with one scale per row (max |value| / 127) and packs
/// them: block b, group g holds rows 16b .. 16b+15, values 4g .. 4g+3, row-major inside the group.
/// Each byte holds q + 128 (offset binary, the unsigned operand of the 8-bit dot-product
/// instructions); padding rows and values hold 0 (the byte 0x80). `scales` (n,) receives the row scales.
void fr_int8_pack(const float *table, size_t n, size_t d, int8_t *packed, float *scales);

/// Quantizes one vector `u` (d,) to int8 (one scale, returned) into `out` (ceil(d/4)*4,), zero-padded.
float fr_int8_quantize(const float *u, size_t d, int8_t *out);

/// out[b * n + r] = (sum_j uq[b][j] * q[r][j]) * scales[r] * uscale[b] + bias[r] for `users`
/// quantized vectors (each ceil(d/4)*4 values, `uq` row-major) against every packed row:
/// the whole table is read once for all users. `bias` may be NULL.
void fr_int8_scores(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                    const int8_t *uq, const float *uscale, size_t users, float *out);

/// Rows scored per step of ``fr_int8_top`` (its `chunk` scratch holds users x this many floats).
#define FR_INT8_CHUNK_ROWS 1024

/// The `r` best rows of each user's int8 scores (as ``fr_int8_scores`` computes them; higher
/// first, equal scores by lower row), found while scoring: no (users, n) score matrix is written.
/// `top` (users, r) receives each user's rows unordered and `top_scores` (users, r) their
/// approximate scores; `chunk` is scratch of users * FR_INT8_CHUNK_ROWS floats.
/// Returns how many rows each user got: min(r, n).
size_t fr_int8_top(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                   const int8_t *uq, const float *uscale, size_t users, size_t r,
                   int32_t *top, float *top_scores, float *chunk);

/// Memory for a packed table of `bytes` bytes (free with ``fr_table_free``), NULL when out of memory:
/// aligned to 2 MiB and advised for transparent huge pages on Linux. A whole-catalogue pass
/// streams the table once per request; the CPU's prefetchers stop at page boundaries, so 2 MiB
/// pages keep them running (1M x 64 int8 rows: 2.4-2.7 ms against 3.8-4.7 ms with 4 KiB pages,
/// BENCHMARKS.md).
void *fr_table_alloc(size_t bytes);
void fr_table_free(void *table);

/// The kernel the CPU runs: "avx512vnni", "avx2" or "scalar".
const char *fr_int8_kernel(void);

/// ``fr_int8_scores`` through a named kernel ("avx512vnni", "avx2", "scalar"), for tests that
/// check every path gives the same numbers; returns 0, or -1 when this CPU cannot run it.
int fr_int8_scores_using(const char *kernel, const int8_t *packed, const float *scales, const float *bias,
                         size_t n, size_t d, const int8_t *uq, const float *uscale, size_t users, float *out);

/// The `r` best of scores[0 ..< n] (higher first; equal scores by lower index; NaN never kept),
/// written to `out` (r,) unordered; returns how many were written (min(r, n)).
size_t fr_top_indices(const float *scores, size_t n, size_t r, int32_t *out);

#endif
