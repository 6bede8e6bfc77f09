import Foundation
import FuseRankEvaluation
import FuseRankModel

/// A dataset of `../shared/data/` read for evaluation: sequences, catalogue and item text.
struct EvalDataset {
    /// Every user's events in order.
    var sequences: [UserSequence]
    /// The dataset's item ids, ascending (the sampled protocol draws from it).
    var catalogue: [Int64]
    /// Item id -> genre words (search mode).
    var itemText: [Int64: String]

    /// Why a dataset cannot be read.
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads a file as UTF-8 text.
    static func read(_ folder: String, _ name: String) throws -> String {
        let path = (folder as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// MovieLens latest-small: ratings.csv (real timestamps) and movies.csv genres.
    static func mlLatestSmall(_ folder: String) throws -> EvalDataset {
        let sequences = MovieLens.ratingsSequences(csv: try read(folder, "ratings.csv"))
        let text = MovieLens.genresCSV(try read(folder, "movies.csv"))
        let items = Set(text.keys).union(sequences.flatMap { $0.events.map(\.itemID) })
        return EvalDataset(sequences: sequences, catalogue: items.sorted(), itemText: text)
    }

    /// ML-1M in the SASRec form: ml-1m.txt (order only), genres from movies.dat via sas_to_original_items.txt.
    static func ml1m(_ folder: String) throws -> EvalDataset {
        let sequences = MovieLens.orderSequences(try read(folder, "ml-1m.txt"))
        let genres = MovieLens.genresDat(try read(folder, "movies.dat"))
        var text: [Int64: String] = [:]
        for (sas, original) in MovieLens.pairs(try read(folder, "sas_to_original_items.txt")) {
            if let g = genres[original] { text[sas] = g }
        }
        let items = Set(sequences.flatMap { $0.events.map(\.itemID) })
        return EvalDataset(sequences: sequences, catalogue: items.sorted(), itemText: text)
    }
}
