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
    causalAttention(out, q: q, prefix: nil, k: k, v: v, scores: scores, nq: nq, s: s, d: d, heads: heads)
}

/// The same, with the keys and values of the first `prefix.rows` positions in another place
/// (a session's cached states): positions `0 ..< prefix.rows` read `prefix.k`/`prefix.v` and the
/// rest read `k`/`v` ((s - prefix.rows, d), row stride d).
func causalAttention(
    _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
    prefix: (k: UnsafePointer<Float>, v: UnsafePointer<Float>, rows: Int)?,
    k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    scores: UnsafeMutablePointer<Float>, nq: Int, s: Int, d: Int, heads: Int
) {
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    let p = min(prefix?.rows ?? 0, s)  // a query that sees only cached positions reads no more
    for h in 0..<heads {
        let c = h * dh
        // scores (nq, s) = Q_h (nq, dh) @ [K_pre_h; K_h] (s, dh)^T / sqrt(dh)
        if let prefix, p > 0 {
            matmulTransposed(scores, q + c, prefix.k + c, m: nq, n: p, k: dh, lda: d, ldb: d, ldy: s, alpha: scale)
        }
        if s > p {
            matmulTransposed(scores + p, q + c, k + c, m: nq, n: s - p, k: dh, lda: d, ldb: d, ldy: s, alpha: scale)
        }
        for i in 0..<nq {
            let row = scores + i * s
            let seen = s - nq + i + 1
            softmax(row, n: seen)
            for j in seen..<s { row[j] = 0 }
        }
        // out_h (nq, dh) = P (nq, s) @ [V_pre_h; V_h] (s, dh)
        if let prefix, p > 0 {
            matmul(out + c, scores, prefix.v + c, m: nq, n: dh, k: p, lda: s, ldb: d, ldy: d)
            if s > p { matmul(out + c, scores + p, v + c, m: nq, n: dh, k: s - p, lda: s, ldb: d, ldy: d, beta: 1) }
        } else {
            matmul(out + c, scores, v + c, m: nq, n: dh, k: s, lda: s, ldb: d, ldy: d)
        }
    }
}
