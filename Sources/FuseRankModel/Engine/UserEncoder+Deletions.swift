/// The deletions of explanations (docs/explanations.md): forward passes of a request with one
/// kept event deleted, on the rows that deletion changes. ``Scorer/explain(_:results:overlay:encoder:)``
/// turns their user vectors into reasons.
extension UserEncoder {
    /// Runs the deletions of pass request `b` as one ragged batch and leaves their user vectors in
    /// `state.deletionUsers` (deletion order).
    ///
    /// Deleting kept event p keeps the same oldest event (the window does not slide), moves the
    /// later events down one position and recomputes the time buckets without that event. With
    /// causal attention the rows before ``Explainer/firstChangedRow(deleting:kept:)`` are the
    /// request's own, so only the rows from there on are computed; their attention reads the
    /// request's keys and values of the unchanged rows (kept per layer by the plain pass), all
    /// deletions' rows in one ``deletionAttention(_:q:rows:requestK:requestV:ownK:ownV:scores:d:heads:)`` per layer. Content rows of `overlay` embed as in ``encode(_:overlay:)``.
    func runDeletions(_ query: RankQuery, of b: Int, deleting chosen: [Int], overlay: CatalogueOverlay?) {
        let s = state
        let d = config.dModel
        let eps = config.layerNormEps
        let length = s.lengths[b]
        let kept = min(query.events.count, config.maxEvents)
        let firstEvent = query.events.count - kept
        // Segment v: the deletion's rows first ..< length - 1, at rows offset ..< offset + rows.
        var segments: [(first: Int, rows: Int, offset: Int)] = []
        var total = 0
        for p in chosen {
            var deletion = query
            deletion.events.remove(at: firstEvent + p)
            let first = Explainer.firstChangedRow(deleting: p, kept: kept)
            embed(deletion, keptEvents: kept - 1, into: s.deletionTokens, firstEvent: first, overlay: overlay)
            let rows = length - 1 - first
            (s.x + total * d).update(from: s.deletionTokens + first * d, count: rows * d)
            segments.append((first, rows, total))
            total += rows
        }
        let count = segments.count
        let layerStride = maxBatch * config.maxSequenceLength * d
        // Every recomputed row, as deletionAttention reads it: segment v's row i sees the
        // request's positions 0 ..< first and its own rows 0 ... i.
        let tokenRows = segments.flatMap { seg in
            (0..<seg.rows).map { DeletionQuery(first: seg.first, own: seg.offset, seen: $0 + 1) }
        }
        for (l, w) in weights.layers.enumerated() {
            // x = x + o(attention(norm1(x))), the unchanged rows' keys and values from the plain pass
            let requestK = s.keys + l * layerStride + s.offsets[b] * d
            let requestV = s.values + l * layerStride + s.offsets[b] * d
            layerNorm(s.xn, s.x, w.norm1W.baseAddress!, w.norm1B.baseAddress!, rows: total, d: d, eps: eps)
            linear(s.deletionK, s.xn, w.kW.baseAddress!, w.kB.baseAddress!, m: total, n: d, k: d)
            linear(s.deletionV, s.xn, w.vW.baseAddress!, w.vB.baseAddress!, m: total, n: d, k: d)
            if l < weights.layers.count - 1 {
                linear(s.q, s.xn, w.qW.baseAddress!, w.qB.baseAddress!, m: total, n: d, k: d)
                deletionAttention(s.att, q: s.q, rows: tokenRows, requestK: requestK, requestV: requestV,
                                  ownK: s.deletionK, ownV: s.deletionV, scores: s.deletionScores, d: d,
                                  heads: config.nHeads)
                linear(s.h, s.att, w.oW.baseAddress!, w.oB.baseAddress!, m: total, n: d, k: d)
                addInPlace(s.x, s.h, n: total * d)
                feedForward(s.x, norm: s.hn, out: s.h, w, rows: total)
            } else {
                // The read-out rows only: rows 0 ..< count are the deletions' [RANK] tokens (the
                // last row, position length - 2), rows count ..< 2 count their newest events
                // (position kept - 2) when they keep one (format_version 2).
                let readsNewest = config.readsNewestEvent && kept >= 2
                var readRows: [DeletionQuery] = []
                func take(_ seg: (first: Int, rows: Int, offset: Int), row i: Int) {
                    (s.readX + readRows.count * d).update(from: s.x + (seg.offset + i) * d, count: d)
                    (s.readN + readRows.count * d).update(from: s.xn + (seg.offset + i) * d, count: d)
                    readRows.append(DeletionQuery(first: seg.first, own: seg.offset, seen: i + 1))
                }
                for seg in segments { take(seg, row: seg.rows - 1) }
                if readsNewest { for seg in segments { take(seg, row: kept - 2 - seg.first) } }
                let rows = readRows.count
                linear(s.readQ, s.readN, w.qW.baseAddress!, w.qB.baseAddress!, m: rows, n: d, k: d)
                deletionAttention(s.readAtt, q: s.readQ, rows: readRows, requestK: requestK, requestV: requestV,
                                  ownK: s.deletionK, ownV: s.deletionV, scores: s.deletionScores, d: d,
                                  heads: config.nHeads)
                linear(s.readH, s.readAtt, w.oW.baseAddress!, w.oB.baseAddress!, m: rows, n: d, k: d)
                addInPlace(s.readX, s.readH, n: rows * d)
                feedForward(s.readX, norm: s.readHn, out: s.readH, w, rows: rows)
                // read-out: x[RANK] (+ x[newest event])
                if readsNewest {
                    for i in 0..<count { addInPlace(s.readX + i * d, s.readX + (count + i) * d, n: d) }
                }
            }
        }
        // u = final_norm(read-out)
        layerNorm(s.deletionUsers, s.readX, weights.finalNormW.baseAddress!, weights.finalNormB.baseAddress!,
                  rows: count, d: d, eps: eps)
    }
}
