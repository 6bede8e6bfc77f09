import FuseRankTestSupport
import Foundation
import Testing
@testable import FuseRankModel

/// Every way a bundle can be wrong is rejected with its own error, naming the file and tensor.
@Suite struct BundleLoaderTests {
    let synthetic = SyntheticBundle()

    /// Loads `dir` and returns the BundleError it throws (nil when it loads).
    func loadError(_ dir: String) -> BundleError? {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ModelBundle(path: dir)
            return nil
        } catch let error as BundleError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    /// Writes the good bundle, then replaces weights.safetensors with `bytes`.
    func withWeights(_ bytes: [UInt8]) throws -> String {
        let dir = try synthetic.write()
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/weights.safetensors"))
        return dir
    }

    var goodBytes: [UInt8] {
        let blobs = synthetic.blobs()
        return try! SafetensorsEncoding.encode(blobs, metadata: ["format": "pt"])  // a valid header always serialises
    }

    @Test func loadsAGoodBundleWithoutCopyingWeights() throws {
        let bundle = try synthetic.load()
        #expect(bundle.config == synthetic.config)
        #expect(bundle.catalogueSize == 40)
        #expect(bundle.vocabulary.tokens == synthetic.vocab)
        #expect(bundle.row(ofItem: 100 + 7 * 5) == 5)
        #expect(bundle.row(ofItem: 0) == nil && bundle.row(ofItem: -1) == nil && bundle.row(ofItem: 101) == nil)
        // The item table is a view into the map, not an array copy.
        let base = UnsafeRawPointer(bundle.weights.itemEmb.baseAddress!)
        #expect(base >= bundle.weights.file.base && base < bundle.weights.file.base + bundle.weights.file.count)
        #expect(Array(bundle.weights.itemEmb) == synthetic.floats["item_emb.weight"]!)
    }

    @Test func truncatedFile() throws {
        let good = goodBytes
        guard case let .truncated(file, _, _)? = loadError(try withWeights(Array(good.prefix(5)))) else {
            Issue.record("expected .truncated"); return
        }
        #expect(file.hasSuffix("weights.safetensors"))
        // Cut inside the data section: the last tensor runs out of bounds.
        guard case let .outOfBounds(_, tensor, _, _)? = loadError(try withWeights(Array(good.dropLast(4)))) else {
            Issue.record("expected .outOfBounds"); return
        }
        #expect(tensor == "final_norm.bias")
        // Cut inside the header.
        guard case .truncated? = loadError(try withWeights(Array(good.prefix(20)))) else {
            Issue.record("expected .truncated inside the header"); return
        }
        // Empty file.
        guard case .truncated? = loadError(try withWeights([])) else { Issue.record("expected .truncated for empty"); return }
    }

    @Test func trailingBytes() throws {
        guard case .trailingBytes? = loadError(try withWeights(goodBytes + [0, 0, 0, 0])) else {
            Issue.record("expected .trailingBytes"); return
        }
    }

    @Test func headerLengthBeyondTheCap() throws {
        var bytes = goodBytes
        let huge = UInt64(200_000_000)
        for i in 0..<8 { bytes[i] = UInt8((huge >> (8 * UInt64(i))) & 0xFF) }
        guard case let .headerTooLarge(_, length, cap)? = loadError(try withWeights(bytes)) else {
            Issue.record("expected .headerTooLarge"); return
        }
        #expect(length == huge && cap == 100_000_000)
    }

    @Test func headerThatIsNotJSON() throws {
        let bytes = SafetensorsEncoding.fileBytes(headerJSON: Array("{not json".utf8), data: [])
        guard case .badHeader? = loadError(try withWeights(bytes)) else { Issue.record("expected .badHeader"); return }
        let array = SafetensorsEncoding.fileBytes(headerJSON: Array("[1, 2]".utf8), data: [])
        guard case .badHeader? = loadError(try withWeights(array)) else { Issue.record("expected .badHeader for an array"); return }
    }

    @Test func overlappingAndGappedOffsets() throws {
        // Overlap: rank_token starts 4 bytes early.
        let overlap = try synthetic.write { h in
            var e = h["rank_token"] as! [String: Any]
            let o = e["data_offsets"] as! [Int]
            e["data_offsets"] = [o[0] - 4, o[1] - 4]
            h["rank_token"] = e
        }
        guard case let .notContiguous(_, tensor, _, _)? = loadError(overlap) else { Issue.record("expected .notContiguous"); return }
        #expect(tensor == "rank_token")
        // Gap: pad 8 bytes before the data of modality_emb and shift every later tensor.
        var blobs = synthetic.blobs()
        let i = blobs.firstIndex { $0.name == "modality_emb.weight" }!
        var header = SafetensorsEncoding.header(blobs, metadata: ["format": "pt"])
        for (j, b) in blobs.enumerated() where j >= i {
            var e = header[b.name] as! [String: Any]
            let o = e["data_offsets"] as! [Int]
            e["data_offsets"] = [o[0] + 8, o[1] + 8]
            header[b.name] = e
        }
        blobs.insert(TensorBlob(name: "pad", floats: [0, 0], shape: [2]), at: i)
        let gapped = try withWeights(try SafetensorsEncoding.fileBytes(header: header, data: blobs.flatMap(\.bytes)))
        guard case let .notContiguous(_, gapTensor, begin, expected)? = loadError(gapped) else {
            Issue.record("expected .notContiguous for a gap"); return
        }
        #expect(gapTensor == "modality_emb.weight" && begin == expected + 8)
    }

    @Test func unsupportedDType() throws {
        let dir = try synthetic.write { h in
            var e = h["item_bias"] as! [String: Any]
            e["dtype"] = "F16"
            h["item_bias"] = e
        }
        guard case let .unsupportedDType(_, tensor, dtype)? = loadError(dir) else { Issue.record("expected .unsupportedDType"); return }
        #expect(tensor == "item_bias" && dtype == "F16")
    }

    @Test func wrongDTypeForTheFormat() throws {
        // item_bias stored as I64 of the same byte length (half the elements): the format wants F32.
        var blobs = synthetic.blobs()
        let i = blobs.firstIndex { $0.name == "item_bias" }!
        blobs[i] = TensorBlob(name: "item_bias", int64s: [Int64](repeating: 0, count: 21), shape: [21])
        guard case let .wrongDType(_, tensor, expected, actual)? = loadError(try synthetic.write(blobs: blobs)) else {
            Issue.record("expected .wrongDType"); return
        }
        #expect(tensor == "item_bias" && expected == "F32" && actual == "I64")
    }

    @Test func shapeThatDoesNotFillItsBytes() throws {
        let dir = try synthetic.write { h in
            var e = h["rank_token"] as! [String: Any]
            e["shape"] = [17]
            h["rank_token"] = e
        }
        guard case let .byteLengthMismatch(_, tensor, shape, _, bytes)? = loadError(dir) else {
            Issue.record("expected .byteLengthMismatch"); return
        }
        #expect(tensor == "rank_token" && shape == [17] && bytes == 64)
        // A shape whose product overflows.
        let overflow = try synthetic.write { h in
            var e = h["rank_token"] as! [String: Any]
            e["shape"] = [1 << 40, 1 << 40]
            h["rank_token"] = e
        }
        guard case .byteLengthMismatch? = loadError(overflow) else { Issue.record("expected .byteLengthMismatch on overflow"); return }
    }

    @Test func wrongShape() throws {
        var blobs = synthetic.blobs()
        let i = blobs.firstIndex { $0.name == "layers.1.ffn_up.weight" }!
        blobs[i].shape = [16, 32]  // transposed: same bytes, wrong shape
        guard case let .wrongShape(file, tensor, expected, actual)? = loadError(try synthetic.write(blobs: blobs)) else {
            Issue.record("expected .wrongShape"); return
        }
        #expect(file.hasSuffix("weights.safetensors"))
        #expect(tensor == "layers.1.ffn_up.weight" && expected == [32, 16] && actual == [16, 32])
    }

    @Test func missingTensor() throws {
        let blobs = synthetic.blobs().filter { $0.name != "layers.0.k.bias" }
        guard case let .missingTensor(_, tensor)? = loadError(try synthetic.write(blobs: blobs)) else {
            Issue.record("expected .missingTensor"); return
        }
        #expect(tensor == "layers.0.k.bias")
        // image_dim > 0 needs image_proj.
        let noImage = synthetic.blobs().filter { !$0.name.hasPrefix("image_proj") }
        guard case .missingTensor(_, "image_proj.weight")? = loadError(try synthetic.write(blobs: noImage)) else {
            Issue.record("expected image_proj.weight missing"); return
        }
    }

    @Test func unexpectedTensor() throws {
        let blobs = synthetic.blobs() + [TensorBlob(name: "layers.0.q.wieght", floats: [1, 2], shape: [2])]
        guard case let .unexpectedTensor(_, tensor)? = loadError(try synthetic.write(blobs: blobs)) else {
            Issue.record("expected .unexpectedTensor"); return
        }
        #expect(tensor == "layers.0.q.wieght")
        // A model without images must not carry image_proj.
        var config = synthetic.config
        config.imageDim = 0
        var noImages = SyntheticBundle(config: config)
        noImages.floats["image_proj.bias"] = [Float](repeating: 0, count: 16)
        let extra = noImages.blobs() + [TensorBlob(name: "image_proj.bias", floats: noImages.floats["image_proj.bias"]!, shape: [16])]
        guard case .unexpectedTensor(_, "image_proj.bias")? = loadError(try noImages.write(blobs: extra)) else {
            Issue.record("expected image_proj.bias unexpected"); return
        }
    }

    @Test func badConfig() throws {
        let good = try JSONSerialization.jsonObject(with: JSONEncoder().encode(synthetic.config)) as! [String: Any]
        func edited(_ edit: (inout [String: Any]) -> Void) -> String {
            var object = good
            edit(&object)
            return String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        let cases: [(String, String)] = [
            ("{", "valid JSON"),
            (edited { $0["d_ff"] = nil }, "d_ff"),
            (edited { $0["n_heads"] = 3 }, "n_heads"),
            (edited { $0["num_time_buckets"] = 2 }, "num_time_buckets"),
            (edited { $0["format_version"] = 4 }, "format_version"),
            (edited { $0["format_version"] = 0 }, "format_version"),
            (edited { $0["format"] = "gguf" }, "format"),
            (edited { $0["d_model"] = "16" }, "d_model"),
            (edited { $0["layer_norm_eps"] = 0 }, "layer_norm_eps"),
            (edited { $0["num_items"] = 1 }, "num_items"),
        ]
        for (json, mention) in cases {
            guard case let .badConfig(file, reason)? = loadError(try synthetic.write(configJSON: json)) else {
                Issue.record("expected .badConfig for \(mention)"); continue
            }
            #expect(file.hasSuffix("config.json"))
            #expect(reason.contains(mention), "\(reason) should mention \(mention)")
        }
        // format_version 3 (the repeat head) needs its tensors: format 2 weights do not load as 3.
        if case let .missingTensor(_, tensor)? = loadError(try synthetic.write(configJSON: edited { $0["format_version"] = 3 })) {
            #expect(tensor.hasPrefix("repeat."))
        } else {
            Issue.record("expected a missing repeat tensor for format_version 3")
        }
        // Unknown keys are ignored.
        let extra = edited { $0["comment"] = "hi" }
        #expect(loadError(try synthetic.write(configJSON: extra)) == nil)
        // exclude_seen is optional (false when absent), must be a boolean, and round-trips.
        #expect(good["exclude_seen"] == nil && synthetic.config.excludeSeen == false)
        guard case .badConfig? = loadError(try synthetic.write(configJSON: edited { $0["exclude_seen"] = "yes" })) else {
            Issue.record("expected .badConfig for exclude_seen \"yes\""); return
        }
        let flagged = try synthetic.write(configJSON: edited { $0["exclude_seen"] = true })
        let config = try ModelBundle(path: flagged).config
        #expect(config.excludeSeen)
        #expect(try JSONDecoder().decode(ModelConfig.self, from: JSONEncoder().encode(config)) == config)
    }

    @Test func badVocabularyAndItemIDs() throws {
        guard case .badVocabulary? = loadError(try synthetic.write(vocabText: "[PAD]\n[UNK]\n")) else {
            Issue.record("expected .badVocabulary"); return
        }
        var dup = synthetic
        dup.itemIDs[7] = dup.itemIDs[3]
        guard case .badItemIDs? = loadError(try dup.write()) else { Issue.record("expected .badItemIDs"); return }
    }

    @Test func missingFolder() {
        guard case let .cannotRead(file, _)? = loadError("/nonexistent/fuserank") else { Issue.record("expected .cannotRead"); return }
        #expect(file == "/nonexistent/fuserank/config.json")
    }

    @Test func errorsDescribeFileAndTensor() {
        let e = BundleError.wrongShape(file: "m/weights.safetensors", tensor: "layers.0.q.weight", expected: [4, 4], actual: [4, 5])
        #expect(e.description == "m/weights.safetensors: tensor layers.0.q.weight has shape [4, 5], expected [4, 4]")
    }
}
