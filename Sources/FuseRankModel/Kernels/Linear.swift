import COpenBLAS

/// y (m, n) = x (m, k) @ W (n, k)^T + b (n,): a PyTorch `Linear` with its `[out, in]` weight.
///
/// One `cblas_sgemm(RowMajor, NoTrans, Trans, ...)`: no transposed copy of the weight.
/// - Parameters:
///   - y: the output, `m` rows of `n` (row stride `ldy`, default `n`).
///   - x: the input, `m` rows of `k` (row stride `ldx`, default `k`).
///   - w: the weight `[n, k]`.
///   - b: the bias `[n]`, or nil.
func linear(
    _ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?,
    m: Int, n: Int, k: Int, ldx: Int? = nil, ldy: Int? = nil
) {
    guard m > 0, n > 0 else { return }
    let ldy = ldy ?? n
    if k == 0 {
        for r in 0..<m { for c in 0..<n { y[r * ldy + c] = b?[c] ?? 0 } }
        return
    }
    var beta: Float = 0
    if let b {
        // y = bias rows, then y += x W^T in the GEMM (beta 1).
        for r in 0..<m { (y + r * ldy).update(from: b, count: n) }
        beta = 1
    }
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
        1, x, Int32(ldx ?? k), w, Int32(k), beta, y, Int32(ldy))
}

/// y (m, n) = alpha * a (m, k) @ b (n, k)^T + beta * y, with row strides: a plain GEMM for
/// attention scores and scoring.
func matmulTransposed(
    _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldy: Int, alpha: Float = 1, beta: Float = 0
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb), beta, y, Int32(ldy))
}

/// y (m, n) = a (m, k) @ b (k, n) + beta * y, with row strides.
func matmul(
    _ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldy: Int, beta: Float = 0
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
        1, a, Int32(lda), b, Int32(ldb), beta, y, Int32(ldy))
}

/// The dot product of a (n,) and b (n,).
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int) -> Float {
    cblas_sdot(Int32(n), a, 1, b, 1)
}

/// y (m,) = alpha * a (m, k) @ x (k,) + y * beta, a with row stride lda: the one-row case of
/// scoring (gemv streams the matrix once; a GEMM with one row does not always).
func matvec(_ y: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
            m: Int, k: Int, lda: Int, alpha: Float = 1, beta: Float = 0) {
    guard m > 0 else { return }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(k), alpha, a, Int32(lda), x, 1, beta, y, 1)
}
