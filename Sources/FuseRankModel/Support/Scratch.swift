/// The owner of a forward pass's scratch buffers (``RunState``, ``ForecastState``): each buffer is
/// allocated (zeroed) where its field is declared, with its own size, and all are freed together
/// when the owner goes. Allocated once, so the pass itself never allocates.
/// Not `Sendable`: it belongs to the state that owns it, on one thread.
final class Scratch {
    private var owned: [UnsafeMutableRawPointer] = []
    /// The bytes of every buffer it owns.
    private(set) var bytes = 0

    /// A zeroed buffer of `count` elements (at least one), freed with this owner.
    func buffer<T: Numeric>(_ count: Int) -> UnsafeMutablePointer<T> {
        let n = max(1, count)
        let p = UnsafeMutablePointer<T>.allocate(capacity: n)
        p.initialize(repeating: .zero, count: n)
        owned.append(UnsafeMutableRawPointer(p))
        bytes += n * MemoryLayout<T>.stride
        return p
    }

    deinit {
        for p in owned { p.deallocate() }
    }
}
