/// The scoring of a fused bundle (Ranker+Fusion.swift): the weighted sum of the members' exact
/// scores (each with its repeat head's bonus on seen items, format 3), through the same filter
/// and top-k as a single model.
extension Scorer {
    /// Next-item results of a fused pass: this scorer's (the bundle's own) user vectors and each
    /// member's in its own `state.users`, query order.
    /// - Parameters:
    ///   - queries: the pass's queries (live changes already folded in).
    ///   - members: the other members' scorers, in `fusion.json` order.
    ///   - weights: every member's weight, this bundle's first.
    func scoreFused(_ queries: [RankQuery], members: [Scorer], weights: [Float]) -> [RankResult] {
        let n = bundle.catalogueSize
        let all = [self] + members
        var catalogueRow = [Int](repeating: -1, count: queries.count)
        var nCatalogue = 0
        for (b, query) in queries.enumerated() where query.ranksCatalogue {
            for m in all {
                let d = m.config.dModel
                (m.state.catalogueUsers + nCatalogue * d).update(from: m.state.users + b * d, count: d)
            }
            catalogueRow[b] = nCatalogue
            nCatalogue += 1
        }
        if nCatalogue > 0 {
            let gathered = queries.filter(\.ranksCatalogue)
            fuseCatalogue(members: members, weights: weights, count: nCatalogue, queries: gathered)
        }
        return queries.enumerated().map { b, query in
            if catalogueRow[b] >= 0 { return rankCatalogue(query, scores: state.catalogue + catalogueRow[b] * n) }
            // format 3: each member's bonus of the seen items
            let bonuses = all.map { m in
                Dictionary(m.repeatBonuses(query, user: m.state.users + b * m.config.dModel).map { ($0.row, $0.bonus) },
                           uniquingKeysWith: +)
            }
            return rankList(query, filter(query)) { row in
                // score(row) = sum_k w_k (u_k . item_emb_k[row] + item_bias_k[row] + bonus_k(row))
                var score: Float = 0
                for (k, m) in all.enumerated() {
                    let d = m.config.dModel
                    score += weights[k] * (dot(m.state.users + b * d, m.weights.itemEmb.baseAddress! + row * d, n: d)
                                           + m.weights.itemBias[row] + (bonuses[k][row] ?? 0))
                }
                return score
            }
        }
    }

    /// state.catalogue (count, num_items - 2) = sum_k w_k * (member k's catalogue scores of the
    /// user vectors in its `state.catalogueUsers`, plus its repeat bonuses of `queries[i]`'s seen
    /// items in row i): the fused bias, then one GEMM per member (weight w_k) adding into this
    /// scorer's buffer. The members keep no catalogue buffer of their own (RunState).
    /// - Parameter queries: the query of each gathered row, for the repeat heads; empty = no bonus
    ///   (the evaluation path, as for a single model).
    func fuseCatalogue(members: [Scorer], weights: [Float], count: Int, queries: [RankQuery] = []) {
        let n = bundle.catalogueSize
        guard n > 0 else { return }
        let out = state.catalogue
        fusedItemBias.withUnsafeBufferPointer { bias in
            for i in 0..<count { (out + i * n).update(from: bias.baseAddress!, count: n) }
        }
        for (k, m) in ([self] + members).enumerated() {
            let d = m.config.dModel, w = weights[k]
            m.addItemScores(m.state.catalogueUsers, count: count, into: out, weight: w)
            for (i, query) in queries.enumerated() {  // format 3: the seen items' bonus
                m.addRepeatBonuses(query, user: m.state.catalogueUsers + i * d, catalogueScores: out + i * n, weight: w)
            }
        }
    }
}

extension Fusion {
    /// sum_k w_k item_bias_k[2...], the fused bias of every catalogue item (column j = row j + 2).
    /// - Parameter own: the bundle's own `item_bias` (the first member's).
    func itemBias(own: UnsafeBufferPointer<Float>) -> [Float] {
        let biases = [own] + members.map(\.weights.itemBias)
        var out = [Float](repeating: 0, count: max(0, own.count - 2))
        for (k, bias) in biases.enumerated() {
            for j in out.indices { out[j] += weights[k] * bias[j + 2] }
        }
        return out
    }
}
