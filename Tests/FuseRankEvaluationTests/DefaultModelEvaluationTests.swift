import Foundation
import Testing
import FuseRankModel
@testable import FuseRankEvaluation

/// The trained default bundle, evaluated through the Swift engine on the ml-latest-small test split
/// (docs/evaluation.md): its NDCG@10 must beat a popularity baseline computed here on the same split.
@Suite struct DefaultModelEvaluationTests {
    /// The project root, found from this source file.
    static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelPath = projectRoot.appendingPathComponent("models/default").path
    static let dataPath = projectRoot.appendingPathComponent("../shared/data/ml-latest-small").standardized.path

    static var modelExists: Bool { FileManager.default.fileExists(atPath: modelPath + "/config.json") }

    @Test(.enabled(if: modelExists, "models/default/ does not exist yet (make train-default writes it)"))
    func defaultModelBeatsPopularityOnTheTestSplit() throws {
        let ratings = try String(contentsOfFile: Self.dataPath + "/ratings.csv", encoding: .utf8)
        let sequences = MovieLens.ratingsSequences(csv: ratings)
        let cases = EvaluationCase.leaveOneOut(sequences, target: .test)
        #expect(cases.count == 610)

        let bundle = try ModelBundle(path: Self.modelPath)
        let evaluator = Evaluator(bundle: bundle, batchSize: 64)
        let users = try evaluator.userVectors(cases)
        let model = try evaluator.fullRanking(cases, users: users)
        let popularity = try evaluator.popularity(cases, sequences: sequences)
        print("default model on ml-latest-small test: NDCG@10 \(model.ndcg) HR@10 \(model.hitRate) MRR \(model.mrr); "
              + "popularity NDCG@10 \(popularity.ndcg) HR@10 \(popularity.hitRate) (\(model.users) users)")
        #expect(model.users == cases.count && popularity.users == cases.count)
        #expect(popularity.ndcg > 0)
        #expect(model.ndcg > popularity.ndcg)
    }

    @Test(.enabled(if: modelExists, "models/default/ does not exist yet"))
    func defaultModelRanksLikeTheEvaluator() throws {
        // The serving path (rank with exclude_seen) puts the target where the evaluator counts it.
        let ratings = try String(contentsOfFile: Self.dataPath + "/ratings.csv", encoding: .utf8)
        let cases = Array(EvaluationCase.leaveOneOut(MovieLens.ratingsSequences(csv: ratings)).prefix(8))
        try #require(cases.count == 8)
        let bundle = try ModelBundle(path: Self.modelPath)
        let d = bundle.config.dModel
        let evaluator = Evaluator(bundle: bundle, batchSize: 8)
        let users = try evaluator.userVectors(cases)
        try #require(users.count == cases.count * d)
        let results = evaluator.ranker.rank(try cases.map { try bundle.validate($0.query) })
        for (i, (c, r)) in zip(cases, results).enumerated() {
            let position = try #require(r.items.firstIndex { $0.itemID == c.target }, "user \(c.user): target not returned")
            var one = RankingMetrics()
            one.add(rank: position + 1)
            let full = try evaluator.fullRanking([c], users: Array(users[(i * d)..<((i + 1) * d)]))
            #expect(abs(one.mrr - full.mrr) < 1e-9, "user \(c.user)")
        }
    }
}
