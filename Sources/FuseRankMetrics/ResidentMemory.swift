import Foundation

/// The process's resident set size, from `/proc/self/statm` (Linux).
public enum ResidentMemory {
    /// Resident bytes now, or nil where `/proc/self/statm` is missing or unreadable.
    public static func bytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        // statm: size resident shared text lib data dt, in pages.
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
