import CFuseRankProto

/// The C memory behind one protobuf-c message while it is packed: strings, arrays and nested
/// structs, all freed together by ``release()``.
///
/// Used only inside one `encode()` call (create, fill, pack, `defer { arena.release() }`), so it
/// never crosses threads. Blocks come from `fuserank_wire_alloc`, which counts them per thread
/// (see `wire_allocator.h`).
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    /// A NUL-terminated copy of `string` (the text up to any embedded NUL).
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        string.utf8CString.withUnsafeBufferPointer { source in
            let copy = allocate(CChar.self, count: source.count)
            copy.initialize(from: source.baseAddress!, count: source.count)
            return copy
        }
    }

    /// Uninitialised storage for `count` values of `T`; `count` may be 0 (returns a valid pointer).
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        guard let raw = fuserank_wire_alloc(bytes) else { fatalError("CArena: out of memory") }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A C copy of `values`, or nil when `values` is empty (protobuf-c then reads no element).
    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        if values.isEmpty { return nil }
        let pointer = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { source in
            pointer.initialize(from: source.baseAddress!, count: source.count)
        }
        return pointer
    }

    /// An array of pointers to `count` C structs, each made by `make(index, pointer)`, or nil when
    /// `count` is 0. This is how protobuf-c holds repeated message fields (`T **`).
    func messages<T>(
        _ type: T.Type, count: Int, _ make: (Int, UnsafeMutablePointer<T>) -> Void
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        if count == 0 { return nil }
        let structs = allocate(T.self, count: count)
        let pointers = allocate(UnsafeMutablePointer<T>?.self, count: count)
        for index in 0..<count {
            make(index, structs + index)
            (pointers + index).initialize(to: structs + index)
        }
        return pointers
    }

    /// Frees every block handed out (all plain data, so no deinitialisation is needed).
    func release() {
        for block in blocks { fuserank_wire_free(block) }
        blocks.removeAll()
    }
}
