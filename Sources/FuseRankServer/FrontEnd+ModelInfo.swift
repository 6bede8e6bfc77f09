import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetModelInfo`: what a model takes and returns; UNAVAILABLE while draining. A
    /// forecaster-only bundle answers its name, version, `is_default` and `has_titles`, every
    /// recommender field 0.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - info: the call's metric labels (the model is set once found).
    /// - Returns: the encoded `ModelInfo`.
    func modelInfo(_ body: [UInt8], info: inout CallInfo) throws -> [UInt8] {
        try refuseWhileDraining()
        let request = try ModelInfoRequest(bytes: body)
        let model = try servedModel(named: request.model)
        info.model = model.name
        guard let bundle = model.bundle else {
            return ModelInfo(
                name: model.name, version: model.version, isDefault: model.name == models.defaultModelName,
                hasTitles: !model.contents.items.isEmpty
            ).encode()
        }
        let c = bundle.config
        var reply = ModelInfo(
            name: model.name, version: model.version, imageDim: UInt32(c.imageDim), textVocabSize: UInt32(c.textVocabSize),
            numItems: UInt32(bundle.catalogueSize), maxEvents: UInt32(c.maxEvents), maxTextTokens: UInt32(c.maxTextTokens),
            maxImages: UInt32(c.maxImages), dModel: UInt32(c.dModel), nLayers: UInt32(c.nLayers),
            isDefault: model.name == models.defaultModelName, hasTitles: bundle.hasTitles)
        reply.hasContentProjection = bundle.hasContentProjection
        reply.contentDim = UInt32(c.contentDim)
        reply.contentVector = c.contentVector
        return reply.encode()
    }
}
