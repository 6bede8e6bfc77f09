import CFuseRankProto

/// The reply of `GetModelInfo`: what a model takes and knows.
public struct ModelInfo: WireMessage {
    public static let protoName = "fuserank.v1.ModelInfo"

    /// The model's name (what `RankRequest.model` selects).
    public var name: String
    /// The model's version.
    public var version: String
    /// Length of one image embedding; 0 = the model takes no images.
    public var imageDim: UInt32
    /// Lines of the model's vocab.txt.
    public var textVocabSize: UInt32
    /// Items in the catalogue (rankable items, padding and `[UNK]` rows excluded).
    public var numItems: UInt32
    /// Behaviour events the model keeps (the newest).
    public var maxEvents: UInt32
    /// Text tokens the model keeps (the first).
    public var maxTextTokens: UInt32
    /// Images the model keeps (the first).
    public var maxImages: UInt32
    /// Width of the model's tokens.
    public var dModel: UInt32
    /// Encoder blocks.
    public var nLayers: UInt32
    /// Whether this is the server's default model.
    public var isDefault: Bool
    /// Whether the bundle carries item titles (`GetItems` returns them).
    public var hasTitles: Bool
    /// Whether the bundle has a content projection (`UpsertItems` takes items).
    public var hasContentProjection = false
    /// Length of `ItemContent.content_vector`.
    public var contentDim: UInt32 = 0
    /// How clients make the content vector (config.json `content_vector`).
    public var contentVector = ""
    /// A fused bundle's member weights, its own first; empty for a single model.
    public var fusionWeights: [Float] = []

    public init(
        name: String = "", version: String = "", imageDim: UInt32 = 0, textVocabSize: UInt32 = 0,
        numItems: UInt32 = 0, maxEvents: UInt32 = 0, maxTextTokens: UInt32 = 0, maxImages: UInt32 = 0,
        dModel: UInt32 = 0, nLayers: UInt32 = 0, isDefault: Bool = false, hasTitles: Bool = false
    ) {
        self.name = name
        self.version = version
        self.imageDim = imageDim
        self.textVocabSize = textVocabSize
        self.numItems = numItems
        self.maxEvents = maxEvents
        self.maxTextTokens = maxTextTokens
        self.maxImages = maxImages
        self.dModel = dModel
        self.nLayers = nLayers
        self.isDefault = isDefault
        self.hasTitles = hasTitles
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ModelInfo()
        fuserank__v1__model_info__init(&c)
        c.name = arena.string(name)
        c.version = arena.string(version)
        c.image_dim = imageDim
        c.text_vocab_size = textVocabSize
        c.num_items = numItems
        c.max_events = maxEvents
        c.max_text_tokens = maxTextTokens
        c.max_images = maxImages
        c.d_model = dModel
        c.n_layers = nLayers
        c.is_default = cBool(isDefault)
        c.has_titles = cBool(hasTitles)
        c.has_content_projection = cBool(hasContentProjection)
        c.content_dim = contentDim
        c.content_vector = arena.string(contentVector)
        c.n_fusion_weights = fusionWeights.count
        c.fusion_weights = arena.array(fusionWeights)
        return packed(&c, size: fuserank__v1__model_info__get_packed_size, pack: fuserank__v1__model_info__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__model_info__unpack, free: fuserank__v1__model_info__free_unpacked
        ) { p in
            let c = p.pointee
            var info = ModelInfo(
                name: swiftString(c.name), version: swiftString(c.version), imageDim: c.image_dim,
                textVocabSize: c.text_vocab_size, numItems: c.num_items, maxEvents: c.max_events,
                maxTextTokens: c.max_text_tokens, maxImages: c.max_images, dModel: c.d_model,
                nLayers: c.n_layers, isDefault: c.is_default != 0, hasTitles: c.has_titles != 0)
            info.hasContentProjection = c.has_content_projection != 0
            info.contentDim = c.content_dim
            info.contentVector = swiftString(c.content_vector)
            info.fusionWeights = swiftArray(c.fusion_weights, c.n_fusion_weights)
            return info
        }
    }
}
