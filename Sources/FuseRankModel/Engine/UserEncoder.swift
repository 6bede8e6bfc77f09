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

/// The encoder half of a ``Ranker``: requests -> user vectors, with the session cache.
///
/// It writes the user vectors of a pass to `state.users` (and keeps every layer's keys and values
/// in `state.keys`, `state.values`) for the ``Scorer`` that shares its ``RunState``. The
/// deletions of explanations are forward passes too: UserEncoder+Deletions.swift.
/// Not `Sendable`: the scratch belongs to one thread.
final class UserEncoder {
    let bundle: ModelBundle
    let config: ModelConfig
    let weights: ModelWeights
    /// The scratch it shares with its ranker's ``Scorer``.
    let state: RunState
    /// The most queries one pass carries.
    let maxBatch: Int
    /// Where sessions' behaviour-token states are kept between requests; nil = no reuse.
    let sessionCache: SessionCache?

    init(bundle: ModelBundle, state: RunState, maxBatch: Int, sessionCache: SessionCache?) {
        self.bundle = bundle
        self.config = bundle.config
        self.weights = bundle.weights
        self.state = state
        self.maxBatch = maxBatch
        self.sessionCache = sessionCache
    }

    /// Runs the encoder on validated queries (at most ``maxBatch``) and leaves their user vectors
    /// in `state.users` (count, d_model).
    ///
    /// Every Linear runs once on the ragged `[sum S, d_model]` matrix of all requests (no padding);
    /// attention runs per request and head. The last block runs only for the read-out rows: with
    /// causal attention nothing reads the other rows' outputs (from format_version 2 the newest
    /// behaviour token's row too: the read-out adds its state to `[RANK]`'s). A request of a cached
    /// session (``SessionCache``) enters with only its new events: the keys and values of the
    /// cached ones come from the cache, and its new event rows are appended there.
    /// - Parameters:
    ///   - queries: the pass's queries.
    ///   - overlay: the live catalogue changes of the call (content rows embed as event items); nil = none.
    func encode(_ queries: [RankQuery], overlay: CatalogueOverlay?) {
        let s = state
        let d = config.dModel
        let eps = config.layerNormEps
        let count = queries.count
        let sessions = queries.map { sessionPlan($0, overlay: overlay) }
        var total = 0
        for (b, query) in queries.enumerated() {
            s.offsets[b] = total
            s.lengths[b] = bundle.tokenCount(query) - (sessions[b]?.cached ?? 0)
            s.newest[b] = config.readsNewestEvent ? min(query.events.count, config.maxEvents) : 0
            total += s.lengths[b]
        }
        for (b, query) in queries.enumerated() {
            // A session's cached events are not embedded: row 0 of the request is its first new
            // event (embed writes event p at row p, so the base moves back by the cached count).
            let cached = sessions[b]?.cached ?? 0
            embed(query, keptEvents: min(query.events.count, config.maxEvents), into: s.x + (s.offsets[b] - cached) * d,
                  firstEvent: cached, overlay: overlay)
        }
        var newestStates = [[Float]](repeating: [], count: count)
        let layerStride = maxBatch * config.maxSequenceLength * d
        for (l, w) in weights.layers.enumerated() {
            // x = x + o(attention(norm1(x))); this layer's keys and values stay in keys[l], values[l]
            let k = s.keys + l * layerStride, v = s.values + l * layerStride
            layerNorm(s.xn, s.x, w.norm1W.baseAddress!, w.norm1B.baseAddress!, rows: total, d: d, eps: eps)
            linear(k, s.xn, w.kW.baseAddress!, w.kB.baseAddress!, m: total, n: d, k: d)
            linear(v, s.xn, w.vW.baseAddress!, w.vB.baseAddress!, m: total, n: d, k: d)
            // A session's new event rows join its cached states, where its attention reads them.
            for b in 0..<count {
                guard let plan = sessions[b], plan.fresh > 0 else { continue }
                let o = s.offsets[b] * d
                (plan.states.keys(l) + plan.cached * d).update(from: k + o, count: plan.fresh * d)
                (plan.states.values(l) + plan.cached * d).update(from: v + o, count: plan.fresh * d)
            }
            // Request b's keys and values: the session's states, then its rows after those.
            func prefix(_ b: Int) -> (k: UnsafePointer<Float>, v: UnsafePointer<Float>, rows: Int)? {
                sessions[b].map { (UnsafePointer($0.states.keys(l)), UnsafePointer($0.states.values(l)), $0.cached + $0.fresh) }
            }
            func rest(_ b: Int) -> Int { (s.offsets[b] + (sessions[b]?.fresh ?? 0)) * d }
            func seen(_ b: Int) -> Int { (sessions[b]?.cached ?? 0) + s.lengths[b] }
            if l < weights.layers.count - 1 {
                linear(s.q, s.xn, w.qW.baseAddress!, w.qB.baseAddress!, m: total, n: d, k: d)
                for b in 0..<count {
                    let o = s.offsets[b] * d
                    causalAttention(s.att + o, q: s.q + o, prefix: prefix(b), k: k + rest(b), v: v + rest(b),
                                    scores: s.scores, nq: s.lengths[b], s: seen(b), d: d, heads: config.nHeads)
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
                for b in 0..<count {
                    let row = (s.offsets[b] + s.lengths[b] - 1) * d
                    (s.readX + rows * d).update(from: s.x + row, count: d)
                    (s.readN + rows * d).update(from: s.xn + row, count: d)
                    rows += 1
                }
                for b in 0..<count where s.newest[b] > 0 {
                    let cached = sessions[b]?.cached ?? 0
                    if s.newest[b] > cached {
                        let row = (s.offsets[b] + s.newest[b] - cached - 1) * d
                        (s.readX + rows * d).update(from: s.x + row, count: d)
                        (s.readN + rows * d).update(from: s.xn + row, count: d)
                    } else if let previous = sessions[b]?.previous {
                        // No new event: the newest one's state is the session's.
                        previous.newestState.withUnsafeBufferPointer { (s.readX + rows * d).update(from: $0.baseAddress!, count: d) }
                        layerNorm(s.readN + rows * d, s.readX + rows * d, w.norm1W.baseAddress!, w.norm1B.baseAddress!,
                                  rows: 1, d: d, eps: eps)
                    }
                    if sessions[b] != nil { newestStates[b] = Array(UnsafeBufferPointer(start: s.readX + rows * d, count: d)) }
                    rows += 1
                }
                linear(s.readQ, s.readN, w.qW.baseAddress!, w.qB.baseAddress!, m: rows, n: d, k: d)
                var r = 0
                func attend(_ b: Int, _ seen: Int) {
                    causalAttention(s.readAtt + r * d, q: s.readQ + r * d, prefix: prefix(b), k: k + rest(b), v: v + rest(b),
                                    scores: s.scores, nq: 1, s: seen, d: d, heads: config.nHeads)
                    r += 1
                }
                for b in 0..<count { attend(b, seen(b)) }
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
        // The sessions that grew keep their states.
        for (b, query) in queries.enumerated() {
            guard let plan = sessions[b], plan.fresh > 0, let cache = sessionCache else { continue }
            cache.store(SessionCache.Entry(events: query.events, states: plan.states, newestState: newestStates[b]),
                        bundle: bundle, session: sessionKey(query, overlay: overlay))
        }
    }

    /// The cache key of a query's session: a changed content row changes the states of its events.
    private func sessionKey(_ query: RankQuery, overlay: CatalogueOverlay?) -> String {
        guard let overlay, overlay.contentGeneration > 0 else { return query.sessionID }
        return "\(overlay.contentGeneration)/\(query.sessionID)"
    }

    /// Where a request of a session starts: the cached states its events extend (`cached` rows,
    /// `previous` their entry) and the `fresh` event rows it appends to `states`; nil when it has no
    /// session, no events or more events than the model keeps (the window slides: a full pass).
    private func sessionPlan(_ query: RankQuery, overlay: CatalogueOverlay?) -> SessionPlan? {
        // An explained request runs in full: its deletions reuse every row's keys and values.
        guard let cache = sessionCache, !query.sessionID.isEmpty, !query.events.isEmpty, query.explainEvents == 0 else {
            return nil
        }
        guard query.events.count <= config.maxEvents else {
            cache.recordMiss()
            return nil
        }
        let previous = cache.lookup(bundle: bundle, session: sessionKey(query, overlay: overlay), events: query.events)
        let cached = previous?.events.count ?? 0
        let fresh = query.events.count - cached
        let states: SessionStates
        if let previous {
            // Append in place when this entry is the newest of its buffer; else a private copy.
            states = fresh == 0 || previous.states.claim(from: cached, adding: fresh)
                ? previous.states : previous.states.copy(rows: cached)
        } else {
            states = SessionStates(layers: config.nLayers, dimension: config.dModel, capacity: config.maxEvents)
        }
        if previous == nil || states !== previous?.states { _ = states.claim(from: cached, adding: fresh) }
        return SessionPlan(states: states, cached: cached, fresh: fresh, previous: previous)
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
    /// fewer, see UserEncoder+Deletions.swift).
    /// Behaviour tokens before `firstEvent` are not written (an explanation's deletion reuses them).
    /// An item with a content row in `overlay` embeds with that row.
    func embed(_ query: RankQuery, keptEvents kept: Int, into out: UnsafeMutablePointer<Float>, firstEvent: Int = 0,
               overlay: CatalogueOverlay?) {
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
            let type = w.eventTypeEmb.baseAddress! + Int(e.type) * d
            let time = w.timeEmb.baseAddress! + TimeBucket.ofEvent(i, in: query.events, buckets: buckets) * d
            let pos = w.posEmb.baseAddress! + p * d
            let dst = out + t * d
            func write(_ item: UnsafePointer<Float>) {
                for j in 0..<d { dst[j] = s * item[j] + type[j] + time[j] + pos[j] }
            }
            if let overlay, let slot = overlay.slot(of: e.itemID) {  // a content row (live catalogue)
                overlay.embeddings.withUnsafeBufferPointer { write($0.baseAddress! + slot * d) }
            } else {
                write(w.itemEmb.baseAddress! + (bundle.rowOfItem[e.itemID].map(Int.init) ?? 1) * d)
            }
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

/// A session request's start: see `UserEncoder.sessionPlan`.
struct SessionPlan {
    let states: SessionStates
    let cached: Int
    let fresh: Int
    let previous: SessionCache.Entry?
}
