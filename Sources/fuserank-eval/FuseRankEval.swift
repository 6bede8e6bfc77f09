import ArgumentParser
import Foundation
import FuseRankEvaluation
import FuseRankModel

/// Evaluates a bundle through the Swift engine on a dataset split and prints JSON metrics.
///
/// Protocols and metrics are those of docs/evaluation.md, which training/fuserank/evaluate/
/// implements too (its `--swift` option runs this tool and compares the figures).
@main
struct FuseRankEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank-eval",
        abstract: "Evaluate a FuseRank bundle through the Swift engine (HR@10, NDCG@10, MRR as JSON).")

    @Option(help: "The bundle folder.")
    var model: String = "models/default"

    @Option(help: "ml-latest-small or ml-1m.")
    var dataset: String

    @Option(help: "The folder holding the dataset folders.")
    var dataRoot: String = "../shared/data"

    @Option(help: "The dataset folder itself (overrides --data-root).")
    var data: String?

    @Option(help: "test (input = all but the last event) or val (all but the last two).")
    var split: String = "test"

    @Option(help: "Comma-separated protocols: full, sampled, search, popularity.")
    var modes: String = "full,sampled,search"

    @Option(help: "Only this protocol: full or sampled (shorthand for --modes).")
    var `protocol`: String?

    @Option(help: "none, or genres: the target's genre words as the text query (search mode).")
    var query: String = "none"

    @Option(help: "Seeds of the sampled protocol: 1 ... N.")
    var seeds: Int = 5

    @Option(help: "Users per forward batch.")
    var batch: Int = 64

    @Option(help: "OpenBLAS threads.")
    var threads: Int = 1

    func validate() throws {
        guard ["ml-latest-small", "ml-1m"].contains(dataset) else {
            throw ValidationError("--dataset must be ml-latest-small or ml-1m")
        }
        guard ["test", "val"].contains(split) else { throw ValidationError("--split must be test or val") }
        guard ["none", "genres"].contains(query) else { throw ValidationError("--query must be none or genres") }
        if let p = `protocol`, !["full", "sampled"].contains(p) {
            throw ValidationError("--protocol must be full or sampled")
        }
        guard seeds >= 1, batch >= 1, threads >= 1 else { throw ValidationError("--seeds, --batch and --threads must be >= 1") }
        let known: Set<String> = ["full", "sampled", "search", "popularity"]
        for m in modes.split(separator: ",") where !known.contains(String(m)) {
            throw ValidationError("unknown mode \(m); expected full, sampled, search, popularity")
        }
    }

    /// The protocols to run, from --modes, --protocol and --query.
    var selectedModes: [String] {
        var selected = modes.split(separator: ",").map(String.init)
        if let p = `protocol` { selected = [query == "genres" && p == "full" ? "search" : p] }
        else if query == "genres" { selected = ["search"] }
        return selected
    }

    func run() throws {
        BLAS.reexecWithBestCoreTypeIfNeeded()
        BLAS.setThreads(threads)
        let started = Date()
        let folder = data ?? (dataRoot as NSString).appendingPathComponent(dataset)
        let ds = try dataset == "ml-1m" ? EvalDataset.ml1m(folder) : EvalDataset.mlLatestSmall(folder)
        let bundle = try ModelBundle(path: model)
        let evaluator = Evaluator(bundle: bundle, batchSize: batch)
        let target = UserSequence.Target(rawValue: split)!
        let modes = selectedModes

        var out: [String: Any] = [
            "model": model, "model_version": bundle.config.version, "dataset": dataset, "split": split,
            "engine": "swift",
        ]
        let cases = EvaluationCase.leaveOneOut(ds.sequences, target: target)
        var full: RankingMetrics?
        if modes.contains("full") || modes.contains("sampled") {
            let users = try evaluator.userVectors(cases)
            if modes.contains("full") {
                full = try evaluator.fullRanking(cases, users: users)
                out["full"] = json(full!)
            }
            if modes.contains("sampled") {
                let perSeed = try (1...seeds).map {
                    try evaluator.sampled(cases, users: users, catalogue: ds.catalogue, seed: UInt64($0))
                }
                out["sampled_seeds"] = perSeed.map(json)
                let k = Double(perSeed.count)
                out["sampled"] = [
                    "hr@10": perSeed.map(\.hitRate).reduce(0, +) / k,
                    "ndcg@10": perSeed.map(\.ndcg).reduce(0, +) / k,
                    "mrr": perSeed.map(\.mrr).reduce(0, +) / k,
                    "users": perSeed[0].users,
                ] as [String: Any]
            }
        }
        if modes.contains("search") {
            let vocabulary = bundle.vocabulary
            let searchCases = EvaluationCase.leaveOneOut(ds.sequences, target: target) {
                vocabulary.tokenize(ds.itemText[$0] ?? "")
            }
            let search = try evaluator.fullRanking(searchCases, users: evaluator.userVectors(searchCases))
            out["search"] = json(search)
            if let full, full.ndcg > 0 { out["search_lift"] = search.ndcg / full.ndcg - 1 }
        }
        if modes.contains("popularity") {
            out["popularity"] = json(try evaluator.popularity(cases, sequences: ds.sequences))
        }
        out["seconds"] = (Date().timeIntervalSince(started) * 10).rounded() / 10
        let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func json(_ m: RankingMetrics) -> [String: Any] {
        ["hr@10": m.hitRate, "ndcg@10": m.ndcg, "mrr": m.mrr, "users": m.users]
    }
}
