extension Ranker {
    /// catalogue (count, num_items - 2) = u (count, d) @ item_emb[2...]^T + item_bias[2...]: one GEMM.
    func scoreCatalogue(_ u: UnsafePointer<Float>, count: Int) {
        let d = config.dModel
        let n = bundle.catalogueSize
        guard n > 0 else { return }
        let items = weights.itemEmb.baseAddress! + 2 * d
        let bias = weights.itemBias.baseAddress! + 2
        matmulTransposed(catalogue, u, items, m: count, n: n, k: d, lda: d, ldb: d, ldy: n)
        for b in 0..<count { addInPlace(catalogue + b * n, bias, n: n) }
    }

    /// Scores the encoded queries (user vectors in `users`) and builds their results.
    func score(_ queries: [RankQuery]) -> [RankResult] {
        let d = config.dModel
        // Gather the user vectors of the catalogue queries into rankN and score them in one GEMM.
        var catalogueRow = [Int](repeating: -1, count: queries.count)
        var nCatalogue = 0
        for (b, query) in queries.enumerated() where query.candidates.isEmpty {
            (rankN + nCatalogue * d).update(from: users + b * d, count: d)
            catalogueRow[b] = nCatalogue
            nCatalogue += 1
        }
        if nCatalogue > 0 { scoreCatalogue(rankN, count: nCatalogue) }
        for (b, query) in queries.enumerated() where catalogueRow[b] >= 0 {  // format 3: seen items' bonus
            addRepeatBonuses(query, user: users + b * d, catalogueScores: catalogue + catalogueRow[b] * bundle.catalogueSize)
        }
        return queries.enumerated().map { b, query in
            if catalogueRow[b] >= 0 {
                return rankCatalogue(query, scores: catalogue + catalogueRow[b] * bundle.catalogueSize)
            }
            return rankCandidates(query, user: users + b * d)
        }
    }

    /// Top-k of one query's catalogue scores (column j = row j + 2), seen items dropped when the
    /// query or the model's config (a model trained to rank only unseen items) says so.
    private func rankCatalogue(_ query: RankQuery, scores: UnsafePointer<Float>) -> RankResult {
        let n = bundle.catalogueSize
        let excludeSeen = query.excludeSeen || config.excludeSeen
        if excludeSeen {
            for e in query.events { if let row = bundle.rowOfItem[e.itemID] { mark[Int(row)] = 1 } }
        }
        var count = 0
        for j in 0..<n where mark[j + 2] == 0 {
            order[count] = Int32(j)
            count += 1
        }
        if excludeSeen {
            for e in query.events { if let row = bundle.rowOfItem[e.itemID] { mark[Int(row)] = 0 } }
        }
        let top = selectTop(order, count: count, k: query.topK, scores: scores)
        let ids = weights.itemIDs
        return RankResult(items: top.map { ScoredItem(itemID: ids[Int($0) + 2], score: scores[Int($0)]) })
    }

    /// Scores each known candidate once (first occurrence) and reports unknown ids in request order.
    private func rankCandidates(_ query: RankQuery, user: UnsafePointer<Float>) -> RankResult {
        let d = config.dModel
        var unknown: [Int64] = []
        var unknownSeen = Set<Int64>()
        var count = 0
        for id in query.candidates {
            guard let row32 = bundle.rowOfItem[id] else {
                if unknownSeen.insert(id).inserted { unknown.append(id) }
                continue
            }
            let row = Int(row32)
            guard mark[row] == 0 else { continue }
            mark[row] = 1
            // score(row) = u . item_emb[row] + item_bias[row]
            candidateScores[row] = dot(user, weights.itemEmb.baseAddress! + row * d, n: d) + weights.itemBias[row]
            order[count] = row32
            count += 1
        }
        for b in repeatBonuses(query, user: user) where mark[b.row] == 1 { candidateScores[b.row] += b.bonus }  // format 3
        for i in 0..<count { mark[Int(order[i])] = 0 }
        let top = selectTop(order, count: count, k: query.topK, scores: candidateScores)
        let ids = weights.itemIDs
        return RankResult(
            items: top.map { ScoredItem(itemID: ids[Int($0)], score: candidateScores[Int($0)]) },
            unknownCandidates: unknown)
    }
}
