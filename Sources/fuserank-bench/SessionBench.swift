import Foundation
import FuseRankModel
import FuseRankSynthetic

/// The per-session prefix cache: a request that appends one event to a session of `events`
/// cached events against a full pass over the same events (encoder only, batch 1, one JSON line).
struct SessionBench {
    var dModel = 64
    var layers = 2
    var events = 200
    var iters = 50
    var warmup = 5

    func run() throws -> [String: Any] {
        var config = SyntheticBundle.tinyConfig(imageDim: 0)
        config.name = "synthetic-session"
        config.dModel = dModel
        config.dFF = 4 * dModel
        config.nLayers = layers
        config.maxEvents = events + 1
        config.numItems = 10_000
        let synthetic = SyntheticBundle(config: config, seed: 13)
        let folder = try synthetic.write()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bundle = try ModelBundle(path: folder)
        let cache = SessionCache(capacityBytes: 1 << 30)
        let ranker = Ranker(bundle: bundle, maxBatch: 1, sessionCache: cache)
        var rng = SplitMix64(state: 2)
        func history(_ n: Int) -> [BehaviourEvent] {
            var t: Int64 = 1_700_000_000_000
            return (0..<n).map { _ in
                t += 1 + Int64(rng.below(600_000))
                return BehaviourEvent(itemID: Int64(100 + 7 * (2 + Int(rng.below(9_000)))), type: 1, timestampMs: t)
            }
        }
        let sessions = warmup + iters
        // Each timed append goes to its own session, cached at `events` events beforehand.
        let full = try (0..<sessions).map { s in try bundle.validate(RankQuery(events: history(events + 1), sessionID: "s\(s)")) }
        for q in full {
            var prefix = q.query
            prefix.events.removeLast()
            _ = ranker.userVectors([try bundle.validate(prefix)])
        }
        var next = 0
        let appendMs = median(iters: iters, warmup: warmup) {
            _ = ranker.userVectors([full[next]])
            next += 1
        }
        let plain = Ranker(bundle: bundle, maxBatch: 1)
        var i = 0
        let fullMs = median(iters: iters, warmup: warmup) {
            _ = plain.userVectors([full[i % full.count]])
            i += 1
        }
        let stats = cache.statistics
        return [
            "impl": "swift", "d_model": dModel, "n_layers": layers, "events": events,
            "append_ms": appendMs, "full_ms": fullMs, "ratio": appendMs / fullMs,
            "cache_hits": stats.hits, "cache_misses": stats.misses, "session_bytes": stats.bytes / max(1, stats.sessions),
        ]
    }
}
