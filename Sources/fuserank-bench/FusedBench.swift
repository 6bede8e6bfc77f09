import ArgumentParser
import Foundation
import FuseRankModel

/// The cost of a fused bundle (docs/model-format.md "Fused bundles"): the `--model` bundle alone
/// against a fused bundle of `members` copies of it (equal weights), the same catalogue requests
/// timed in turns on one thread. One JSON line per batch size; `fused_ratio` = fused / single.
extension FuseRankBench {
    func runFused(members: Int) throws {
        let single = try ModelBundle(path: model)
        if let problem = [single.fusion != nil ? "is already fused" : nil,
                          single.config.hasRepeatHead ? "has a repeat head" : nil].compactMap({ $0 }).first {
            throw ValidationError("--fused: \(model) \(problem)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fused-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try writeFusedCopies(of: model, members: members, to: folder)
        let fused = try ModelBundle(path: folder.path)
        for batch in batches.isEmpty ? [1, 32] : batches {
            let plain = try makeQueries(single, batch: batch)
            let fusedQueries = try plain.map { try fused.validate($0.query) }
            let one = Ranker(bundle: single, maxBatch: batch), many = Ranker(bundle: fused, maxBatch: batch)
            let (a, b) = timeAlternating({ _ = one.rank(plain) }, { _ = many.rank(fusedQueries) })
            let line: [String: Any] = [
                "impl": "swift", "bench": "fused", "members": members, "batch": batch, "events": events,
                "single_rank_median_ms": a.median, "fused_rank_median_ms": b.median,
                "fused_ratio": ((b.median / a.median) * 1000).rounded() / 1000,
                // one worker's scratch beside the shared bundle: the members add into one score buffer
                "single_scratch_mb": Double(one.scratchBytes) / 1_048_576,
                "fused_scratch_mb": Double(many.scratchBytes) / 1_048_576,
                "fused_scratch_ratio": ((Double(many.scratchBytes) / Double(one.scratchBytes)) * 1000).rounded() / 1000,
                // what the members' own score buffers would have held: (K - 1) * batch * catalogue floats
                "saved_scratch_mb": Double(members * one.scratchBytes - many.scratchBytes) / 1_048_576,
                "threads": threads, "iters": iters, "model": single.config.name,
            ]
            let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    /// A fused bundle in `folder`: `source`'s model files on top and in `members - 1` member folders.
    private func writeFusedCopies(of source: String, members: Int, to folder: URL) throws {
        let fm = FileManager.default
        let files = ["config.json", "weights.safetensors", "vocab.txt"]
        var entries: [[String: Any]] = [["path": ".", "weight": 1.0 / Double(members)]]
        for k in 0..<members {
            let dir = k == 0 ? folder : folder.appendingPathComponent("members/copy\(k)")
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            for f in files {
                try fm.copyItem(at: URL(fileURLWithPath: source).appendingPathComponent(f), to: dir.appendingPathComponent(f))
            }
            if k > 0 { entries.append(["path": "members/copy\(k)", "weight": 1.0 / Double(members)]) }
        }
        let doc: [String: Any] = ["fusion_version": 1, "members": entries]
        try JSONSerialization.data(withJSONObject: doc).write(to: folder.appendingPathComponent("fusion.json"))
    }
}
