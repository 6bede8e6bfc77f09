/// The repeat head of format_version 3 (docs/model-format.md "Repeat head"): a score bonus for
/// every item the request has already seen, added to the served score
/// `u . item_emb[row] + item_bias[row]`.
///
/// Mirrors `RepeatHead` and `repeat_features` of `training/fuserank/` (model.py, features.py):
///
///     bonus(row) = rank[rank_bucket] + count[count_bucket] + sum_{t in types} event_type[t]
///                  + time[time_bucket] + u . gate
extension Scorer {
    /// One seen item's bonus.
    struct RepeatBonus {
        /// The item-table row (>= 2).
        let row: Int
        /// The value added to its score.
        let bonus: Float
    }

    /// The bonus of every distinct known item of `query` (all events, not only the kept window),
    /// or nothing for a model without the repeat head.
    /// - Parameters:
    ///   - query: a validated query (event types `0 ..< num_event_types`).
    ///   - user: its user vector `u` (d_model,).
    func repeatBonuses(_ query: RankQuery, user: UnsafePointer<Float>) -> [RepeatBonus] {
        guard let head = weights.repeatHead, !query.events.isEmpty else { return [] }
        // Per distinct row: its newest event, its number of events, the bit set of its types.
        var last: [Int: Int] = [:]
        var count: [Int: Int] = [:]
        var types: [Int: UInt64] = [:]
        for (i, e) in query.events.enumerated() {
            guard let row32 = bundle.rowOfItem[e.itemID] else { continue }  // unknown: no bonus
            let row = Int(row32)
            last[row] = i
            count[row, default: 0] += 1
            types[row, default: 0] |= 1 << UInt64(e.type)  // type < num_event_types <= 64 (validated)
        }
        let gate = dot(user, head.gate.baseAddress!, n: config.dModel)  // u . gate
        // Recency rank: 0 = the item whose newest event is the request's newest.
        let newestFirst = last.keys.sorted { last[$0]! > last[$1]! }
        return newestFirst.enumerated().map { rank, row in
            let rankBucket = rank < 8 ? rank
                : min(TensorLayout.repeatRankBuckets - 1, 4 + (Int.bitWidth - rank.leadingZeroBitCount))
            let countBucket = min(count[row]!, TensorLayout.repeatCountBuckets) - 1
            var typeSum: Float = 0
            var bits = types[row]!
            var t = 0
            while bits != 0 {
                if bits & 1 == 1 { typeSum += head.eventType[t] }
                bits >>= 1
                t += 1
            }
            let ts = query.events[last[row]!].timestampMs
            let timeBucket = query.nowMs > 0 && ts > 0
                ? TimeBucket.of(gapMs: query.nowMs - ts, buckets: config.numTimeBuckets) : TimeBucket.none
            let bonus = head.rank[rankBucket] + head.count[countBucket] + typeSum + head.time[timeBucket] + gate
            return RepeatBonus(row: row, bonus: bonus)
        }
    }

    /// Adds the repeat bonuses of `query`, times `weight` (a fused bundle's member weight), to its
    /// catalogue scores (column j = row j + 2).
    func addRepeatBonuses(_ query: RankQuery, user: UnsafePointer<Float>, catalogueScores: UnsafeMutablePointer<Float>,
                          weight: Float = 1) {
        for b in repeatBonuses(query, user: user) { catalogueScores[b.row - 2] += weight * b.bonus }
    }
}
