import CFuseRankProto

/// One byte to point at when decoding an empty input, so protobuf-c never sees a null pointer.
private let emptyInput: [UInt8] = [0]

/// Packs a filled protobuf-c message into bytes.
/// - Parameters:
///   - message: the C message, valid for the duration of the call.
///   - size: the generated `*__get_packed_size`.
///   - pack: the generated `*__pack`.
/// - Returns: the encoded bytes.
func packed<C>(
    _ message: inout C,
    size: (UnsafePointer<C>?) -> Int,
    pack: (UnsafePointer<C>?, UnsafeMutablePointer<UInt8>?) -> Int
) -> [UInt8] {
    withUnsafePointer(to: &message) { pointer in
        let count = size(pointer)
        if count == 0 { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let written = pack(pointer, buffer.baseAddress)
            precondition(written == count, "protobuf-c packed \(written) bytes, sized \(count)")
            initialized = written
        }
    }
}

/// Unpacks bytes with protobuf-c, converts the C message to a Swift value, and frees the C message.
///
/// protobuf-c allocates through `fuserank_wire_allocator()`, which counts live blocks per thread.
/// - Parameters:
///   - bytes: one whole encoded message.
///   - name: the protobuf message name, for the error.
///   - unpack: the generated `*__unpack`.
///   - free: the generated `*__free_unpacked`.
///   - convert: copies what it needs out of the C message; the pointer is invalid afterwards.
/// - Returns: the converted value.
/// - Throws: ``WireError/undecodable(messageType:byteCount:)`` when protobuf-c rejects the bytes.
func unpacked<C, R>(
    _ bytes: [UInt8],
    name: String,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<C>?,
    free: (UnsafeMutablePointer<C>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
    convert: (UnsafeMutablePointer<C>) -> R
) throws(WireError) -> R {
    let message: UnsafeMutablePointer<C>? =
        if bytes.isEmpty {
            emptyInput.withUnsafeBufferPointer { unpack(fuserank_wire_allocator(), 0, $0.baseAddress) }
        } else {
            bytes.withUnsafeBufferPointer { unpack(fuserank_wire_allocator(), $0.count, $0.baseAddress) }
        }
    guard let message else {
        throw WireError.undecodable(messageType: name, byteCount: bytes.count)
    }
    defer { free(message, fuserank_wire_allocator()) }
    return convert(message)
}

/// A Swift string from a protobuf-c string field (NULL reads as empty).
func swiftString(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// A Swift array from a protobuf-c repeated scalar field.
func swiftArray<T>(_ pointer: UnsafePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// Swift values from a protobuf-c repeated message field (`T **`).
func swiftMessages<T, R>(
    _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int,
    _ convert: (T) -> R
) -> [R] {
    guard let pointers, count > 0 else { return [] }
    var result: [R] = []
    result.reserveCapacity(count)
    for index in 0..<count {
        if let element = pointers[index] { result.append(convert(element.pointee)) }
    }
    return result
}

/// The `protobuf_c_boolean` for a Swift Bool.
func cBool(_ value: Bool) -> protobuf_c_boolean { value ? 1 : 0 }
