import Foundation
import FuseRankModel

/// One tensor to write (the library's serialisable tensor).
public typealias TensorBlob = SafetensorsTensor

/// Writes safetensors files for tests, with a hook to break the header on purpose.
public enum SafetensorsWriter {
    /// Writes `tensors`, letting `edit` change the header object first.
    public static func write(_ tensors: [TensorBlob], to path: String, edit: (inout [String: Any]) -> Void = { _ in }) throws {
        var h = SafetensorsEncoding.header(tensors, metadata: ["format": "pt"])
        edit(&h)
        try Data(SafetensorsEncoding.fileBytes(header: h, data: tensors.flatMap(\.bytes))).write(to: URL(fileURLWithPath: path))
    }
}
