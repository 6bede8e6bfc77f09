import CFuseRankKernels
import Foundation

/// The catalogue's item embeddings (rows 2 ..< num_items) as int8 with one scale per row, packed
/// for the 8-bit dot-product kernels: a whole-catalogue pass reads a quarter of the float32 bytes.
///
/// Built once per bundle (``ModelBundle/quantizedCatalogue``), immutable, shared by every ranker.
// @unchecked Sendable: `packed` is written only in init and read-only afterwards; freed in deinit.
public final class QuantizedCatalogue: @unchecked Sendable {
    /// Rows (the catalogue size).
    public let count: Int
    /// Values per row (d_model).
    public let dimension: Int
    let packed: UnsafeMutablePointer<Int8>  // fr_int8_packed_bytes(count, dimension) bytes
    let scales: [Float]                       // (count,) per-row scale: value ~ int8 * scale

    /// Quantizes the catalogue rows of `bundle`.
    init(bundle: ModelBundle) {
        let n = bundle.catalogueSize, d = bundle.config.dModel
        guard let memory = fr_table_alloc(fr_int8_packed_bytes(n, d)) else {
            fatalError("out of memory for the int8 catalogue table (\(fr_int8_packed_bytes(n, d)) bytes)")
        }
        let table = memory.assumingMemoryBound(to: Int8.self)
        var scales = [Float](repeating: 0, count: n)
        let rows = bundle.weights.itemEmb.baseAddress! + 2 * d
        if n > 0 { scales.withUnsafeMutableBufferPointer { fr_int8_pack(rows, n, d, table, $0.baseAddress!) } }
        count = n
        dimension = d
        packed = table
        self.scales = scales
    }

    deinit { fr_table_free(packed) }

    /// Bytes of the int8 table and its scales.
    public var bytes: Int { fr_int8_packed_bytes(count, dimension) + count * MemoryLayout<Float>.size }

    /// Values of one quantized user vector: d_model rounded up to a multiple of 4.
    var paddedDimension: Int { (dimension + 3) / 4 * 4 }

    /// The kernel this CPU runs ("avx512vnni", "avx2" or "scalar").
    public static var kernel: String { String(cString: fr_int8_kernel()) }
}

/// How a ranker scores the whole catalogue.
public enum CatalogueScoring: String, Sendable, CaseIterable {
    /// Every item in float32: one GEMM.
    case exact
    /// Every item in 8-bit arithmetic (``QuantizedCatalogue``), then the best few hundred
    /// re-scored exactly in float32: returned scores are exact; an item whose approximate score
    /// misses the shortlist is lost (top-10 recall is measured by `make bench`).
    case int8
    /// ``int8`` for catalogues of at least ``int8Threshold`` items, else ``exact``.
    case auto

    /// The catalogue size from which ``auto`` takes the int8 path.
    public static let int8Threshold = 100_000

    /// This choice for a catalogue of `size` items, with ``auto`` resolved.
    public func resolved(catalogueSize size: Int) -> CatalogueScoring {
        self == .auto ? (size >= Self.int8Threshold ? .int8 : .exact) : self
    }
}
