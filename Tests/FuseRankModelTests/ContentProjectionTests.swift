import Foundation
import Testing
import FuseRankTestSupport
@testable import FuseRankModel

/// `ModelBundle.contentRow`: the projection of an item's content against a Double hand
/// computation on a synthetic bundle, its input checks, and the bundle checks of `content.safetensors`.
@Suite struct ContentProjectionTests {
    static func bundle(contentDim: Int = 3) -> SyntheticBundle {
        var b = SyntheticBundle()
        b.addContentProjection(contentDim: contentDim)
        return b
    }

    /// y = W x + b with x = [vector, 1/n at content_dim + t for each distinct nonzero token t].
    static func reference(_ b: SyntheticBundle, tokens: [UInt32], vector: [Float]?) -> [Double] {
        let c = b.content!
        let dim = b.config.contentDim, k = dim + b.config.textVocabSize
        var x = [Double](repeating: 0, count: k)
        for (i, v) in (vector ?? []).enumerated() { x[i] = Double(v) }
        let distinct = Set(tokens.filter { $0 != 0 })
        for t in distinct { x[dim + Int(t)] = 1 / Double(distinct.count) }
        return (0..<(b.config.dModel + 1)).map { r in
            (0..<k).reduce(Double(c.bias[r])) { $0 + Double(c.weight[r * k + $1]) * x[$1] }
        }
    }

    @Test func projectionMatchesTheHandComputation() throws {
        let b = Self.bundle()
        let loaded = try b.load()
        #expect(loaded.hasContentProjection)
        #expect(loaded.config.contentDim == 3)
        let cases: [([UInt32], [Float]?)] = [
            ([2, 5, 5, 0, 7], [0.5, -1, 0.25]),  // repeats count once, padding ignored: x = 1/3 each
            ([3], nil),
            ([], [1, 2, 3]),
            ([0, 0], []),                         // nothing: the bias alone
        ]
        for (tokens, vector) in cases {
            let row = try loaded.contentRow(textTokens: tokens, vector: vector)
            let want = Self.reference(b, tokens: tokens, vector: vector)
            #expect(row.embedding.count == b.config.dModel)
            for j in 0..<b.config.dModel { #expect(abs(Double(row.embedding[j]) - want[j]) < 1e-5, "\(tokens) [\(j)]") }
            #expect(abs(Double(row.bias) - want[b.config.dModel]) < 1e-5)
        }
    }

    @Test func badContentIsRefused() throws {
        let loaded = try Self.bundle().load()
        #expect(throws: ContentError.textToken(index: 1, id: 12, vocabSize: 12)) {
            try loaded.contentRow(textTokens: [1, 12], vector: nil)
        }
        #expect(throws: ContentError.vectorLength(count: 2, expected: 3)) { try loaded.contentRow(textTokens: [], vector: [1, 2]) }
        #expect(throws: ContentError.vectorValue(position: 1)) { try loaded.contentRow(textTokens: [], vector: [1, .nan, 2]) }
        let plain = try SyntheticBundle().load()
        #expect(!plain.hasContentProjection)
        #expect(throws: ContentError.noProjection(model: "synthetic")) { try plain.contentRow(textTokens: [2], vector: nil) }
    }

    @Test func aWrongShapeNamesTheTensor() throws {
        var b = Self.bundle()
        b.content!.bias.removeLast()
        let dir = try b.write()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ModelBundle(path: dir)
            Issue.record("a content.bias of the wrong shape loaded")
        } catch let error as BundleError {
            #expect("\(error)".contains("content.bias"))
        }
    }
}
