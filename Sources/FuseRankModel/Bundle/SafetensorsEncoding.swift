import Foundation

/// One tensor to serialise: name, dtype name, shape and raw little-endian bytes.
///
/// The dtype is free text, not ``TensorDType``, so that tests can write the files this library
/// must reject.
public struct SafetensorsTensor: Sendable, Equatable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// An F32 tensor.
    public init(name: String, floats: [Float], shape: [Int]) {
        self.init(name: name, dtype: TensorDType.f32.rawValue, shape: shape, bytes: floats.withUnsafeBytes { Array($0) })
    }

    /// An I64 tensor.
    public init(name: String, int64s: [Int64], shape: [Int]) {
        self.init(name: name, dtype: TensorDType.i64.rawValue, shape: shape, bytes: int64s.withUnsafeBytes { Array($0) })
    }
}

/// Serialises tensors in the safetensors layout, in memory (the caller writes the file; this
/// library does no I/O but loading): `[u64 LE N][N bytes of JSON header, space-padded to a
/// multiple of 8][data]`. Used by the benchmark's synthetic bundle and the loader tests.
public enum SafetensorsEncoding {
    /// The header object of `tensors` laid out back to back in order, plus `__metadata__` when given.
    public static func header(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:]) -> [String: Any] {
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var offset = 0
        for t in tensors {
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        return header
    }

    /// The file bytes for a header object (serialised with sorted keys) and the data section.
    public static func fileBytes(header: [String: Any], data: [UInt8]) throws -> [UInt8] {
        let json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        return fileBytes(headerJSON: Array(json), data: data)
    }

    /// The file bytes for a literal header text and the data section.
    public static func fileBytes(headerJSON: [UInt8], data: [UInt8]) -> [UInt8] {
        var json = headerJSON
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + data.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        out += data
        return out
    }

    /// The whole file for `tensors`.
    public static func encode(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:]) throws -> [UInt8] {
        try fileBytes(header: header(tensors, metadata: metadata), data: tensors.flatMap(\.bytes))
    }
}
