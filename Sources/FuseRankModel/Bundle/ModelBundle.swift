import Foundation

/// A loaded model bundle: immutable, weights memory-mapped, shared by every worker thread.
public final class ModelBundle: Sendable {
    /// The bundle folder.
    public let path: String
    /// Unique to this load of a bundle in this process (caches keyed by model use it: a reloaded
    /// bundle never reuses another load's states).
    public let loadID: UInt64 = ModelBundle.nextLoadID()
    /// The hyperparameters from `config.json`.
    public let config: ModelConfig
    /// The text vocabulary from `vocab.txt`.
    public let vocabulary: Vocabulary
    /// The tensors of `weights.safetensors`, viewed in the map.
    let weights: ModelWeights
    /// External item id -> catalogue row (rows >= 2 only).
    let rowOfItem: [Int64: Int32]
    /// Titles, categories and the shop's ids from the optional `items.tsv`, by external item id.
    public let items: [Int64: ItemInfo]
    /// The int8 catalogue, built on first use.
    private let quantized = LazyQuantizedCatalogue()
    /// The purchase head from the optional `purchase.safetensors`; nil when the bundle has none.
    let purchase: PurchaseWeights?
    /// The content projection from the optional `content.safetensors`; nil when the bundle has none.
    let content: ContentProjection?
    /// The demand forecaster from the optional `forecaster.json` and `forecaster.safetensors`;
    /// nil when the bundle has none.
    public let forecaster: ForecasterBundle?
    /// The other members and the weights of a fused bundle, from the optional `fusion.json`;
    /// nil for a single model.
    public let fusion: Fusion?

    /// Loads and validates the bundle folder at `path`.
    /// - Parameter path: a folder holding `config.json`, `weights.safetensors` and `vocab.txt`.
    /// - Throws: ``BundleError`` naming the file (and the tensor) that is wrong.
    public init(path: String) throws {
        self.path = path
        let configPath = (path as NSString).appendingPathComponent("config.json")
        let vocabPath = (path as NSString).appendingPathComponent("vocab.txt")
        let weightsPath = (path as NSString).appendingPathComponent("weights.safetensors")

        let config = try Self.loadConfig(configPath)
        self.config = config
        self.vocabulary = try Self.loadVocabulary(vocabPath, size: config.textVocabSize)
        let st = try SafetensorsFile(path: weightsPath)
        let weights = try ModelWeights(file: st, config: config, path: weightsPath)
        self.weights = weights

        var rows: [Int64: Int32] = [:]
        rows.reserveCapacity(config.numItems)
        for row in 2..<config.numItems {
            let id = weights.itemIDs[row]
            guard id > 0 else {
                throw BundleError.badItemIDs(file: weightsPath, reason: "row \(row) holds id \(id); catalogue ids must be > 0")
            }
            if let first = rows.updateValue(Int32(row), forKey: id) {
                throw BundleError.badItemIDs(file: weightsPath, reason: "id \(id) appears in rows \(first) and \(row)")
            }
        }
        rowOfItem = rows
        items = try Self.loadItems((path as NSString).appendingPathComponent("items.tsv"), catalogue: rows)
        purchase = try PurchaseWeights.load(bundlePath: path, config: config)
        content = try ContentProjection.load(bundlePath: path, config: config)
        forecaster = try ForecasterBundle.load(bundlePath: path)
        fusion = try Fusion.load(bundlePath: path, config: config, itemIDs: weights.itemIDs, vocabulary: vocabulary)
        if fusion != nil, let part = Fusion.onlyInSingleModels(self) {
            throw BundleError.badFusion(file: (path as NSString).appendingPathComponent(Fusion.fileName),
                                        reason: "the bundle has \(part), which a fused bundle cannot hold")
        }
    }

    /// The width of the user vectors of ``Ranker/userVectors(_:)``: `d_model`, or for a fused
    /// bundle the members' `d_model`s side by side (the bundle's own first).
    public var userDimension: Int { config.dModel + (fusion?.members.reduce(0) { $0 + $1.config.dModel } ?? 0) }

    /// Whether the bundle carries item titles.
    public var hasTitles: Bool { !items.isEmpty }

    /// The catalogue in int8 (``CatalogueScoring/int8``), built on first use (thread-safe) and
    /// kept for the bundle's life.
    public var quantizedCatalogue: QuantizedCatalogue { quantized.get { QuantizedCatalogue(bundle: self) } }

    /// A copy of one F32 tensor of `weights.safetensors` by its name (docs/model-format.md), for
    /// tools that build bundles from bundles; nil when the bundle has no such F32 tensor.
    /// - Throws: ``BundleError`` when the file no longer reads.
    public func floatTensor(named name: String) throws -> [Float]? {
        let file = try SafetensorsFile(path: (path as NSString).appendingPathComponent("weights.safetensors"))
        guard let entry = file.entries[name], entry.dtype == .f32 else { return nil }
        return Array(file.floats(entry))
    }

    /// Whether the bundle answers `OBJECTIVE_PURCHASE` (it has `purchase.safetensors`).
    public var hasPurchaseHead: Bool { purchase != nil }

    /// Items that can be ranked: `num_items - 2`.
    public var catalogueSize: Int { config.numItems - 2 }

    /// The external item ids of the catalogue, in row order (rows 2 ..< num_items).
    public var catalogueItemIDs: [Int64] { Array(weights.itemIDs[2...]) }

    /// The catalogue row of an external item id, or nil for an unknown id.
    public func row(ofItem id: Int64) -> Int? { rowOfItem[id].map(Int.init) }

    /// Checks a query against the model (event types, text ids, images, top_k, explain_events).
    /// - Parameter query: the decoded request.
    /// - Returns: the query, now accepted by this bundle's rankers.
    /// - Throws: ``InputError`` for the first offending field.
    @discardableResult
    public func validate(_ query: RankQuery) throws -> ValidatedQuery {
        if query.topK < 0 { throw InputError.negativeTopK(query.topK) }
        if !query.restrictTo.isEmpty && !query.candidates.isEmpty { throw InputError.restrictWithCandidates }
        if !(0...RankQuery.maxExplainEvents).contains(query.explainEvents) {
            throw InputError.explainEvents(query.explainEvents, limit: RankQuery.maxExplainEvents)
        }
        if let fusion, query.explainEvents > 0 { throw InputError.explainFused(members: fusion.weights.count) }
        for (i, e) in query.events.enumerated() where e.type < 0 || Int(e.type) >= config.numEventTypes {
            throw InputError.eventType(index: i, type: e.type, limit: config.numEventTypes)
        }
        for (i, t) in query.textTokens.enumerated() where t < 0 || Int(t) >= config.textVocabSize {
            throw InputError.textToken(index: i, id: Int64(t), vocabSize: config.textVocabSize)
        }
        if config.imageDim == 0 {
            if !query.images.isEmpty { throw InputError.imagesNotAccepted(count: query.images.count) }
        } else {
            for (i, image) in query.images.enumerated() {
                guard image.count == config.imageDim else {
                    throw InputError.imageLength(index: i, count: image.count, expected: config.imageDim)
                }
                if let j = image.firstIndex(where: { !$0.isFinite }) {
                    throw InputError.imageValue(index: i, position: j)
                }
            }
        }
        return ValidatedQuery(query, bundle: self)
    }

    /// Reads and decodes a JSON file of a bundle.
    /// - Parameters:
    ///   - path: the file.
    ///   - malformed: the error for JSON that does not decode, from its reason.
    /// - Throws: ``BundleError/cannotRead(file:reason:)``, or `malformed`'s error.
    static func decodeJSON<T: Decodable>(_ type: T.Type, at path: String, malformed: (String) -> BundleError) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BundleError.cannotRead(file: path, reason: error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw malformed(describe(error))
        } catch {
            throw malformed("not valid JSON")
        }
    }

    private static func loadConfig(_ path: String) throws -> ModelConfig {
        let config = try decodeJSON(ModelConfig.self, at: path) { BundleError.badConfig(file: path, reason: $0) }
        if let problem = config.validationProblem() {
            throw BundleError.badConfig(file: path, reason: problem)
        }
        return config
    }

    private static func loadVocabulary(_ path: String, size: Int) throws -> Vocabulary {
        let lines = try textLines(path) { BundleError.badVocabulary(file: path, reason: $0) }.map(String.init)
        guard lines.count == size else {
            throw BundleError.badVocabulary(file: path, reason: "\(lines.count) lines, config text_vocab_size is \(size)")
        }
        var seen = Set<String>()
        for (i, line) in lines.enumerated() where !seen.insert(line).inserted {
            throw BundleError.badVocabulary(file: path, reason: "line \(i) repeats the token \"\(line)\"")
        }
        return Vocabulary(tokens: lines)
    }

    /// The lines of a UTF-8 text file of the bundle (`\n` or `\r\n` ends; a final line end adds
    /// no empty line).
    /// - Parameters:
    ///   - path: the file.
    ///   - malformed: the error for a file that is not UTF-8, from its reason.
    /// - Throws: ``BundleError/cannotRead(file:reason:)``, or `malformed`'s error.
    static func textLines(_ path: String, malformed: (String) -> BundleError) throws -> [Substring] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BundleError.cannotRead(file: path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw malformed("not UTF-8") }
        // "\r\n" is one Character in Swift: both line ends split.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, _):
            return "missing key \(key.stringValue)"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "key \(key) has the wrong type"
        case let .dataCorrupted(context):
            return context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }
}

extension ModelBundle {
    private static let loadCounter = LoadCounter()

    fileprivate static func nextLoadID() -> UInt64 { loadCounter.next() }
}

// @unchecked Sendable: `value` is read and written only while `lock` is held.
private final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// Builds a ``QuantizedCatalogue`` once, on first use, from any thread.
// @unchecked Sendable: `value` is read and written only while `lock` is held.
private final class LazyQuantizedCatalogue: @unchecked Sendable {
    private let lock = NSLock()
    private var value: QuantizedCatalogue?

    func get(_ make: () -> QuantizedCatalogue) -> QuantizedCatalogue {
        lock.lock()
        defer { lock.unlock() }
        if let value { return value }
        let made = make()
        value = made
        return made
    }
}
