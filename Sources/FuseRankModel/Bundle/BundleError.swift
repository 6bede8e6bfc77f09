/// Why a model bundle cannot be loaded. Every case names the file, and the tensor where there is one.
public enum BundleError: Error, Sendable, CustomStringConvertible {
    /// The file cannot be opened, read or examined (`reason` is the system's message).
    case cannotRead(file: String, reason: String)
    /// `mmap` failed.
    case cannotMap(file: String, reason: String)
    /// `config.json` is not valid JSON, lacks a key or holds an out-of-range value.
    case badConfig(file: String, reason: String)
    /// `vocab.txt` does not match the configuration.
    case badVocabulary(file: String, reason: String)
    /// The file is shorter than the 8-byte header length, or than the header it announces.
    case truncated(file: String, size: Int, needed: Int)
    /// The announced JSON header is larger than the cap.
    case headerTooLarge(file: String, length: UInt64, cap: Int)
    /// The JSON header does not parse, or is not an object of tensor entries.
    case badHeader(file: String, reason: String)
    /// A tensor entry lacks a field or holds a malformed one.
    case badTensorEntry(file: String, tensor: String, reason: String)
    /// A tensor whose dtype this engine does not read (only F32 and I64).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// `shape` product × dtype size differs from the tensor's byte length (or overflows).
    case byteLengthMismatch(file: String, tensor: String, shape: [Int], dtype: String, bytes: Int)
    /// A tensor does not start where the previous one ends (a gap or an overlap).
    case notContiguous(file: String, tensor: String, begin: Int, expected: Int)
    /// A tensor ends beyond the data section.
    case outOfBounds(file: String, tensor: String, end: Int, dataLength: Int)
    /// The data section holds bytes after the last tensor.
    case trailingBytes(file: String, dataLength: Int, used: Int)
    /// A tensor's data is not aligned to its element size.
    case misaligned(file: String, tensor: String)
    /// A tensor of the model format is missing.
    case missingTensor(file: String, tensor: String)
    /// The file holds a tensor the model format does not name.
    case unexpectedTensor(file: String, tensor: String)
    /// A tensor has a shape other than the configuration implies.
    case wrongShape(file: String, tensor: String, expected: [Int], actual: [Int])
    /// A tensor has a dtype other than the model format says.
    case wrongDType(file: String, tensor: String, expected: String, actual: String)
    /// `item_ids` holds a duplicate or non-positive catalogue id.
    case badItemIDs(file: String, reason: String)
    /// `items.tsv` (the optional item titles) is malformed.
    case badItems(file: String, reason: String)
    /// `fusion.json` (a fused bundle's members) is malformed, or a member does not fit the bundle.
    case badFusion(file: String, reason: String)

    /// A readable message naming the file and tensor.
    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .cannotMap(file, reason):
            return "\(file): cannot memory-map: \(reason)"
        case let .badConfig(file, reason):
            return "\(file): bad config: \(reason)"
        case let .badVocabulary(file, reason):
            return "\(file): bad vocabulary: \(reason)"
        case let .truncated(file, size, needed):
            return "\(file): truncated: \(size) bytes, at least \(needed) needed"
        case let .headerTooLarge(file, length, cap):
            return "\(file): header length \(length) exceeds the cap of \(cap) bytes"
        case let .badHeader(file, reason):
            return "\(file): bad safetensors header: \(reason)"
        case let .badTensorEntry(file, tensor, reason):
            return "\(file): tensor \(tensor): \(reason)"
        case let .unsupportedDType(file, tensor, dtype):
            return "\(file): tensor \(tensor): dtype \(dtype) is not supported (F32, I64 only)"
        case let .byteLengthMismatch(file, tensor, shape, dtype, bytes):
            return "\(file): tensor \(tensor): shape \(shape) of \(dtype) does not fill its \(bytes) bytes"
        case let .notContiguous(file, tensor, begin, expected):
            return "\(file): tensor \(tensor): data begins at \(begin), expected \(expected) (gap or overlap)"
        case let .outOfBounds(file, tensor, end, dataLength):
            return "\(file): tensor \(tensor): data ends at \(end), beyond the \(dataLength)-byte data section"
        case let .trailingBytes(file, dataLength, used):
            return "\(file): data section is \(dataLength) bytes, tensors use \(used)"
        case let .misaligned(file, tensor):
            return "\(file): tensor \(tensor): data is not aligned to its element size"
        case let .missingTensor(file, tensor):
            return "\(file): tensor \(tensor) is missing"
        case let .unexpectedTensor(file, tensor):
            return "\(file): unexpected tensor \(tensor)"
        case let .wrongShape(file, tensor, expected, actual):
            return "\(file): tensor \(tensor) has shape \(actual), expected \(expected)"
        case let .wrongDType(file, tensor, expected, actual):
            return "\(file): tensor \(tensor) has dtype \(actual), expected \(expected)"
        case let .badItemIDs(file, reason):
            return "\(file): tensor item_ids: \(reason)"
        case let .badItems(file, reason):
            return "\(file): bad item titles: \(reason)"
        case let .badFusion(file, reason):
            return "\(file): bad fusion: \(reason)"
        }
    }
}
