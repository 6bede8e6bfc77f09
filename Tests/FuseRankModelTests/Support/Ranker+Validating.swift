import FuseRankModel

extension Ranker {
    /// The tests' shorthand: validates each query with this ranker's bundle, then ranks.
    func rank(_ queries: [RankQuery]) throws -> [RankResult] {
        rank(try queries.map { try bundle.validate($0) })
    }

    /// The tests' shorthand: validates each query with this ranker's bundle, then encodes.
    func userVectors(_ queries: [RankQuery]) throws -> [Float] {
        userVectors(try queries.map { try bundle.validate($0) })
    }
}
