import ArgumentParser
import Foundation
import FuseRankModel
import FuseRankSynthetic

/// Forward latency of the Swift engine: median and p90 for each batch size, one JSON line each.
///
/// `median_ms` covers requests -> user vectors (token layout, encoder, final norm) for the whole
/// batch, as `python -m fuserank.parity.bench_torch` measures PyTorch; `rank_median_ms` adds scoring the
/// whole catalogue with top-10 and exclude_seen (what a catalogue request costs);
/// `explain_median_ms` the same requests with `explain_events` 3 (docs/explanations.md), and
/// `explain_ratio` = explain_median_ms / rank_median_ms. `--session`, `--catalogue` and
/// `--forecast` and `--fused` time other paths instead (one JSON line each). Never asserts.
@main
struct FuseRankBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank-bench", abstract: "Forward latency of the Swift engine (JSON lines).")

    @Option(help: "The bundle folder.")
    var model: String = "models/default"

    @Option(name: .customLong("batch"), help: "Batch size (repeatable); default 1 and 32.")
    var batches: [Int] = []

    @Option(help: "Events per request (at most the model's max_events are kept).")
    var events: Int = 200

    @Option(help: "OpenBLAS threads.")
    var threads: Int = 1

    @Option(help: "Timed iterations per batch size.")
    var iters: Int = 50

    @Option(help: "Untimed iterations first.")
    var warmup: Int = 5

    @Option(help: "Only write a synthetic bundle of the default shape into this folder, then exit.")
    var writeSynthetic: String?

    @Option(help: "Whole-catalogue scoring instead: exact float32 vs int8 on a synthetic bundle of this many items (one JSON line).")
    var catalogue: Int?

    @Option(help: "d_model of the --catalogue bundle.")
    var catalogueDModel: Int = 64

    @Option(help: "With --catalogue: reuse this trained bundle's encoder and (resampled) item rows.")
    var realModel: String?

    @Option(help: "With --catalogue: users whose top-10 the recall is measured on.")
    var users: Int = 1000

    @Flag(help: "Session prefix cache instead: appending one event to 200 cached events vs a full pass (one JSON line).")
    var session = false

    @Flag(help: "Forecaster instead: one request of --series series of --history values, horizon --horizon (one JSON line; --model's forecaster if it has one, else a random one of the realistic shape).")
    var forecast = false

    @Option(help: "With --forecast: series per request.")
    var series: Int = 1_000

    @Option(help: "Fused bundle instead: --model alone vs a fused bundle of this many copies of it (one JSON line per batch size).")
    var fused: Int?

    @Option(help: "With --forecast: values per series.")
    var history: Int = 28

    @Option(help: "With --forecast: periods to forecast.")
    var horizon: Int = 28

    /// The shape of `models/default` (docs/model-format.md example) with 200 events.
    static let syntheticConfig = ModelConfig(
        name: "synthetic", version: "bench", dModel: 64, nHeads: 2, nLayers: 2, dFF: 256,
        maxEvents: 200, maxTextTokens: 16, maxImages: 4, imageDim: 32, numItems: 9744,
        numEventTypes: 7, textVocabSize: 30, numTimeBuckets: 34, layerNormEps: 1e-5)

    func validate() throws {
        if let catalogue, catalogue < 100 || users < 10 { throw ValidationError("--catalogue >= 100 and --users >= 10") }
        if forecast, series < 1 || history < 1 || horizon < 1 { throw ValidationError("--series, --history and --horizon >= 1") }
        guard events >= 0, threads >= 1, iters >= 1, warmup >= 0, batches.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--events >= 0, --threads, --iters, --batch >= 1, --warmup >= 0")
        }
    }

    func run() throws {
        BLAS.reexecWithBestCoreTypeIfNeeded()
        if let folder = writeSynthetic {
            try SyntheticBundle(config: Self.syntheticConfig, seed: 7).write(to: folder)
            print("wrote a synthetic bundle (d_model 64, 2 layers, max_events 200) to \(folder)")
            return
        }
        BLAS.setThreads(threads)
        if forecast {
            var bench = ForecastBench()
            bench.series = series
            bench.history = history
            bench.horizon = horizon
            bench.iters = iters
            bench.warmup = warmup
            bench.model = FileManager.default.fileExists(atPath: model + "/forecaster.json") ? model : nil
            let data = try JSONSerialization.data(withJSONObject: try bench.run(), options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        if let fused {
            guard (2...Fusion.maxMembers).contains(fused) else { throw ValidationError("--fused takes 2 to \(Fusion.maxMembers)") }
            try runFused(members: fused)
            return
        }
        if session {
            var bench = SessionBench()
            bench.iters = iters
            bench.warmup = warmup
            let data = try JSONSerialization.data(withJSONObject: try bench.run(), options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        if let items = catalogue {
            var bench = CatalogueBench(items: items)
            bench.dModel = catalogueDModel
            bench.realModel = realModel
            bench.users = users
            bench.iters = iters
            let data = try JSONSerialization.data(withJSONObject: try bench.run(), options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return
        }
        let bundle = try ModelBundle(path: model)
        for batch in batches.isEmpty ? [1, 32] : batches {
            let queries = try makeQueries(bundle, batch: batch)
            let ranker = Ranker(bundle: bundle, maxBatch: batch)
            let forward = time { _ = ranker.userVectors(queries) }
            let explainedQueries = try queries.map { q in
                var explained = q.query
                explained.explainEvents = 3
                return try bundle.validate(explained)
            }
            // Plain and explained requests alternate, so that a change in the machine's load
            // (shared cores) weighs on both medians alike.
            let (ranking, explaining) = timeAlternating({ _ = ranker.rank(queries) }, { _ = ranker.rank(explainedQueries) })
            let line: [String: Any] = [
                "impl": "swift", "batch": batch, "events": events,
                "median_ms": forward.median, "p90_ms": forward.p90,
                "rank_median_ms": ranking.median, "rank_p90_ms": ranking.p90,
                "explain_median_ms": explaining.median, "explain_p90_ms": explaining.p90,
                "explain_ratio": ((explaining.median / ranking.median) * 1000).rounded() / 1000,
                "tokens": bundle.tokenCount(queries[0].query), "threads": threads, "iters": iters,
                "model": bundle.config.name, "d_model": bundle.config.dModel, "n_layers": bundle.config.nLayers,
            ]
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))  // unbuffered: one line per batch size as it finishes
        }
    }

    /// `batch` requests of `events` known-item events each, about one event per five minutes.
    func makeQueries(_ bundle: ModelBundle, batch: Int) throws -> [ValidatedQuery] {
        var rng = SplitMix64(state: 0)
        let ids = bundle.catalogueItemIDs
        let types = UInt64(bundle.config.numEventTypes)
        return try (0..<batch).map { _ in
            var ts: Int64 = 1_700_000_000_000
            let evs = (0..<events).map { _ -> BehaviourEvent in
                ts += 1 + Int64(rng.below(600_000))
                return BehaviourEvent(itemID: ids[Int(rng.below(UInt64(ids.count)))], type: Int32(rng.below(types)), timestampMs: ts)
            }
            return try bundle.validate(RankQuery(events: evs, topK: 10, excludeSeen: true, nowMs: ts + 60_000))
        }
    }

    /// Median and p90 wall times of `a` and `b` in milliseconds, timed in turns.
    func timeAlternating(_ a: () -> Void, _ b: () -> Void) -> (a: (median: Double, p90: Double), b: (median: Double, p90: Double)) {
        for _ in 0..<warmup { a(); b() }
        var msA: [Double] = [], msB: [Double] = []
        func elapsed(_ body: () -> Void) -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
        for _ in 0..<iters {
            msA.append(elapsed(a))
            msB.append(elapsed(b))
        }
        return (summary(msA), summary(msB))
    }

    /// Median and p90 of times in milliseconds, rounded to 0.1 µs.
    private func summary(_ times: [Double]) -> (median: Double, p90: Double) {
        let ms = times.sorted()
        let round4 = { (x: Double) in (x * 10_000).rounded() / 10_000 }
        return (round4(ms[ms.count / 2]), round4(ms[min(ms.count - 1, Int((Double(ms.count) * 0.9).rounded(.up)) - 1)]))
    }

    /// Median and p90 wall time of `body` in milliseconds.
    private func time(_ body: () -> Void) -> (median: Double, p90: Double) {
        for _ in 0..<warmup { body() }
        var ms: [Double] = []
        ms.reserveCapacity(iters)
        for _ in 0..<iters {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        ms.sort()
        let round4 = { (x: Double) in (x * 10_000).rounded() / 10_000 }
        return (round4(ms[ms.count / 2]), round4(ms[min(ms.count - 1, Int((Double(ms.count) * 0.9).rounded(.up)) - 1)]))
    }
}
