/// Causal multi-head attention of one request.
///
/// out (nq, d) = concat_h softmax(Q_h K_h^T / sqrt(d_head) + causal mask) V_h, where the `nq`
/// queries are the last `nq` of the `s` positions: query i sits at position `s - nq + i` and sees
/// keys `0 ... s - nq + i`. Head h uses columns `h*d_head ..< (h+1)*d_head`.
/// - Parameters:
///   - out: (nq, d), row stride d.
///   - q: (nq, d), row stride d.
///   - k, v: (s, d), row stride d.
///   - scores: scratch of at least nq * s floats.
func causalAttention(
    _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    scores: UnsafeMutablePointer<Float>, nq: Int, s: Int, d: Int, heads: Int
) {
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    for h in 0..<heads {
        let c = h * dh
        // scores (nq, s) = Q_h (nq, dh) @ K_h (s, dh)^T / sqrt(dh)
        matmulTransposed(scores, q + c, k + c, m: nq, n: s, k: dh, lda: d, ldb: d, ldy: s, alpha: scale)
        for i in 0..<nq {
            let row = scores + i * s
            let seen = s - nq + i + 1
            softmax(row, n: seen)
            for j in seen..<s { row[j] = 0 }
        }
        // out_h (nq, dh) = P (nq, s) @ V_h (s, dh)
        matmul(out + c, scores, v + c, m: nq, n: dh, k: s, lda: s, ldb: d, ldy: d)
    }
}
