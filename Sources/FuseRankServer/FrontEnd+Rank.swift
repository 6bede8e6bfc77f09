import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `Rank`: decodes and validates the request and queues it for a worker, whose reply comes
    /// back through ``ReplyQueue``. Throws (an immediate error reply) when the request cannot run.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - call: the call, for its socket and envelope.
    ///   - header: its header (request id, deadline).
    ///   - received: when the front thread read it; the deadline counts from here.
    func rank(_ body: [UInt8], call: IncomingCall, header: RequestHeader, received: ContinuousClock.Instant) throws {
        try refuseWhileDraining()
        let request = try RankRequest(bytes: body)
        let bundle = try bundle(named: request.model)
        let query = try ValidatedQuery(wire: request, bundle: bundle, defaultCatalogueTopK: configuration.defaultCatalogueTopK)
        let timeoutMs = header.timeoutMs == 0 ? configuration.defaultTimeoutMs : header.timeoutMs
        let job = RankJob(
            socket: call.socket, envelope: call.envelope, requestID: header.requestID, bundle: bundle, query: query,
            deadline: received + .milliseconds(Int64(timeoutMs)))
        guard queue.push(job) else {
            throw RequestError(
                code: .unavailable,
                message: "the server is overloaded: \(queue.capacity) requests are already queued; retry with backoff")
        }
    }
}

// The server boundary of a Rank call, both directions: wire request -> validated model query,
// model result -> wire reply.

extension ValidatedQuery {
    /// The model query of a wire request, validated by the bundle it selected.
    ///
    /// `query` is tokenized with the bundle's vocabulary and appended after `text_tokens`;
    /// `top_k` 0 with no candidates becomes `defaultCatalogueTopK`.
    /// - Parameters:
    ///   - request: the decoded `RankRequest`.
    ///   - bundle: the model the request selected.
    ///   - defaultCatalogueTopK: `top_k` for a whole-catalogue request that asks for 0.
    /// - Throws: ``InputError`` for the first offending field.
    init(wire request: RankRequest, bundle: ModelBundle, defaultCatalogueTopK: Int) throws {
        var tokens: [Int32] = []
        tokens.reserveCapacity(request.textTokens.count)
        for (index, token) in request.textTokens.enumerated() {
            guard let id = Int32(exactly: token) else {
                throw InputError.textToken(index: index, id: Int64(token), vocabSize: bundle.config.textVocabSize)
            }
            tokens.append(id)
        }
        if !request.query.isEmpty { tokens += bundle.vocabulary.tokenize(request.query) }
        // top_k 0 over the catalogue (or a restrict_to list) is the server default; over candidates, all.
        let topK = (request.topK == 0 && request.candidates.isEmpty) ? defaultCatalogueTopK : Int(request.topK)
        self = try bundle.validate(
            RankQuery(
                events: request.events.map {
                    BehaviourEvent(itemID: $0.itemID, type: $0.type.rawValue, timestampMs: $0.timestampMs, dwellMs: $0.dwellMs)
                },
                textTokens: tokens, images: request.images.map(\.values), candidates: request.candidates,
                topK: topK, excludeSeen: request.excludeSeen, nowMs: request.nowMs, sessionID: request.sessionID,
                excludeItems: request.excludeItems, restrictTo: request.restrictTo, explainEvents: Int(request.explainEvents)))
    }
}

extension RankReply {
    /// The wire reply of a model result.
    /// - Parameters:
    ///   - result: what the ranker returned.
    ///   - bundle: the model that computed it (its name and version go into the reply).
    init(result: RankResult, bundle: ModelBundle) {
        self.init(
            items: result.items.map {
                FuseRankWire.ScoredItem(
                    itemID: $0.itemID, score: $0.score,
                    reasons: $0.reasons.map { FuseRankWire.EventContribution(eventIndex: UInt32($0.eventIndex), weight: $0.weight) })
            },
            model: bundle.config.name, modelVersion: bundle.config.version,
            unknownCandidates: result.unknownCandidates)
    }
}
