/// Hyperparameters of a model bundle, read from `config.json` (snake_case keys in the file).
///
/// The file format is written down in `docs/model-format.md`. Unknown keys are ignored; a missing
/// key (other than the optional `exclude_seen`) fails decoding and an out-of-range value fails
/// ``validationProblem()``.
public struct ModelConfig: Sendable, Codable, Equatable {
    /// The `format` value every bundle carries.
    public static let formatName = "fuserank-bundle"
    /// The `format_version` values this library reads: 1, 2 (behaviour tokens scale the item
    /// embedding by `sqrt(d_model)`, `[RANK]` adds `rank_pos_emb[E]`, E = kept events, and the
    /// read-out adds the newest behaviour token's state to `[RANK]`'s), and 3 (format 2 plus the
    /// repeat head: a learned score bonus for the items a request has already seen).
    public static let supportedFormatVersions = 1...3
    /// The newest format version, the default for configurations built in code.
    public static let latestFormatVersion = 2

    /// This bundle's format version (one of ``supportedFormatVersions``).
    public var formatVersion: Int
    /// The name requests select the model by.
    public var name: String
    /// Free-text version, echoed to clients.
    public var version: String
    /// Width of every token.
    public var dModel: Int
    /// Attention heads; `dModel % nHeads == 0`.
    public var nHeads: Int
    /// Encoder blocks.
    public var nLayers: Int
    /// Feed-forward hidden width.
    public var dFF: Int
    /// Behaviour tokens kept (the newest).
    public var maxEvents: Int
    /// Text tokens kept (the first).
    public var maxTextTokens: Int
    /// Image tokens kept (the first).
    public var maxImages: Int
    /// Length of one image embedding; 0 = the model takes no images.
    public var imageDim: Int
    /// Rows of the item table, rows 0 (padding) and 1 (UNK) included.
    public var numItems: Int
    /// Event type values `0 ..< numEventTypes`.
    public var numEventTypes: Int
    /// Lines of `vocab.txt`.
    public var textVocabSize: Int
    /// Time-gap buckets; at least 3.
    public var numTimeBuckets: Int
    /// LayerNorm epsilon.
    public var layerNormEps: Float
    /// The model was trained with each prediction's seen items left out of its softmax, so it
    /// scores them meaninglessly: catalogue ranking leaves a request's seen items out whatever
    /// the request's own `exclude_seen` says. Optional key `exclude_seen`, default false.
    public var excludeSeen: Bool
    /// Length of the content vector a client sends with an item's content (`UpsertItems`); with
    /// `content.safetensors` (docs/model-format.md "Content projection"). Optional key
    /// `content_dim`, default 0.
    public var contentDim: Int = 0
    /// How clients make the content vector (free text). Optional key `content_vector`.
    public var contentVector: String = ""

    /// Creates a configuration from its values (tests and synthetic bundles).
    public init(
        name: String, version: String, dModel: Int, nHeads: Int, nLayers: Int, dFF: Int,
        maxEvents: Int, maxTextTokens: Int, maxImages: Int, imageDim: Int, numItems: Int,
        numEventTypes: Int, textVocabSize: Int, numTimeBuckets: Int, layerNormEps: Float,
        formatVersion: Int = ModelConfig.latestFormatVersion, excludeSeen: Bool = false
    ) {
        self.formatVersion = formatVersion
        self.name = name
        self.version = version
        self.dModel = dModel
        self.nHeads = nHeads
        self.nLayers = nLayers
        self.dFF = dFF
        self.maxEvents = maxEvents
        self.maxTextTokens = maxTextTokens
        self.maxImages = maxImages
        self.imageDim = imageDim
        self.numItems = numItems
        self.numEventTypes = numEventTypes
        self.textVocabSize = textVocabSize
        self.numTimeBuckets = numTimeBuckets
        self.layerNormEps = layerNormEps
        self.excludeSeen = excludeSeen
    }

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case name, version
        case dModel = "d_model"
        case nHeads = "n_heads"
        case nLayers = "n_layers"
        case dFF = "d_ff"
        case maxEvents = "max_events"
        case maxTextTokens = "max_text_tokens"
        case maxImages = "max_images"
        case imageDim = "image_dim"
        case numItems = "num_items"
        case numEventTypes = "num_event_types"
        case textVocabSize = "text_vocab_size"
        case numTimeBuckets = "num_time_buckets"
        case layerNormEps = "layer_norm_eps"
        case excludeSeen = "exclude_seen"
        case contentDim = "content_dim"
        case contentVector = "content_vector"
    }

    /// Decodes `config.json`, checking `format` (the `format_version` range is checked by
    /// ``validationProblem()`` with every other value).
    /// - Throws: `DecodingError` for a missing key, a wrong type or a wrong format.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.formatName else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c, debugDescription: "format is \"\(format)\", expected \"\(Self.formatName)\"")
        }
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)  // range: validationProblem()
        name = try c.decode(String.self, forKey: .name)
        version = try c.decode(String.self, forKey: .version)
        dModel = try c.decode(Int.self, forKey: .dModel)
        nHeads = try c.decode(Int.self, forKey: .nHeads)
        nLayers = try c.decode(Int.self, forKey: .nLayers)
        dFF = try c.decode(Int.self, forKey: .dFF)
        maxEvents = try c.decode(Int.self, forKey: .maxEvents)
        maxTextTokens = try c.decode(Int.self, forKey: .maxTextTokens)
        maxImages = try c.decode(Int.self, forKey: .maxImages)
        imageDim = try c.decode(Int.self, forKey: .imageDim)
        numItems = try c.decode(Int.self, forKey: .numItems)
        numEventTypes = try c.decode(Int.self, forKey: .numEventTypes)
        textVocabSize = try c.decode(Int.self, forKey: .textVocabSize)
        numTimeBuckets = try c.decode(Int.self, forKey: .numTimeBuckets)
        layerNormEps = try c.decode(Float.self, forKey: .layerNormEps)
        excludeSeen = try c.decodeIfPresent(Bool.self, forKey: .excludeSeen) ?? false
        contentDim = try c.decodeIfPresent(Int.self, forKey: .contentDim) ?? 0
        contentVector = try c.decodeIfPresent(String.self, forKey: .contentVector) ?? ""
    }

    /// Encodes the complete `config.json`, `format` and `format_version` included.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatName, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(name, forKey: .name)
        try c.encode(version, forKey: .version)
        try c.encode(dModel, forKey: .dModel)
        try c.encode(nHeads, forKey: .nHeads)
        try c.encode(nLayers, forKey: .nLayers)
        try c.encode(dFF, forKey: .dFF)
        try c.encode(maxEvents, forKey: .maxEvents)
        try c.encode(maxTextTokens, forKey: .maxTextTokens)
        try c.encode(maxImages, forKey: .maxImages)
        try c.encode(imageDim, forKey: .imageDim)
        try c.encode(numItems, forKey: .numItems)
        try c.encode(numEventTypes, forKey: .numEventTypes)
        try c.encode(textVocabSize, forKey: .textVocabSize)
        try c.encode(numTimeBuckets, forKey: .numTimeBuckets)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        if excludeSeen { try c.encode(true, forKey: .excludeSeen) }  // absent = false, as older bundles
        if contentDim != 0 { try c.encode(contentDim, forKey: .contentDim) }
        if !contentVector.isEmpty { try c.encode(contentVector, forKey: .contentVector) }
    }

    /// The longest token sequence of one request: every kept event, text token and image, plus `[RANK]`.
    public var maxSequenceLength: Int { maxEvents + maxTextTokens + maxImages + 1 }

    /// Whether `[RANK]` carries a position (`rank_pos_emb`, format_version 2 and later).
    public var hasRankPosition: Bool { formatVersion >= 2 }

    /// Whether seen items get the repeat head's score bonus (format_version 3).
    public var hasRepeatHead: Bool { formatVersion >= 3 }

    /// Whether the user vector also reads the newest behaviour token's state (format_version 2 and later).
    public var readsNewestEvent: Bool { formatVersion >= 2 }

    /// The factor of the item embedding in a behaviour token: `sqrt(d_model)` from format_version 2, else 1.
    public var itemInputScale: Float { formatVersion >= 2 ? Float(dModel).squareRoot() : 1 }

    /// Width of one attention head.
    public var dHead: Int { dModel / nHeads }

    /// The first out-of-range value, described, or `nil` when every value is usable.
    public func validationProblem() -> String? {
        let limit = 1 << 24  // generous; keeps every size product far from overflow
        func check(_ value: Int, _ key: String, _ range: ClosedRange<Int>) -> String? {
            range.contains(value) ? nil : "\(key) is \(value), expected \(range.lowerBound)...\(range.upperBound)"
        }
        let checks: [String?] = [
            Self.supportedFormatVersions.contains(formatVersion)
                ? nil : "format_version is \(formatVersion), expected \(Self.supportedFormatVersions.lowerBound)...\(Self.supportedFormatVersions.upperBound)",
            name.isEmpty ? "name is empty" : nil,
            check(dModel, "d_model", 1...65_536),
            check(nHeads, "n_heads", 1...dModel.clamped(1, 65_536)),
            dModel % max(nHeads, 1) == 0 ? nil : "d_model \(dModel) is not a multiple of n_heads \(nHeads)",
            check(nLayers, "n_layers", 1...1_024),
            check(dFF, "d_ff", 1...262_144),
            check(maxEvents, "max_events", 1...65_536),
            check(maxTextTokens, "max_text_tokens", 0...65_536),
            check(maxImages, "max_images", 0...65_536),
            check(imageDim, "image_dim", 0...65_536),
            check(numItems, "num_items", 2...limit),
            check(numEventTypes, "num_event_types", 1...(hasRepeatHead ? 64 : 65_536)),  // repeat head: a 64-bit type set
            check(textVocabSize, "text_vocab_size", 2...limit),
            check(numTimeBuckets, "num_time_buckets", 3...65_536),
            check(contentDim, "content_dim", 0...65_536),
            layerNormEps.isFinite && layerNormEps > 0 ? nil : "layer_norm_eps is \(layerNormEps), expected > 0",
        ]
        return checks.lazy.compactMap { $0 }.first
    }
}

extension Int {
    fileprivate func clamped(_ lo: Int, _ hi: Int) -> Int { Swift.min(Swift.max(self, lo), hi) }
}
