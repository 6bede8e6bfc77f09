import Foundation

/// The element type of a safetensors tensor this engine reads.
public enum TensorDType: String, Sendable, Equatable {
    /// 32-bit IEEE float, little-endian.
    case f32 = "F32"
    /// 64-bit signed integer, little-endian.
    case i64 = "I64"

    /// Bytes per element.
    var size: Int { self == .f32 ? 4 : 8 }
}

/// One tensor entry of a safetensors header, validated against the file.
struct TensorEntry: Sendable, Equatable {
    var name: String
    var dtype: TensorDType
    var shape: [Int]
    /// Byte range relative to the start of the data section.
    var begin: Int
    var end: Int
    var elementCount: Int
}

/// A safetensors file, memory-mapped and validated: `[u64 LE header length N][N bytes JSON][data]`.
///
/// Validation follows the safetensors format: the header length is capped, the header is a JSON
/// object of `{"dtype", "shape", "data_offsets"}` entries (plus an ignored `__metadata__`), only F32
/// and I64 are read, `shape` product × dtype size equals the byte length (overflow checked), the
/// tensors tile the data section exactly (contiguous, in bounds, no gaps, no trailing bytes).
struct SafetensorsFile: Sendable {
    /// The largest header this loader parses.
    static let headerCap = 100_000_000

    let file: MappedFile
    /// Entries by tensor name.
    let entries: [String: TensorEntry]
    /// Offset of the data section from the start of the file.
    let dataStart: Int

    /// Maps and validates `path`.
    /// - Throws: ``BundleError`` naming the file and the offending tensor.
    init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        guard file.count >= 8 else { throw BundleError.truncated(file: path, size: file.count, needed: 8) }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(file.base.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(i)) }
        guard n <= UInt64(Self.headerCap) else {
            throw BundleError.headerTooLarge(file: path, length: n, cap: Self.headerCap)
        }
        let headerLength = Int(n)
        guard file.count >= 8 + headerLength else {
            throw BundleError.truncated(file: path, size: file.count, needed: 8 + headerLength)
        }
        dataStart = 8 + headerLength
        let header = Data(bytes: file.base + 8, count: headerLength)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            throw BundleError.badHeader(file: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else {
            throw BundleError.badHeader(file: path, reason: "not a JSON object")
        }
        var entries: [String: TensorEntry] = [:]
        for (name, value) in object where name != "__metadata__" {
            entries[name] = try Self.entry(name: name, value: value, path: path)
        }
        if let metadata = object["__metadata__"], !(metadata is [String: Any]) {
            throw BundleError.badHeader(file: path, reason: "__metadata__ is not an object")
        }
        // The tensors must tile the data section: sorted by offset, each begins where the last ended.
        let dataLength = file.count - dataStart
        var expectedBegin = 0
        for entry in entries.values.sorted(by: { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }) {
            guard entry.begin == expectedBegin else {
                throw BundleError.notContiguous(file: path, tensor: entry.name, begin: entry.begin, expected: expectedBegin)
            }
            guard entry.end <= dataLength else {
                throw BundleError.outOfBounds(file: path, tensor: entry.name, end: entry.end, dataLength: dataLength)
            }
            guard (dataStart + entry.begin) % entry.dtype.size == 0 else {
                throw BundleError.misaligned(file: path, tensor: entry.name)
            }
            expectedBegin = entry.end
        }
        guard expectedBegin == dataLength else {
            throw BundleError.trailingBytes(file: path, dataLength: dataLength, used: expectedBegin)
        }
        self.entries = entries
    }

    /// Parses and checks one header entry.
    private static func entry(name: String, value: Any, path: String) throws -> TensorEntry {
        guard let fields = value as? [String: Any] else {
            throw BundleError.badTensorEntry(file: path, tensor: name, reason: "entry is not an object")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw BundleError.badTensorEntry(file: path, tensor: name, reason: "dtype is missing or not a string")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw BundleError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
        }
        guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
            throw BundleError.badTensorEntry(file: path, tensor: name, reason: "shape is not a list of non-negative integers")
        }
        guard let offsets = integers(fields["data_offsets"]), offsets.count == 2,
              offsets[0] >= 0, offsets[1] >= offsets[0] else {
            throw BundleError.badTensorEntry(file: path, tensor: name, reason: "data_offsets is not [begin, end] with 0 <= begin <= end")
        }
        var elements = 1
        var overflow = false
        for dim in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: dim)
            elements = p
            overflow = overflow || o
        }
        let (bytes, o2) = elements.multipliedReportingOverflow(by: dtype.size)
        let length = offsets[1] - offsets[0]
        guard !overflow, !o2, bytes == length else {
            throw BundleError.byteLengthMismatch(file: path, tensor: name, shape: shape, dtype: dtypeName, bytes: length)
        }
        return TensorEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1], elementCount: elements)
    }

    /// A JSON array of integers (no fractions), or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(array.count)
        for element in array {
            if let n = element as? NSNumber {
                let d = n.doubleValue
                guard d == d.rounded(), abs(d) < 9.0e15 else { return nil }
                out.append(n.intValue)
            } else {
                return nil
            }
        }
        return out
    }

    /// The F32 data of a validated entry, viewed in place.
    func floats(_ entry: TensorEntry) -> UnsafeBufferPointer<Float> {
        precondition(entry.dtype == .f32)
        let p = (file.base + dataStart + entry.begin).assumingMemoryBound(to: Float.self)
        return UnsafeBufferPointer(start: p, count: entry.elementCount)
    }

    /// The I64 data of a validated entry, viewed in place.
    func int64s(_ entry: TensorEntry) -> UnsafeBufferPointer<Int64> {
        precondition(entry.dtype == .i64)
        let p = (file.base + dataStart + entry.begin).assumingMemoryBound(to: Int64.self)
        return UnsafeBufferPointer(start: p, count: entry.elementCount)
    }
}

extension SafetensorsFile {
    /// Opens an optional file of a bundle (`bundlePath/fileName`) that must hold exactly `specs`,
    /// all F32 with these shapes; nil when the bundle has no such file.
    /// - Throws: ``BundleError`` naming the file and the tensor that is extra, missing or wrong.
    static func optional(bundlePath: String, fileName: String, specs: [(name: String, shape: [Int])],
                         optionalSpecs: [(name: String, shape: [Int])] = []) throws -> SafetensorsFile? {
        let path = (bundlePath as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let st = try SafetensorsFile(path: path)
        let expected = Set(specs.map(\.name) + optionalSpecs.map(\.name))
        if let extra = st.entries.keys.sorted().first(where: { !expected.contains($0) }) {
            throw BundleError.unexpectedTensor(file: path, tensor: extra)
        }
        for spec in specs + optionalSpecs.filter({ st.entries[$0.name] != nil }) {
            guard let entry = st.entries[spec.name] else { throw BundleError.missingTensor(file: path, tensor: spec.name) }
            guard entry.dtype == .f32 else {
                throw BundleError.wrongDType(file: path, tensor: spec.name, expected: TensorDType.f32.rawValue, actual: entry.dtype.rawValue)
            }
            guard entry.shape == spec.shape else {
                throw BundleError.wrongShape(file: path, tensor: spec.name, expected: spec.shape, actual: entry.shape)
            }
        }
        return st
    }
}
