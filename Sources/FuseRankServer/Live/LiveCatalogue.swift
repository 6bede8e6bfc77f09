import Foundation
import FuseRankModel

/// The current ``CatalogueOverlay`` of one served model version: swapped whole under a lock by
/// the loader thread, read by every Rank batch when it starts (a batch keeps the overlay it read,
/// so ranking never waits for a change and never sees half of one).
// @unchecked Sendable: `overlay` is read and written only while `lock` is held.
public final class LiveCatalogue: @unchecked Sendable {
    private let lock = NSLock()
    private var overlay: CatalogueOverlay

    /// An empty overlay of `bundle`.
    init(bundle: ModelBundle) { overlay = CatalogueOverlay(bundle: bundle) }

    /// The overlay now.
    public var current: CatalogueOverlay { lock.withLock { overlay } }

    /// Makes `new` current for every batch that starts from now on.
    func publish(_ new: CatalogueOverlay) { lock.withLock { overlay = new } }
}
