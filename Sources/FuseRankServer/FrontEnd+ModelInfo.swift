import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetModelInfo`: what a model takes and returns; UNAVAILABLE while draining.
    /// - Parameter body: the request frame.
    /// - Returns: the encoded `ModelInfo`.
    func modelInfo(_ body: [UInt8]) throws -> [UInt8] {
        try refuseWhileDraining()
        let request = try ModelInfoRequest(bytes: body)
        let bundle = try bundle(named: request.model)
        let c = bundle.config
        return ModelInfo(
            name: c.name, version: c.version, imageDim: UInt32(c.imageDim), textVocabSize: UInt32(c.textVocabSize),
            numItems: UInt32(bundle.catalogueSize), maxEvents: UInt32(c.maxEvents), maxTextTokens: UInt32(c.maxTextTokens),
            maxImages: UInt32(c.maxImages), dModel: UInt32(c.dModel), nLayers: UInt32(c.nLayers),
            isDefault: bundle === models.defaultBundle, hasTitles: bundle.hasTitles
        ).encode()
    }
}
