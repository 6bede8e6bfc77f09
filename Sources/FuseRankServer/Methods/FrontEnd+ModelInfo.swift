import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetModelInfo`'s run stage: what the admitted model takes and returns. A forecaster-only
    /// bundle answers its name, version, `is_default` and `has_titles`, every recommender field 0.
    /// - Parameter model: the admitted model version.
    /// - Returns: the encoded `ModelInfo`.
    func modelInfo(_ model: ServedModel) -> [UInt8] {
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
        reply.fusionWeights = bundle.fusion?.weights ?? []
        return reply.encode()
    }
}
