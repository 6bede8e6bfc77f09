import FuseRankModel
import FuseRankWire

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
