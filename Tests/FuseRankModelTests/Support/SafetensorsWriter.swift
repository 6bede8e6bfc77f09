import Foundation

/// One tensor to write: name, dtype string, shape and raw little-endian bytes.
struct TensorBlob {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]

    init(name: String, floats: [Float], shape: [Int]) {
        self.name = name
        dtype = "F32"
        self.shape = shape
        bytes = floats.withUnsafeBytes { Array($0) }
    }

    init(name: String, int64s: [Int64], shape: [Int]) {
        self.name = name
        dtype = "I64"
        self.shape = shape
        bytes = int64s.withUnsafeBytes { Array($0) }
    }
}

/// Writes safetensors files for tests, with hooks to break them on purpose.
enum SafetensorsWriter {
    /// The header object for `tensors` laid out back to back in order.
    static func header(_ tensors: [TensorBlob]) -> [String: Any] {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for t in tensors {
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        return header
    }

    /// The file bytes: `[u64 LE N][N bytes JSON padded with spaces to 8][data]`.
    static func bytes(header: [String: Any], data: [UInt8]) -> [UInt8] {
        let json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        return bytes(headerJSON: Array(json), data: data)
    }

    /// The file bytes for a literal header text.
    static func bytes(headerJSON: [UInt8], data: [UInt8]) -> [UInt8] {
        var json = headerJSON
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out += json
        out += data
        return out
    }

    /// Writes `tensors`, letting `edit` change the header object first.
    static func write(_ tensors: [TensorBlob], to path: String, edit: (inout [String: Any]) -> Void = { _ in }) throws {
        var h = header(tensors)
        edit(&h)
        let data = tensors.flatMap(\.bytes)
        try Data(bytes(header: h, data: data)).write(to: URL(fileURLWithPath: path))
    }
}
