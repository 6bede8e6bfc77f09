import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetItems`'s run stage: the titles, categories and shop ids of items from `UpsertItems` or the model's
    /// `items.tsv`, one entry per requested id (unknown ids: `known` false). An upsert that gave no
    /// external id keeps the one `items.tsv` has for the id (the shop's id names the item, whatever its content).
    /// A forecaster-only bundle answers from its `items.tsv` (its series ids).
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - model: the admitted model version.
    /// - Returns: the encoded `GetItemsReply`.
    func getItems(_ request: GetItemsRequest, model: ServedModel) -> [UInt8] {
        let items = model.contents.items
        let live = model.catalogue?.current.info ?? [:]  // titles given with UpsertItems first
        return GetItemsReply(items: request.itemIDs.map { id in
            guard let item = live[id] ?? items[id] else { return ItemMetadata(itemID: id) }
            let externalID = item.externalID.isEmpty ? items[id]?.externalID ?? "" : item.externalID
            return ItemMetadata(itemID: id, known: true, title: item.title, category: item.category, externalID: externalID)
        }).encode()
    }
}
