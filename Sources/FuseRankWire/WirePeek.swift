/// One top-level string field of an encoded protobuf message, read without decoding the message:
/// the broker routes on `RequestHeader.method` and `RankRequest.session_id` and forwards the
/// bytes untouched.
public enum WirePeek {
    /// The value of length-delimited field `number` as UTF-8 (the last occurrence, as protobuf
    /// decoding takes it); nil when the field is absent or the bytes are not a protobuf message.
    public static func string(field number: UInt64, in bytes: [UInt8]) -> String? {
        var at = 0
        var found: Range<Int>?
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while at < bytes.count, shift < 64 {
                let byte = bytes[at]
                at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while at < bytes.count {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0:
                guard varint() != nil else { return nil }
            case 1:
                at += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - at) else { return nil }
                if key >> 3 == number { found = at..<(at + Int(length)) }
                at += Int(length)
            case 5:
                at += 4
            default:
                return nil  // groups (3, 4) and 6, 7 do not occur in our messages
            }
            if at > bytes.count { return nil }
        }
        return found.map { String(decoding: bytes[$0], as: UTF8.self) }
    }
}

extension RequestHeader {
    /// The `method` of an encoded header (field 1), without decoding it.
    public static func peekMethod(_ bytes: [UInt8]) -> String? { WirePeek.string(field: 1, in: bytes) }
}

extension RankRequest {
    /// The `session_id` of an encoded request (field 10), without decoding it; nil when unset.
    public static func peekSessionID(_ bytes: [UInt8]) -> String? { WirePeek.string(field: 10, in: bytes) }
}
