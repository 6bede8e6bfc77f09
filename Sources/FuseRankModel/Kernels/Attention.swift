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
    // Causal blocking: the queries go in blocks of `attentionBlock` rows, and a block's products
    // stop at the last key its last query sees, so the masked upper triangle is never computed.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: min(nq, attentionBlock)) { inv in
        for h in 0..<heads {
            let c = h * dh
            var i0 = 0
            while i0 < nq {
                let rows = min(attentionBlock, nq - i0)
                let keys = s - nq + i0 + rows       // the block's last query sees keys 0 ..< keys
                let qb = q + (i0 * d + c), sb = scores + i0 * s, ob = out + (i0 * d + c)
                // scores (rows, keys) = Q_h (rows, dh) @ [K_pre_h; K_h] (keys, dh)^T / sqrt(dh)
                let pk = min(p, keys)
                if let prefix, pk > 0 {
                    matmulTransposed(sb, qb, prefix.k + c, m: rows, n: pk, k: dh, lda: d, ldb: d, ldy: s, alpha: scale)
                }
                if keys > pk {
                    matmulTransposed(sb + pk, qb, k + c, m: rows, n: keys - pk, k: dh, lda: d, ldb: d, ldy: s, alpha: scale)
                }
                for r in 0..<rows {
                    let row = sb + r * s
                    let seen = s - nq + i0 + r + 1
                    inv[r] = 1 / exponentiate(row, n: seen)
                    for j in seen..<keys { row[j] = 0 }
                }
                // out_h (rows, dh) = P (rows, keys) @ [V_pre_h; V_h] (keys, dh), then each row / its sum
                if let prefix, pk > 0 {
                    matmul(ob, sb, prefix.v + c, m: rows, n: dh, k: pk, lda: s, ldb: d, ldy: d)
                    if keys > pk { matmul(ob, sb + pk, v + c, m: rows, n: dh, k: keys - pk, lda: s, ldb: d, ldy: d, beta: 1) }
                } else {
                    matmul(ob, sb, v + c, m: rows, n: dh, k: keys, lda: s, ldb: d, ldy: d)
                }
                for r in 0..<rows {
                    let o = ob + r * d
                    for j in 0..<dh { o[j] *= inv[r] }
                }
                i0 += rows
            }
        }
    }
}

/// Query rows per block of ``causalAttention``: small enough that a block's products skip most
/// of the masked triangle, large enough that each product stays one efficient GEMM.
let attentionBlock = 32

/// Full (non-causal) multi-head attention of a batch of sequences of any lengths (the
/// forecaster's encoder, whose sequences leave out the tokens before a short series).
///
/// out = for each sequence b and head h: softmax(Q_bh K_bh^T / sqrt(d_head)) V_bh, where sequence
/// b is rows `starts[b] ..< starts[b+1]` and head h columns `h*d_head ..< (h+1)*d_head`. The
/// sequences are short (tens of tokens), so plain loops beat a GEMM call per sequence and head;
/// each sequence's keys are transposed first so that the score loop runs along keys (contiguous,
/// no reduction: it vectorizes) and the value loop along a head's columns.
/// - Parameters:
///   - out, q, k, v: (starts[n], d), row stride d.
///   - keysT: scratch of at least d * (the longest sequence) floats.
///   - scores: scratch of at least the longest sequence's length floats.
///   - starts: n + 1 row offsets, increasing.
///   - lastQueries: only the last `lastQueries` tokens of each sequence are queried (the last
///     block of the forecaster needs only the future tokens'); nil: every token. Rows of the
///     others in `out` are not written.
func fullAttention(
    _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    keysT: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, starts: UnsafePointer<Int>, n: Int,
    d: Int, heads: Int, lastQueries: Int? = nil
) {
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    for b in 0..<n {
        let base = starts[b] * d
        let s = starts[b + 1] - starts[b]
        // keysT (d, s) = K_b (s, d)^T
        for j in 0..<s {
            let kj = k + (base + j * d)
            for c in 0..<d { keysT[c * s + j] = kj[c] }
        }
        let firstQuery = max(0, s - (lastQueries ?? s))
        for h in 0..<heads {
            let c0 = h * dh
            for i in firstQuery..<s {
                // scores (s,) = q_i K_h^T / sqrt(dh)
                let qi = q + (base + i * d + c0)
                for j in 0..<s { scores[j] = 0 }
                for t in 0..<dh {
                    let qt = qi[t] * scale, kt = keysT + (c0 + t) * s
                    for j in 0..<s { scores[j] += qt * kt[j] }
                }
                let inv = 1 / exponentiate(scores, n: s)
                // out_i (dh,) = P (s,) @ V_h (s, dh), then / the sum
                let oi = out + (base + i * d + c0)
                for t in 0..<dh { oi[t] = 0 }
                for j in 0..<s {
                    let p = scores[j], vj = v + (base + j * d + c0)
                    for t in 0..<dh { oi[t] += p * vj[t] }
                }
                for t in 0..<dh { oi[t] *= inv }
            }
        }
    }
}

/// One query row of ``deletionAttention(_:q:rows:requestK:requestV:ownK:ownV:scores:d:heads:)``:
/// it sees the request's positions `0 ..< first`, then `seen` rows of its own deletion's keys and
/// values from row `own` on.
struct DeletionQuery {
    let first: Int
    let own: Int
    let seen: Int
}

/// The attention of the rows that the deletions of one explained request recompute
/// (``UserEncoder/runDeletions(_:of:deleting:overlay:)``), all deletions at once.
///
/// Query row r, at a position of its deletion, sees the request's keys and values at positions
/// `0 ..< rows[r].first` (rows the deletion leaves as they are) and then its own deletion's, rows
/// `rows[r].own ..< rows[r].own + rows[r].seen` of `ownK`/`ownV`. The positions every row sees,
/// `0 ..< min first`, are one GEMM per head for all rows together (the many short deletions of
/// one request would otherwise be a GEMM each); each row's few other keys are dot products.
/// - Parameters:
///   - out: (rows.count, d), row stride d.
///   - q: (rows.count, d), row stride d.
///   - requestK, requestV: the request's keys and values of this layer, (positions, d).
///   - ownK, ownV: the deletions' own keys and values, (rows, d).
///   - scores: scratch of at least rows.count * max(first + seen) floats.
func deletionAttention(
    _ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, rows: [DeletionQuery],
    requestK: UnsafePointer<Float>, requestV: UnsafePointer<Float>,
    ownK: UnsafePointer<Float>, ownV: UnsafePointer<Float>,
    scores: UnsafeMutablePointer<Float>, d: Int, heads: Int
) {
    let nq = rows.count
    guard nq > 0 else { return }
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    let shared = rows.map(\.first).min()!              // positions every row sees
    let width = rows.map { $0.first + $0.seen }.max()!  // the scores' row stride
    withUnsafeTemporaryAllocation(of: Float.self, capacity: nq) { inv in
        for h in 0..<heads {
            let c = h * dh
            // scores[:, 0 ..< shared] = Q_h @ K_request_h[0 ..< shared]^T / sqrt(dh)
            matmulTransposed(scores, q + c, requestK + c, m: nq, n: shared, k: dh, lda: d, ldb: d, ldy: width,
                             alpha: scale)
            for (r, row) in rows.enumerated() {
                let sr = scores + r * width
                let qr = q + r * d + c
                for j in shared..<row.first { sr[j] = scale * dotShort(qr, requestK + j * d + c, n: dh) }
                for t in 0..<row.seen { sr[row.first + t] = scale * dotShort(qr, ownK + (row.own + t) * d + c, n: dh) }
                inv[r] = 1 / exponentiate(sr, n: row.first + row.seen)
            }
            // out_h = P[:, 0 ..< shared] @ V_request_h[0 ..< shared] + each row's other keys, / its sum
            if shared > 0 {
                matmul(out + c, scores, requestV + c, m: nq, n: dh, k: shared, lda: width, ldb: d, ldy: d)
            } else {
                for r in 0..<nq { (out + r * d + c).update(repeating: 0, count: dh) }
            }
            for (r, row) in rows.enumerated() {
                let sr = scores + r * width
                let o = out + r * d + c
                for j in shared..<row.first { axpyShort(o, sr[j], requestV + j * d + c, n: dh) }
                for t in 0..<row.seen { axpyShort(o, sr[row.first + t], ownV + (row.own + t) * d + c, n: dh) }
                for j in 0..<dh { o[j] *= inv[r] }
            }
        }
    }
}

/// a . b over n floats (a head's width: too short for a BLAS call to pay), eight lanes at a time.
@inline(__always)
private func dotShort(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y += alpha * x over n floats, eight lanes at a time.
@inline(__always)
private func axpyShort(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, n: Int) {
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
            + alpha * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}
