/// Whether index a ranks before index b: higher score first, equal scores by ascending index.
/// NaN ranks last.
@inline(__always)
func ranksBefore(_ a: Int32, _ b: Int32, _ scores: UnsafePointer<Float>) -> Bool {
    let sa = scores[Int(a)], sb = scores[Int(b)]
    let ka = sa.isNaN ? -Float.infinity : sa
    let kb = sb.isNaN ? -Float.infinity : sb
    return ka > kb || (ka == kb && a < b)
}

/// The best `k` of the indices in `order[0..<count]` under ``ranksBefore(_:_:_:)``, best first.
///
/// Partial selection: a heap of the k best seen so far (worst on top), then a sort of those k.
/// `k == 0` or `k >= count` sorts everything. Reorders `order` in place.
/// - Parameters:
///   - order: (count,) indices into `scores`; scratch, reordered.
///   - scores: the scores the indices refer to.
/// - Returns: the selected indices, best first.
func selectTop(_ order: UnsafeMutablePointer<Int32>, count: Int, k: Int, scores: UnsafePointer<Float>) -> [Int32] {
    if k == 0 || k >= count {
        var all = UnsafeMutableBufferPointer(start: order, count: count)
        all.sort { ranksBefore($0, $1, scores) }
        return Array(all)
    }
    // Max-heap by "worse": the root is the worst of the k kept.
    func worse(_ a: Int32, _ b: Int32) -> Bool { ranksBefore(b, a, scores) }
    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var w = i
            if l < k && worse(order[l], order[w]) { w = l }
            if r < k && worse(order[r], order[w]) { w = r }
            if w == i { return }
            order.swapAt(i, w)
            i = w
        }
    }
    for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i) }
    for j in k..<count where ranksBefore(order[j], order[0], scores) {
        order[0] = order[j]
        siftDown(0)
    }
    var kept = UnsafeMutableBufferPointer(start: order, count: k)
    kept.sort { ranksBefore($0, $1, scores) }
    return Array(kept)
}

extension UnsafeMutablePointer where Pointee == Int32 {
    @inline(__always)
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
