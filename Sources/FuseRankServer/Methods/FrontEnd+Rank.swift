import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `Rank`'s run stage: validates the request with the admitted model and queues it for a
    /// worker, whose reply (``RankReply``) comes back through ``ReplyQueue``. Throws (an
    /// immediate error reply) when the request cannot run.
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - model: the admitted model version.
    ///   - call: the call (socket, envelope, header; `received` starts the deadline).
    func queueRank(_ request: RankRequest, model: ServedModel, call: MethodCall) throws -> MethodOutcome {
        let bundle = try model.recommender()
        let query = try ValidatedQuery(wire: request, bundle: bundle, defaultCatalogueTopK: configuration.defaultCatalogueTopK)
        let job = RankJob(
            socket: call.incoming.socket, envelope: call.incoming.envelope, requestID: call.requestID, model: model,
            bundle: bundle, query: query, deadline: deadline(of: call), received: call.info.received ?? .now)
        return try enqueue { queue.push(job) }
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
    /// - Throws: ``InputError`` for the first offending field; ``RequestError`` for an objective the
    ///   model cannot answer.
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
        var query = RankQuery(
            events: request.events.map {
                BehaviourEvent(itemID: $0.itemID, type: $0.type.rawValue, timestampMs: $0.timestampMs, dwellMs: $0.dwellMs)
            },
            textTokens: tokens, images: request.images.map(\.values), candidates: request.candidates,
            topK: topK, excludeSeen: request.excludeSeen, nowMs: request.nowMs, sessionID: request.sessionID,
            excludeItems: request.excludeItems, restrictTo: request.restrictTo, explainEvents: Int(request.explainEvents))
        query.objective = try request.rankObjective(for: bundle)
        self = try bundle.validate(query)
    }
}

extension RankReply {
    /// The wire reply of a model result.
    /// - Parameters:
    ///   - result: what the ranker returned.
    ///   - model: the model version that computed it (its name and version go into the reply).
    init(result: RankResult, model: ServedModel) {
        self.init(
            items: result.items.map {
                FuseRankWire.ScoredItem(
                    itemID: $0.itemID, score: $0.score,
                    reasons: $0.reasons.map { FuseRankWire.EventContribution(eventIndex: UInt32($0.eventIndex), weight: $0.weight) })
            },
            model: model.name, modelVersion: model.version,
            unknownCandidates: result.unknownCandidates, unavailableCandidates: result.unavailableCandidates)
    }
}

extension RankRequest {
    /// The engine's objective for `RankRequest.objective`.
    /// - Throws: ``RequestError`` INVALID_ARGUMENT for an unknown value, FAILED_PRECONDITION for
    ///   `OBJECTIVE_PURCHASE` on a model without a purchase head.
    func rankObjective(for bundle: ModelBundle) throws -> RankObjective {
        switch objective {
        case .nextItem:
            return .nextItem
        case .purchase:
            guard bundle.hasPurchaseHead else {
                throw RequestError(code: .failedPrecondition,
                                   message: ObjectiveError.noPurchaseHead(model: bundle.config.name).description)
            }
            return .purchase
        default:
            throw RequestError.invalidArgument(
                "objective is \(objective.rawValue); this server knows OBJECTIVE_NEXT_ITEM (0) and OBJECTIVE_PURCHASE (1)")
        }
    }
}
