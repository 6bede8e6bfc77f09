extension ModelBundle {
    /// The number of tokens the encoder sees for `query`: kept events, kept text, kept images, `[RANK]`.
    public func tokenCount(_ query: RankQuery) -> Int {
        tokenCount(query, keptEvents: min(query.events.count, config.maxEvents))
    }

    /// The number of tokens of `query` when it keeps its newest `keptEvents` events.
    func tokenCount(_ query: RankQuery, keptEvents: Int) -> Int {
        let text = min(query.textTokens.lazy.filter { $0 != 0 }.count, config.maxTextTokens)
        return keptEvents + text + min(query.images.count, config.maxImages) + 1
    }
}

extension Ranker {
    /// Runs the encoder on validated queries (at most ``maxBatch``) and leaves their user vectors
    /// in `state.users` (count, d_model).
    ///
    /// Every Linear runs once on the ragged `[sum S, d_model]` matrix of all requests (no padding);
    /// attention runs per request and head. The last block runs only for the read-out rows: with
    /// causal attention nothing reads the other rows' outputs (from format_version 2 the newest
    /// behaviour token's row too: the read-out adds its state to `[RANK]`'s).
    func encode(_ queries: [RankQuery]) {
        let s = state
        let d = config.dModel
        let eps = config.layerNormEps
        var total = 0
        for (b, query) in queries.enumerated() {
            s.offsets[b] = total
            s.lengths[b] = bundle.tokenCount(query)
            s.newest[b] = config.readsNewestEvent ? min(query.events.count, config.maxEvents) : 0
            total += s.lengths[b]
        }
        for (b, query) in queries.enumerated() {
            embed(query, keptEvents: min(query.events.count, config.maxEvents), into: s.x + s.offsets[b] * d)
        }
        let count = queries.count
        let layerStride = maxBatch * config.maxSequenceLength * d
        for (l, w) in weights.layers.enumerated() {
            // x = x + o(attention(norm1(x))); this layer's keys and values stay in keys[l], values[l]
            let k = s.keys + l * layerStride, v = s.values + l * layerStride
            layerNorm(s.xn, s.x, w.norm1W.baseAddress!, w.norm1B.baseAddress!, rows: total, d: d, eps: eps)
            linear(k, s.xn, w.kW.baseAddress!, w.kB.baseAddress!, m: total, n: d, k: d)
            linear(v, s.xn, w.vW.baseAddress!, w.vB.baseAddress!, m: total, n: d, k: d)
            if l < weights.layers.count - 1 {
                linear(s.q, s.xn, w.qW.baseAddress!, w.qB.baseAddress!, m: total, n: d, k: d)
                for b in 0..<count {
                    let o = s.offsets[b] * d
                    causalAttention(s.att + o, q: s.q + o, k: k + o, v: v + o, scores: s.scores,
                                    nq: s.lengths[b], s: s.lengths[b], d: d, heads: config.nHeads)
                }
                linear(s.h, s.att, w.oW.baseAddress!, w.oB.baseAddress!, m: total, n: d, k: d)
                addInPlace(s.x, s.h, n: total * d)
                // x = x + ffn_down(gelu(ffn_up(norm2(x))))
                feedForward(s.x, norm: s.hn, out: s.h, w, rows: total)
            } else {
                // The read-out rows only: readX = x[row], readN = norm1(x)[row]. Rows 0 ..< count
                // are the [RANK] tokens, then the newest behaviour token of each request that has
                // one (format_version 2), in request order. Row r sees the first `seen` tokens.
                var rows = 0
                func take(_ b: Int, _ seen: Int) {
                    let row = (s.offsets[b] + seen - 1) * d
                    (s.readX + rows * d).update(from: s.x + row, count: d)
                    (s.readN + rows * d).update(from: s.xn + row, count: d)
                    rows += 1
                }
                for b in 0..<count { take(b, s.lengths[b]) }
                for b in 0..<count where s.newest[b] > 0 { take(b, s.newest[b]) }
                linear(s.readQ, s.readN, w.qW.baseAddress!, w.qB.baseAddress!, m: rows, n: d, k: d)
                var r = 0
                func attend(_ b: Int, _ seen: Int) {
                    let o = s.offsets[b] * d
                    causalAttention(s.readAtt + r * d, q: s.readQ + r * d, k: k + o, v: v + o, scores: s.scores,
                                    nq: 1, s: seen, d: d, heads: config.nHeads)
                    r += 1
                }
                for b in 0..<count { attend(b, s.lengths[b]) }
                for b in 0..<count where s.newest[b] > 0 { attend(b, s.newest[b]) }
                linear(s.readH, s.readAtt, w.oW.baseAddress!, w.oB.baseAddress!, m: rows, n: d, k: d)
                addInPlace(s.readX, s.readH, n: rows * d)
                feedForward(s.readX, norm: s.readHn, out: s.readH, w, rows: rows)
                // read-out: x[RANK] (+ x[newest event])
                r = count
                for b in 0..<count where s.newest[b] > 0 {
                    addInPlace(s.readX + b * d, s.readX + r * d, n: d)
                    r += 1
                }
            }
        }
        // u = final_norm(read-out)
        layerNorm(s.users, s.readX, weights.finalNormW.baseAddress!, weights.finalNormB.baseAddress!,
                  rows: count, d: d, eps: eps)
    }

    /// x (rows, d) += ffn_down(gelu(ffn_up(norm2(x)))), with `norm` (rows, d) = norm2(x),
    /// `state.hidden` (rows, d_ff) and `out` (rows, d) = the sublayer's output.
    func feedForward(_ x: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>,
                             out: UnsafeMutablePointer<Float>, _ w: LayerWeights, rows: Int) {
        let d = config.dModel, dff = config.dFF
        let hidden = state.hidden
        layerNorm(norm, x, w.norm2W.baseAddress!, w.norm2B.baseAddress!, rows: rows, d: d, eps: config.layerNormEps)
        linear(hidden, norm, w.upW.baseAddress!, w.upB.baseAddress!, m: rows, n: dff, k: d)
        gelu(hidden, n: rows * dff)
        linear(out, hidden, w.downW.baseAddress!, w.downB.baseAddress!, m: rows, n: d, k: dff)
        addInPlace(x, out, n: rows * d)
    }

    /// Writes the token rows of one query at `out` (its tokenCount rows of d_model), keeping its
    /// newest `keptEvents` events (`min(events, max_events)`; an explanation's deletion keeps one
    /// fewer, see Ranker+Explain.swift).
    /// Behaviour tokens before `firstEvent` are not written (an explanation's deletion reuses them).
    func embed(_ query: RankQuery, keptEvents kept: Int, into out: UnsafeMutablePointer<Float>, firstEvent: Int = 0) {
        let d = config.dModel
        let w = weights
        let buckets = config.numTimeBuckets
        var t = 0
        // behaviour token p: s * item_emb[row] + event_type_emb[type] + time_emb[bucket] + pos_emb[p]
        let s = config.itemInputScale
        let n = query.events.count
        t = min(firstEvent, kept)
        for p in t..<kept {
            let i = n - kept + p
            let e = query.events[i]
            let row = bundle.rowOfItem[e.itemID].map(Int.init) ?? 1
            let item = w.itemEmb.baseAddress! + row * d
            let type = w.eventTypeEmb.baseAddress! + Int(e.type) * d
            let time = w.timeEmb.baseAddress! + TimeBucket.ofEvent(i, in: query.events, buckets: buckets) * d
            let pos = w.posEmb.baseAddress! + p * d
            let dst = out + t * d
            for j in 0..<d { dst[j] = s * item[j] + type[j] + time[j] + pos[j] }
            t += 1
        }
        // text token: text_emb[id] + modality_emb[0]
        var textKept = 0
        for id in query.textTokens where id != 0 && textKept < config.maxTextTokens {
            let emb = w.textEmb.baseAddress! + Int(id) * d
            let modality = w.modalityEmb.baseAddress!
            let dst = out + t * d
            for j in 0..<d { dst[j] = emb[j] + modality[j] }
            t += 1
            textKept += 1
        }
        // image token: image_proj.weight @ x + image_proj.bias + modality_emb[1]
        let images = min(query.images.count, config.maxImages)
        if images > 0, let projW = w.imageProjW, let projB = w.imageProjB {
            let dim = config.imageDim
            for i in 0..<images {
                query.images[i].withUnsafeBufferPointer { (state.imageIn + i * dim).update(from: $0.baseAddress!, count: dim) }
            }
            let dst = out + t * d
            linear(dst, state.imageIn, projW.baseAddress!, projB.baseAddress!, m: images, n: d, k: dim)
            let modality = w.modalityEmb.baseAddress! + d
            for i in 0..<images { addInPlace(dst + i * d, modality, n: d) }
            t += images
        }
        // [RANK]: rank_token + time_emb[rank_bucket] (+ rank_pos_emb[kept] from format_version 2)
        let rankBucket = TimeBucket.ofRank(events: query.events, nowMs: query.nowMs, buckets: buckets)
        let time = w.timeEmb.baseAddress! + rankBucket * d
        let dst = out + t * d
        for j in 0..<d { dst[j] = w.rankToken[j] + time[j] }
        if let rankPos = w.rankPosEmb {
            addInPlace(dst, rankPos.baseAddress! + kept * d, n: d)
        }
    }
}
