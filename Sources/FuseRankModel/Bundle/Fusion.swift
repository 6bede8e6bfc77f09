import Foundation

/// A fused bundle's members and their weights (docs/model-format.md "Fused bundles"), from the
/// optional `fusion.json`:
///
///     {"fusion_version": 1,
///      "members": [{"path": ".", "weight": 0.5}, {"path": "members/seed2", "weight": 0.5}]}
///
/// The first member is the bundle itself (`"."`); the others are bundle folders inside it. A
/// fused bundle scores an item as the weighted sum of its members' scores,
/// `sum_k w_k (u_k . item_emb_k[row] + item_bias_k[row])`, each `u_k` from the member's own
/// encoder on the same request, plus each member's repeat-head bonus on seen items (format 3).
/// Members share the catalogue (the same `item_ids`, row by row), the event types, the text
/// vocabulary, the image size and `exclude_seen`; none has a purchase head, a content projection
/// or a forecaster.
public struct Fusion: Sendable {
    /// The file name in a bundle folder.
    public static let fileName = "fusion.json"
    /// The `fusion_version`s this engine reads.
    public static let supportedVersions = 1...1
    /// The most members a fused bundle may hold.
    public static let maxMembers = 8

    /// The members after the first (the bundle itself), in file order.
    public let members: [ModelBundle]
    /// The weight of each member, the bundle itself first (`members.count + 1` values).
    public let weights: [Float]

    private struct File: Decodable {
        struct Member: Decodable {
            let path: String
            let weight: Float
        }
        let fusion_version: Int
        let members: [Member]
    }

    /// Reads `fusion.json` of the bundle at `bundlePath`, if it has one, and loads its members.
    /// - Parameters:
    ///   - bundlePath: the bundle folder.
    ///   - config: the bundle's own configuration (the first member).
    ///   - itemIDs: the bundle's `item_ids`, which every member must repeat.
    ///   - vocabulary: the bundle's vocabulary, which every member must repeat.
    /// - Returns: nil for a bundle without `fusion.json`.
    /// - Throws: ``BundleError/badFusion(file:reason:)`` naming what is wrong, or a member's own
    ///   load error.
    static func load(bundlePath: String, config: ModelConfig, itemIDs: UnsafeBufferPointer<Int64>,
                     vocabulary: Vocabulary) throws -> Fusion? {
        let path = (bundlePath as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        func bad(_ reason: String) -> BundleError { .badFusion(file: path, reason: reason) }
        let file = try ModelBundle.decodeJSON(File.self, at: path, malformed: bad)
        guard supportedVersions.contains(file.fusion_version) else {
            throw bad("fusion_version \(file.fusion_version) is not supported (\(supportedVersions))")
        }
        guard (2...maxMembers).contains(file.members.count) else {
            throw bad("\(file.members.count) members; a fused bundle holds 2 to \(maxMembers)")
        }
        guard file.members[0].path == "." else {
            throw bad("the first member's path is \"\(file.members[0].path)\", expected \".\" (the bundle itself)")
        }
        for (k, m) in file.members.enumerated() where !(m.weight.isFinite && m.weight >= 0) {
            throw bad("members[\(k)] has weight \(m.weight), expected a finite number >= 0")
        }
        guard file.members.contains(where: { $0.weight > 0 }) else { throw bad("every weight is 0") }
        var seen = Set<String>()
        var members: [ModelBundle] = []
        for (k, m) in file.members.enumerated().dropFirst() {
            let parts = m.path.split(separator: "/", omittingEmptySubsequences: false)
            guard !m.path.isEmpty, !m.path.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw bad("members[\(k)] has path \"\(m.path)\"; a member is a folder inside the bundle")
            }
            guard seen.insert(m.path).inserted else { throw bad("members[\(k)] repeats the path \"\(m.path)\"") }
            let member = try ModelBundle(path: (bundlePath as NSString).appendingPathComponent(m.path))
            if let problem = mismatch(member, config: config, itemIDs: itemIDs, vocabulary: vocabulary) {
                throw bad("members[\(k)] (\(m.path)): \(problem)")
            }
            members.append(member)
        }
        return Fusion(members: members, weights: file.members.map(\.weight))
    }

    /// What keeps a member out of the fusion, or nil.
    private static func mismatch(_ member: ModelBundle, config: ModelConfig, itemIDs: UnsafeBufferPointer<Int64>,
                                 vocabulary: Vocabulary) -> String? {
        let c = member.config
        if member.fusion != nil { return "is itself a fused bundle" }
        if let part = onlyInSingleModels(member) { return "has \(part)" }
        if c.numItems != config.numItems { return "num_items is \(c.numItems), the bundle's is \(config.numItems)" }
        if !member.weights.itemIDs.elementsEqual(itemIDs) { return "item_ids differ from the bundle's" }
        if c.numEventTypes != config.numEventTypes {
            return "num_event_types is \(c.numEventTypes), the bundle's is \(config.numEventTypes)"
        }
        if c.imageDim != config.imageDim { return "image_dim is \(c.imageDim), the bundle's is \(config.imageDim)" }
        if c.excludeSeen != config.excludeSeen { return "exclude_seen differs from the bundle's" }
        if member.vocabulary.tokens != vocabulary.tokens { return "vocab.txt differs from the bundle's" }
        return nil
    }

    /// The part of `bundle` a fusion member (or a fused bundle) may not have, or nil.
    static func onlyInSingleModels(_ bundle: ModelBundle) -> String? {
        if bundle.purchase != nil { return "a purchase head (purchase.safetensors)" }
        if bundle.content != nil { return "a content projection (content.safetensors)" }
        if bundle.forecaster != nil { return "a forecaster" }
        return nil
    }
}
