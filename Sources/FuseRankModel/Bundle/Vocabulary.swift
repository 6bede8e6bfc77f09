/// The text vocabulary of a bundle (`vocab.txt`) and the tokenizer of docs/model-format.md.
///
/// Line 0 is `[PAD]` (id 0), line 1 is `[UNK]` (id 1); a word's id is its 0-based line index.
public struct Vocabulary: Sendable {
    /// The id of a word not in the vocabulary.
    public static let unknownID: Int32 = 1

    /// The tokens, by id.
    public var tokens: [String] {
        didSet { index = Self.makeIndex(tokens) }
    }
    private var index: [String: Int32]

    /// Creates a vocabulary; for a repeated token the first line wins.
    public init(tokens: [String]) {
        self.tokens = tokens
        self.index = Self.makeIndex(tokens)
    }

    private static func makeIndex(_ tokens: [String]) -> [String: Int32] {
        var index: [String: Int32] = [:]
        index.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where index[t] == nil { index[t] = Int32(i) }
        return index
    }

    /// The id of one word, or ``unknownID``.
    public func id(of word: String) -> Int32 { index[word] ?? Self.unknownID }

    /// Tokenizes text: lower-case `A-Z` (nothing else changes), then every maximal match of `[a-z0-9]+(?:['-][a-z0-9]+)*`.
    ///
    /// Only ASCII letters and digits form words; every other character separates, so
    /// `"Sci-Fi|Children's comedy!"` gives `sci-fi`, `children's`, `comedy`.
    /// - Parameter text: any text.
    /// - Returns: one id per word, ``unknownID`` for a word not in the vocabulary.
    public func tokenize(_ text: String) -> [Int32] {
        Self.words(text).map { id(of: $0) }
    }

    /// The words of `text` under the tokenizer rule, before the vocabulary lookup.
    public static func words(_ text: String) -> [String] {
        // Only ASCII A-Z fold to lower case (not Unicode case mapping: the Kelvin sign stays a separator).
        let scalars = text.unicodeScalars.map { s -> Unicode.Scalar in
            (0x41...0x5A).contains(s.value) ? Unicode.Scalar(UInt8(s.value + 0x20)) : s
        }
        func isWordChar(_ i: Int) -> Bool {
            guard i < scalars.count else { return false }
            let v = scalars[i].value
            return (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39)
        }
        func isJoiner(_ i: Int) -> Bool {
            guard i < scalars.count else { return false }
            let v = scalars[i].value
            return v == 0x27 || v == 0x2D  // ' or -
        }
        var words: [String] = []
        var i = 0
        while i < scalars.count {
            guard isWordChar(i) else { i += 1; continue }
            let start = i
            while isWordChar(i) { i += 1 }
            // A joiner extends the word only when a letter or digit follows it.
            while isJoiner(i) && isWordChar(i + 1) {
                i += 1
                while isWordChar(i) { i += 1 }
            }
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[start..<i])
            words.append(String(word))
        }
        return words
    }
}
