import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetItems`: the titles and categories of items from `UpsertItems` or the model's `items.tsv`, one entry per
    /// requested id (unknown ids: `known` false); UNAVAILABLE while draining.
    /// - Parameters:
    ///   - body: the request frame.
    ///   - info: the call's metric labels (the model is set once found).
    /// - Returns: the encoded `GetItemsReply`.
    func getItems(_ body: [UInt8], info: inout CallInfo) throws -> [UInt8] {
        try refuseWhileDraining()
        let request = try GetItemsRequest(bytes: body)
        let model = try servedModel(named: request.model)
        info.model = model.name
        let bundle = model.bundle
        let live = model.catalogue.current.info  // titles given with UpsertItems first
        return GetItemsReply(items: request.itemIDs.map { id in
            (live[id] ?? bundle.items[id]).map { ItemMetadata(itemID: id, known: true, title: $0.title, category: $0.category) }
                ?? ItemMetadata(itemID: id)
        }).encode()
    }
}
