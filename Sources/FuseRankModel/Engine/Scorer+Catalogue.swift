import CFuseRankKernels

extension Scorer {
    /// The most items the int8 path re-scores exactly for one request: `max(256, 4 * top_k)`,
    /// and a request asking for more than a quarter of this (or for every item) is scored exactly.
    static let maxShortlist = 4096

    /// state.catalogue (count, num_items - 2) = u (count, d) @ item_emb[2...]^T + item_bias[2...]: one GEMM.
    func scoreCatalogue(_ u: UnsafePointer<Float>, count: Int) {
        let n = bundle.catalogueSize
        guard n > 0 else { return }
        let bias = weights.itemBias.baseAddress! + 2
        for b in 0..<count { (state.catalogue + b * n).update(from: bias, count: n) }
        addItemScores(u, count: count, into: state.catalogue, weight: 1)
    }

    /// out (count, num_items - 2) += weight * u (count, d) @ item_emb[2...]^T: one GEMM (a gemv
    /// for one row), no bias. A fused bundle's members add their scores into the bundle's own
    /// buffer with it (Scorer+Fusion.swift).
    func addItemScores(_ u: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>, weight: Float) {
        let d = config.dModel
        let n = bundle.catalogueSize
        guard n > 0, count > 0 else { return }
        let items = weights.itemEmb.baseAddress! + 2 * d
        if count == 1 {
            matvec(out, items, u, m: n, k: d, lda: d, alpha: weight, beta: 1)
            return
        }
        // In slices of items, so that the GEMM's packed copy of each slice stays in cache.
        let slice = 8192
        for first in stride(from: 0, to: n, by: slice) {
            let m = min(slice, n - first)
            matmulTransposed(out + first, u, items + first * d, m: count, n: m, k: d, lda: d, ldb: d, ldy: n,
                             alpha: weight, beta: 1)
        }
    }

    /// Next-item results of encoded queries (user vectors in `state.users`): the catalogue
    /// queries' user vectors gathered and scored in one GEMM (or the int8 shortlist), listed
    /// queries item by item.
    func scoreNextItem(_ queries: [RankQuery]) -> [RankResult] {
        let s = state
        let d = config.dModel
        // Gather the user vectors of the catalogue queries and score them in one GEMM.
        var catalogueRow = [Int](repeating: -1, count: queries.count)
        var nCatalogue = 0
        for (b, query) in queries.enumerated() where query.ranksCatalogue {
            (s.catalogueUsers + nCatalogue * d).update(from: s.users + b * d, count: d)
            catalogueRow[b] = nCatalogue
            nCatalogue += 1
        }
        var shortlist = 0
        if nCatalogue > 0 {
            if let quantized {
                shortlist = queries.indices.map { catalogueRow[$0] >= 0 ? int8Shortlist(queries[$0]) ?? 0 : 0 }.max() ?? 0
                if shortlist > 0 { shortlistCatalogueInt8(quantized, count: nCatalogue, shortlist: shortlist) }
            } else {
                scoreCatalogue(s.catalogueUsers, count: nCatalogue)
                for (b, query) in queries.enumerated() where catalogueRow[b] >= 0 {  // format 3: seen items' bonus
                    addRepeatBonuses(query, user: s.catalogueUsers + catalogueRow[b] * d,
                                     catalogueScores: s.catalogue + catalogueRow[b] * bundle.catalogueSize)
                }
            }
        }
        return queries.enumerated().map { b, query in
            if catalogueRow[b] >= 0 {
                let row = catalogueRow[b]
                guard quantized != nil else {
                    return rankCatalogue(query, scores: s.catalogue + row * bundle.catalogueSize)
                }
                if int8Shortlist(query) == nil {
                    // Every item, or more than the int8 path re-scores: this user exactly.
                    let scores = s.catalogue + row * bundle.catalogueSize
                    scores.update(from: weights.itemBias.baseAddress! + 2, count: bundle.catalogueSize)
                    // scores = item_bias + item_emb @ u
                    matvec(scores, weights.itemEmb.baseAddress! + 2 * d, s.catalogueUsers + row * d,
                           m: bundle.catalogueSize, k: d, lda: d, beta: 1)
                    addRepeatBonuses(query, user: s.catalogueUsers + row * d, catalogueScores: scores)  // format 3
                    return rankCatalogue(query, scores: scores)
                }
                return rankShortlist(query, rows: s.shortlist + row * shortlist, count: min(shortlist, bundle.catalogueSize),
                                     user: s.catalogueUsers + row * d)
            }
            return rankListed(query, user: s.users + b * d)
        }
    }

    /// Top-k of one query's catalogue scores (column j = row j + 2), the rows its ``filter(_:)``
    /// drops left out. The scores of dropped items are overwritten (NaN): `scores` is this pass's
    /// scratch.
    func rankCatalogue(_ query: RankQuery, scores: UnsafeMutablePointer<Float>) -> RankResult {
        let n = bundle.catalogueSize
        let ids = weights.itemIDs
        for row in filter(query).dropped { scores[row - 2] = .nan }
        // The k best in one pass over the scores (dropped items never kept), then sorted.
        let kept = fr_top_indices(scores, n, query.topK == 0 ? n : min(query.topK, n), state.order)
        var top = UnsafeMutableBufferPointer(start: state.order, count: kept)
        top.sort { ranksBefore($0, $1, scores) }
        return RankResult(items: top.map { ScoredItem(itemID: ids[Int($0) + 2], score: scores[Int($0)]) })
    }

    /// How many approximate best items the int8 path re-scores for `query`: `max(256, 4 k)` plus
    /// the seen items it will drop; nil when the query is scored exactly instead (every item asked
    /// for, or more than ``maxShortlist``).
    private func int8Shortlist(_ query: RankQuery) -> Int? {
        guard query.topK > 0 else { return nil }
        let dropped = ((query.excludeSeen || config.excludeSeen) ? query.events.count : 0) + query.excludeItems.count
        let size = max(256, 4 * query.topK) + dropped
        return size <= Self.maxShortlist ? size : nil
    }

    /// state.shortlist (count, shortlist): for each gathered user vector, the catalogue columns of
    /// its `shortlist` best scores in 8-bit arithmetic (each user quantized with one scale). The
    /// int8 table is read once for the batch, and no (count, num_items) score matrix is written.
    private func shortlistCatalogueInt8(_ table: QuantizedCatalogue, count: Int, shortlist: Int) {
        let s = state
        let d = config.dModel, p = table.paddedDimension
        guard table.count > 0 else { return }
        for b in 0..<count {
            s.userScales[b] = fr_int8_quantize(s.catalogueUsers + b * d, d, s.quantizedUsers + b * p)
        }
        table.scales.withUnsafeBufferPointer { scales in
            _ = fr_int8_top(table.packed, scales.baseAddress!, weights.itemBias.baseAddress! + 2, table.count, d,
                            s.quantizedUsers, s.userScales, count, shortlist, s.shortlist, s.shortlistScores, s.chunk)
        }
    }

    /// Top-k of one query from its int8 shortlist (catalogue columns): the rows its ``filter(_:)``
    /// drops left out, the rest re-scored exactly; returned scores are float32-exact.
    private func rankShortlist(_ query: RankQuery, rows: UnsafePointer<Int32>, count: Int, user: UnsafePointer<Float>) -> RankResult {
        let s = state
        let d = config.dModel
        let dropped = filter(query).dropped
        for row in dropped { s.mark[row] = 1 }
        var kept = 0
        func take(_ j: Int) {  // marks 2 = taken (1 = dropped)
            // score(row) = u . item_emb[row] + item_bias[row], row = column + 2
            s.candidateScores[j] = dot(user, weights.itemEmb.baseAddress! + (j + 2) * d, n: d) + weights.itemBias[j + 2]
            s.order[kept] = Int32(j)
            s.mark[j + 2] = 2
            kept += 1
        }
        for i in 0..<count where s.mark[Int(rows[i]) + 2] == 0 { take(Int(rows[i])) }
        // Format 3: the seen items' bonus is not in the 8-bit scores, so each of them is scored
        // exactly here whether or not it made the shortlist.
        for bonus in repeatBonuses(query, user: user) where s.mark[bonus.row] != 1 {
            if s.mark[bonus.row] == 0 { take(bonus.row - 2) }
            s.candidateScores[bonus.row - 2] += bonus.bonus
        }
        for i in 0..<kept { s.mark[Int(s.order[i]) + 2] = 0 }
        for row in dropped { s.mark[row] = 0 }
        let top = selectTop(s.order, count: kept, k: query.topK, scores: s.candidateScores)
        let ids = weights.itemIDs
        return RankResult(items: top.map { ScoredItem(itemID: ids[Int($0) + 2], score: s.candidateScores[Int($0)]) })
    }

    /// Next-item top-k of a listed query (`candidates` or `restrict_to`, through ``rankList(_:_:score:)``).
    private func rankListed(_ query: RankQuery, user: UnsafePointer<Float>) -> RankResult {
        let d = config.dModel
        var bonus: [Int: Float] = [:]  // format 3: the seen items' bonus
        for b in repeatBonuses(query, user: user) { bonus[b.row] = b.bonus }
        return rankList(query, filter(query)) { row in
            // score(row) = u . item_emb[row] + item_bias[row] (+ repeat bonus)
            var score = dot(user, weights.itemEmb.baseAddress! + row * d, n: d) + weights.itemBias[row]
            if let b = bonus[row] { score += b }
            return score
        }
    }
}

extension ModelBundle {
    /// score(row) = u . item_emb[row] + item_bias[row] of one user vector and one item; for a
    /// fused bundle, the members' scores of their parts of `user`, weighted and summed.
    /// - Parameters:
    ///   - user: a user vector of ``userDimension`` floats (from ``Ranker/userVectors(_:)``).
    ///   - itemID: an external item id.
    /// - Returns: the score, or nil for an item not in the catalogue.
    public func score(user: UnsafeBufferPointer<Float>, item itemID: Int64) -> Float? {
        precondition(user.count == userDimension, "a user vector has \(userDimension) floats")
        guard let row = rowOfItem[itemID].map(Int.init) else { return nil }
        let all = [self] + (fusion?.members ?? [])
        let weights = fusion?.weights ?? [1]
        var score: Float = 0, offset = 0
        for (k, m) in all.enumerated() {
            let d = m.config.dModel
            let own = dot(user.baseAddress! + offset, m.weights.itemEmb.baseAddress! + row * d, n: d) + m.weights.itemBias[row]
            score += fusion == nil ? own : weights[k] * own
            offset += d
        }
        return score
    }
}
