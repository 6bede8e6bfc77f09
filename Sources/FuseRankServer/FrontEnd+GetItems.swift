import FuseRankModel
import FuseRankWire

extension FrontEnd {
    /// `GetItems`: the titles and categories of items from the model's `items.tsv`, one entry per
    /// requested id (unknown ids: `known` false); UNAVAILABLE while draining.
    /// - Parameter body: the request frame.
    /// - Returns: the encoded `GetItemsReply`.
    func getItems(_ body: [UInt8]) throws -> [UInt8] {
        try refuseWhileDraining()
        let request = try GetItemsRequest(bytes: body)
        let bundle = try bundle(named: request.model)
        return GetItemsReply(items: request.itemIDs.map { id in
            bundle.items[id].map { ItemMetadata(itemID: id, known: true, title: $0.title, category: $0.category) }
                ?? ItemMetadata(itemID: id)
        }).encode()
    }
}
