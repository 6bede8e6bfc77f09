#include "fuserank_kernels.h"

#include <math.h>
#include <string.h>

// Every path computes float(sum) * (scale * user_scale) + bias with a separate multiply and add,
// never a fused multiply-add, so they all give the same floats.
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FR_X86 1
#endif

static size_t groups_of(size_t d) { return (d + 3) / 4; }

size_t fr_int8_packed_bytes(size_t n, size_t d) {
    size_t blocks = (n + FR_INT8_BLOCK_ROWS - 1) / FR_INT8_BLOCK_ROWS;
    return blocks * groups_of(d) * FR_INT8_BLOCK_ROWS * 4;
}

// The packed table holds q + 128 (offset binary, 1 ..= 255): the unsigned operand of the 8-bit
// dot-product instructions, so that sum(q * u) = sum(stored * u) - 128 * sum(u), and the
// correction is one number per user instead of one instruction per row group.
#define FR_INT8_OFFSET_ZERO 0x80
static int8_t stored(int8_t q) { return (int8_t)(uint8_t)((int)q + 128); }
static int32_t value_of(int8_t s) { return (int32_t)(uint8_t)s - 128; }

static int8_t quantize(float x, float inverse) {
    float v = roundf(x * inverse);
    if (v > 127) v = 127;
    if (v < -127) v = -127;
    return (int8_t)v;
}

void fr_int8_pack(const float *table, size_t n, size_t d, int8_t *packed, float *scales) {
    size_t groups = groups_of(d);
    memset(packed, FR_INT8_OFFSET_ZERO, fr_int8_packed_bytes(n, d));  // padding holds the value 0
    for (size_t r = 0; r < n; r++) {
        const float *row = table + r * d;
        float m = 0;
        for (size_t j = 0; j < d; j++) m = fmaxf(m, fabsf(row[j]));
        float scale = m > 0 ? m / 127.0f : 1.0f;
        scales[r] = scale;
        float inverse = 1.0f / scale;
        size_t block = r / FR_INT8_BLOCK_ROWS, lane = r % FR_INT8_BLOCK_ROWS;
        int8_t *base = packed + block * groups * FR_INT8_BLOCK_ROWS * 4;
        for (size_t j = 0; j < d; j++) {
            base[(j / 4) * FR_INT8_BLOCK_ROWS * 4 + lane * 4 + j % 4] = stored(quantize(row[j], inverse));
        }
    }
}

float fr_int8_quantize(const float *u, size_t d, int8_t *out) {
    float m = 0;
    for (size_t j = 0; j < d; j++) m = fmaxf(m, fabsf(u[j]));
    float scale = m > 0 ? m / 127.0f : 1.0f;
    float inverse = 1.0f / scale;
    size_t padded = groups_of(d) * 4;
    for (size_t j = 0; j < padded; j++) out[j] = j < d ? quantize(u[j], inverse) : 0;
    return scale;
}

// Plain C: the reference every SIMD path must equal exactly (integer sums).
static void scores_scalar(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                          const int8_t *uq, const float *uscale, size_t users, float *out) {
    size_t groups = groups_of(d), blocks = (n + FR_INT8_BLOCK_ROWS - 1) / FR_INT8_BLOCK_ROWS;
    for (size_t block = 0; block < blocks; block++) {
        const int8_t *base = packed + block * groups * FR_INT8_BLOCK_ROWS * 4;
        for (size_t b = 0; b < users; b++) {
            const int8_t *u = uq + b * groups * 4;
            int32_t acc[FR_INT8_BLOCK_ROWS] = {0};
            for (size_t g = 0; g < groups; g++) {
                const int8_t *q = base + g * FR_INT8_BLOCK_ROWS * 4;
                for (size_t lane = 0; lane < FR_INT8_BLOCK_ROWS; lane++) {
                    for (size_t t = 0; t < 4; t++) acc[lane] += (int32_t)u[g * 4 + t] * value_of(q[lane * 4 + t]);
                }
            }
            for (size_t lane = 0; lane < FR_INT8_BLOCK_ROWS; lane++) {
                size_t r = block * FR_INT8_BLOCK_ROWS + lane;
                if (r < n) out[b * n + r] = (float)acc[lane] * (scales[r] * uscale[b]) + (bias ? bias[r] : 0);
            }
        }
    }
}

#ifdef FR_X86
#define FR_MAX_USERS 8

// One user and d_model 64 (16 groups), the common batch-1 case: the user's 16 broadcast groups
// stay in registers, two independent accumulator chains, full blocks without masks.
__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void scores_avx512vnni_d64(const int8_t *packed, const float *scales, const float *bias, size_t n,
                                  const int8_t *uq, float uscale, float *out) {
    __m512i u[16];
    int32_t sum = 0;
    for (int g = 0; g < 16; g++) {
        int32_t four;
        memcpy(&four, uq + 4 * g, 4);
        u[g] = _mm512_set1_epi32(four);
        for (int t = 0; t < 4; t++) sum += uq[4 * g + t];
    }
    const __m512i correction = _mm512_set1_epi32(128 * sum);
    const __m512 us = _mm512_set1_ps(uscale);
    size_t full = n / FR_INT8_BLOCK_ROWS, blocks = (n + FR_INT8_BLOCK_ROWS - 1) / FR_INT8_BLOCK_ROWS;
    for (size_t block = 0; block < blocks; block++) {
        const int8_t *base = packed + block * 16 * FR_INT8_BLOCK_ROWS * 4;
        __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
        for (int g = 0; g < 16; g += 2) {
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512((const void *)(base + g * 64)), u[g]);
            a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512((const void *)(base + g * 64 + 64)), u[g + 1]);
        }
        __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_add_epi32(a0, a1), correction));
        size_t row0 = block * FR_INT8_BLOCK_ROWS;
        if (block < full) {
            v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_loadu_ps(scales + row0), us));
            if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + row0));
            _mm512_storeu_ps(out + row0, v);
        } else {
            __mmask16 keep = (__mmask16)((1u << (n - row0)) - 1);
            v = _mm512_mul_ps(v, _mm512_mul_ps(_mm512_maskz_loadu_ps(keep, scales + row0), us));
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(keep, bias + row0));
            _mm512_mask_storeu_ps(out + row0, keep, v);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void scores_avx512vnni(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                              const int8_t *uq, const float *uscale, size_t users, float *out) {
    if (users == 1 && groups_of(d) == 16) {
        scores_avx512vnni_d64(packed, scales, bias, n, uq, uscale[0], out);
        return;
    }
    size_t groups = groups_of(d), blocks = (n + FR_INT8_BLOCK_ROWS - 1) / FR_INT8_BLOCK_ROWS;
    // stored (u8) x u (s8) by the unsigned x signed instruction, then minus 128 * sum(u) per user.
    for (size_t first = 0; first < users; first += FR_MAX_USERS) {
        size_t count = users - first < FR_MAX_USERS ? users - first : FR_MAX_USERS;
        __m512i correction[FR_MAX_USERS];
        for (size_t b = 0; b < count; b++) {
            int32_t sum = 0;
            for (size_t j = 0; j < groups * 4; j++) sum += uq[(first + b) * groups * 4 + j];
            correction[b] = _mm512_set1_epi32(128 * sum);
        }
        for (size_t block = 0; block < blocks; block++) {
            const int8_t *base = packed + block * groups * FR_INT8_BLOCK_ROWS * 4;
            __m512i acc[FR_MAX_USERS];
            for (size_t b = 0; b < count; b++) acc[b] = _mm512_setzero_si512();
            for (size_t g = 0; g < groups; g++) {
                __m512i q = _mm512_loadu_si512((const void *)(base + g * FR_INT8_BLOCK_ROWS * 4));
                for (size_t b = 0; b < count; b++) {
                    int32_t four;
                    memcpy(&four, uq + (first + b) * groups * 4 + g * 4, 4);
                    acc[b] = _mm512_dpbusd_epi32(acc[b], q, _mm512_set1_epi32(four));
                }
            }
            size_t row0 = block * FR_INT8_BLOCK_ROWS;
            size_t rows = n - row0 < FR_INT8_BLOCK_ROWS ? n - row0 : FR_INT8_BLOCK_ROWS;
            __mmask16 keep = (__mmask16)((1u << rows) - 1);
            __m512 s = _mm512_maskz_loadu_ps(keep, scales + row0);
            __m512 c = bias ? _mm512_maskz_loadu_ps(keep, bias + row0) : _mm512_setzero_ps();
            for (size_t b = 0; b < count; b++) {
                __m512i dot = _mm512_sub_epi32(acc[b], correction[b]);
                __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(s, _mm512_set1_ps(uscale[first + b])));
                _mm512_mask_storeu_ps(out + (first + b) * n + row0, keep, _mm512_add_ps(v, c));
            }
        }
    }
}

__attribute__((target("avx2,fma")))
static void scores_avx2(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                        const int8_t *uq, const float *uscale, size_t users, float *out) {
    size_t groups = groups_of(d), blocks = (n + FR_INT8_BLOCK_ROWS - 1) / FR_INT8_BLOCK_ROWS;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t first = 0; first < users; first += FR_MAX_USERS) {
        size_t count = users - first < FR_MAX_USERS ? users - first : FR_MAX_USERS;
        for (size_t block = 0; block < blocks; block++) {
            const int8_t *base = packed + block * groups * FR_INT8_BLOCK_ROWS * 4;
            __m256i lo[FR_MAX_USERS], hi[FR_MAX_USERS];  // rows 0-7 and 8-15 of the block
            for (size_t b = 0; b < count; b++) lo[b] = hi[b] = _mm256_setzero_si256();
            for (size_t g = 0; g < groups; g++) {
                const int8_t *q = base + g * FR_INT8_BLOCK_ROWS * 4;
                const __m256i offset = _mm256_set1_epi8((char)FR_INT8_OFFSET_ZERO);  // stored -> q
                __m256i q0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)q), offset);
                __m256i q1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 32)), offset);
                for (size_t b = 0; b < count; b++) {
                    int32_t four;
                    memcpy(&four, uq + (first + b) * groups * 4 + g * 4, 4);
                    __m256i u = _mm256_set1_epi32(four);
                    __m256i au = _mm256_sign_epi8(u, u);  // |u| <= 127: pair sums never saturate
                    lo[b] = _mm256_add_epi32(lo[b], _mm256_madd_epi16(_mm256_maddubs_epi16(au, _mm256_sign_epi8(q0, u)), ones));
                    hi[b] = _mm256_add_epi32(hi[b], _mm256_madd_epi16(_mm256_maddubs_epi16(au, _mm256_sign_epi8(q1, u)), ones));
                }
            }
            size_t row0 = block * FR_INT8_BLOCK_ROWS;
            size_t rows = n - row0 < FR_INT8_BLOCK_ROWS ? n - row0 : FR_INT8_BLOCK_ROWS;
            for (size_t b = 0; b < count; b++) {
                int32_t acc[FR_INT8_BLOCK_ROWS];
                _mm256_storeu_si256((__m256i *)acc, lo[b]);
                _mm256_storeu_si256((__m256i *)(acc + 8), hi[b]);
                float *o = out + (first + b) * n + row0;
                for (size_t lane = 0; lane < rows; lane++) {
                    o[lane] = (float)acc[lane] * (scales[row0 + lane] * uscale[first + b]) + (bias ? bias[row0 + lane] : 0);
                }
            }
        }
    }
}
#endif

typedef void (*scores_fn)(const int8_t *, const float *, const float *, size_t, size_t, const int8_t *,
                          const float *, size_t, float *);

static scores_fn chosen(const char **name) {
#ifdef FR_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        *name = "avx512vnni";
        return scores_avx512vnni;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name = "avx2";
        return scores_avx2;
    }
#endif
    *name = "scalar";
    return scores_scalar;
}

void fr_int8_scores(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                    const int8_t *uq, const float *uscale, size_t users, float *out) {
    const char *name;
    chosen(&name)(packed, scales, bias, n, d, uq, uscale, users, out);
}

const char *fr_int8_kernel(void) {
    const char *name;
    chosen(&name);
    return name;
}

int fr_int8_scores_using(const char *kernel, const int8_t *packed, const float *scales, const float *bias,
                         size_t n, size_t d, const int8_t *uq, const float *uscale, size_t users, float *out) {
    scores_fn fn = NULL;
    if (strcmp(kernel, "scalar") == 0) fn = scores_scalar;
#ifdef FR_X86
    __builtin_cpu_init();
    if (strcmp(kernel, "avx2") == 0 && __builtin_cpu_supports("avx2")) fn = scores_avx2;
    if (strcmp(kernel, "avx512vnni") == 0 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        fn = scores_avx512vnni;
    }
#endif
    if (!fn) return -1;
    fn(packed, scales, bias, n, d, uq, uscale, users, out);
    return 0;
}

#define FR_INT8_TOP_MAX_USERS 64

// A heap of the r best (score, row) pairs so far, the worst at the root.
static int pair_before(float sa, int32_t a, float sb, int32_t b) { return sa > sb || (sa == sb && a < b); }

static void pair_sift_down(int32_t *rows, float *scores, size_t r, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < r && pair_before(scores[w], rows[w], scores[l], rows[l])) w = l;
        if (l + 1 < r && pair_before(scores[w], rows[w], scores[l + 1], rows[l + 1])) w = l + 1;
        if (w == i) return;
        int32_t tr = rows[i]; rows[i] = rows[w]; rows[w] = tr;
        float ts = scores[i]; scores[i] = scores[w]; scores[w] = ts;
        i = w;
    }
}

// The rows of c[j ..< rows] that beat the heap's worst replace it (equal scores: the earlier row
// is kept). Plain C, and the same with 16 comparisons per instruction where AVX-512 runs.
static size_t scan_chunk_plain(const float *c, size_t j, size_t rows, size_t row0, int32_t *heap, float *hs, size_t r) {
    float worst = hs[0];
    for (; j < rows; j++) {
        float v = c[j];
        if (!(v > worst)) continue;
        heap[0] = (int32_t)(row0 + j);
        hs[0] = v;
        pair_sift_down(heap, hs, r, 0);
        worst = hs[0];
    }
    return j;
}

#ifdef FR_X86
__attribute__((target("avx512f")))
static size_t scan_chunk_avx512(const float *c, size_t j, size_t rows, size_t row0, int32_t *heap, float *hs, size_t r) {
    for (; j + 16 <= rows; j += 16) {
        __mmask16 above = _mm512_cmp_ps_mask(_mm512_loadu_ps(c + j), _mm512_set1_ps(hs[0]), _CMP_GT_OQ);
        while (above) {  // rarely: most of a chunk is below the r-th best
            size_t k = (size_t)__builtin_ctz(above);
            above &= (__mmask16)(above - 1);
            float v = c[j + k];
            if (!(v > hs[0])) continue;  // the worst rose within this group
            heap[0] = (int32_t)(row0 + j + k);
            hs[0] = v;
            pair_sift_down(heap, hs, r, 0);
        }
    }
    return scan_chunk_plain(c, j, rows, row0, heap, hs, r);
}
#endif

static size_t scan_chunk(const float *c, size_t j, size_t rows, size_t row0, int32_t *heap, float *hs, size_t r) {
#ifdef FR_X86
    if (__builtin_cpu_supports("avx512f")) return scan_chunk_avx512(c, j, rows, row0, heap, hs, r);
#endif
    return scan_chunk_plain(c, j, rows, row0, heap, hs, r);
}

size_t fr_int8_top(const int8_t *packed, const float *scales, const float *bias, size_t n, size_t d,
                   const int8_t *uq, const float *uscale, size_t users, size_t r,
                   int32_t *top, float *top_scores, float *chunk) {
    const char *name;
    scores_fn fn = chosen(&name);
    if (r > n) r = n;
    if (r == 0) return 0;
    if (users > FR_INT8_TOP_MAX_USERS) {
        for (size_t first = 0; first < users; first += FR_INT8_TOP_MAX_USERS) {
            size_t count = users - first < FR_INT8_TOP_MAX_USERS ? users - first : FR_INT8_TOP_MAX_USERS;
            size_t padded = groups_of(d) * 4;
            fr_int8_top(packed, scales, bias, n, d, uq + first * padded, uscale + first, count, r,
                        top + first * r, top_scores + first * r, chunk);
        }
        return r;
    }
    size_t blockBytes = groups_of(d) * FR_INT8_BLOCK_ROWS * 4;
    size_t filled[FR_INT8_TOP_MAX_USERS] = {0};
    for (size_t row0 = 0; row0 < n; row0 += FR_INT8_CHUNK_ROWS) {
        size_t rows = n - row0 < FR_INT8_CHUNK_ROWS ? n - row0 : FR_INT8_CHUNK_ROWS;
        // row0 is a multiple of the block size: the chunk starts at a block.
        fn(packed + (row0 / FR_INT8_BLOCK_ROWS) * blockBytes, scales + row0, bias ? bias + row0 : NULL, rows, d,
           uq, uscale, users, chunk);
        for (size_t b = 0; b < users; b++) {
            const float *c = chunk + b * rows;
            int32_t *heap = top + b * r;
            float *hs = top_scores + b * r;
            size_t j = 0;
            for (; j < rows && filled[b] < r; j++) {
                heap[filled[b]] = (int32_t)(row0 + j);
                hs[filled[b]] = c[j];
                if (++filled[b] == r) {
                    for (size_t i = r / 2; i-- > 0;) pair_sift_down(heap, hs, r, i);
                }
            }
            if (filled[b] < r) continue;
            j = scan_chunk(c, j, rows, row0, heap, hs, r);
        }
    }
    return r;
}
