/// A fused bundle's ranking (docs/model-format.md "Fused bundles"): every member encodes the
/// same pass with its own encoder and scratch, and an item's score is the weighted sum of the
/// members' scores, `sum_k w_k (u_k . item_emb_k[row] + item_bias_k[row])` (Scorer+Fusion.swift).
///
/// A fused bundle has no content projection, so its live catalogue changes only hide items: they
/// leave each query as its `exclude_items` (or its candidates) do. Members keep no session states:
/// a session's request reuses the bundle's own cached states and runs the other members in full.
extension Ranker {
    /// The next-item results of one pass of a fused bundle.
    func rankFused(_ pass: [RankQuery], overlay: CatalogueOverlay?) -> [RankResult] {
        let plans = overlay.map { o in pass.map { Scorer.OverlayPlan($0, overlay: o, excludeSeenByModel: bundle.config.excludeSeen) } }
        let queries = plans?.map(\.base) ?? pass
        encodeMembers(queries)
        var results = scorer.scoreFused(queries, members: members.map(\.scorer), weights: bundle.fusion!.weights)
        if let plans {
            for b in results.indices { results[b].unavailableCandidates = plans[b].unavailable }
        }
        return results
    }

    /// Runs every member's encoder on the pass: each leaves its user vectors in its own `state.users`.
    private func encodeMembers(_ queries: [RankQuery]) {
        encoder.encode(queries, overlay: nil)
        for member in members { member.encoder.encode(queries, overlay: nil) }
    }

    /// The fused user vectors of one pass: the members' side by side, the bundle's own first.
    func fusedUserVectors(_ pass: [RankQuery]) -> [Float] {
        encodeMembers(pass)
        let all = [self] + members
        let width = bundle.userDimension
        var out = [Float](repeating: 0, count: pass.count * width)
        out.withUnsafeMutableBufferPointer { o in
            for b in 0..<pass.count {
                var offset = b * width
                for r in all {
                    let d = r.bundle.config.dModel
                    (o.baseAddress! + offset).update(from: r.state.users + b * d, count: d)
                    offset += d
                }
            }
        }
        return out
    }

    /// ``catalogueScores(users:)`` of a fused bundle: each member scores its part of the user
    /// vectors, and the parts are summed with the members' weights.
    func fusedCatalogueScores(users: [Float]) -> [Float] {
        let width = bundle.userDimension, n = bundle.catalogueSize
        precondition(users.count % width == 0, "fused user vectors come in rows of \(width)")
        let count = users.count / width
        let all = [self] + members
        var out: [Float] = []
        out.reserveCapacity(count * n)
        users.withUnsafeBufferPointer { u in
            for start in stride(from: 0, to: count, by: maxBatch) {
                let rows = min(maxBatch, count - start)
                for b in 0..<rows {
                    var offset = (start + b) * width
                    for r in all {
                        let d = r.bundle.config.dModel
                        (r.state.catalogueUsers + b * d).update(from: u.baseAddress! + offset, count: d)
                        offset += d
                    }
                }
                scorer.fuseCatalogue(members: members.map(\.scorer), weights: bundle.fusion!.weights, count: rows)
                out += UnsafeBufferPointer(start: state.catalogue, count: rows * n)
            }
        }
        return out
    }
}
