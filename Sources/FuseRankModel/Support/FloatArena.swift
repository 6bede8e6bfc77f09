/// One zeroed allocation of Float buffers, handed out in order: the scratch of a forward pass
/// (``RunState``, ``ForecastState``), allocated once so the pass itself never allocates.
struct FloatArena {
    /// The allocation; its owner deallocates it.
    let base: UnsafeMutablePointer<Float>
    private let sizes: [Int]
    private var cursor: UnsafeMutablePointer<Float>
    private var next = 0

    /// Allocates (and zeroes) room for buffers of `sizes` floats.
    init(sizes: [Int]) {
        let total = sizes.reduce(0, +)
        base = .allocate(capacity: total)
        base.initialize(repeating: 0, count: total)
        self.sizes = sizes
        cursor = base
    }

    /// The next buffer, of the next size.
    mutating func carve() -> UnsafeMutablePointer<Float> {
        precondition(next < sizes.count, "more buffers carved than sizes given")
        defer { cursor += sizes[next]; next += 1 }
        return cursor
    }
}
