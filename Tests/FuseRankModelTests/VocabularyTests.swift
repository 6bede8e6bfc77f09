import Testing
@testable import FuseRankModel

@Suite struct VocabularyTests {
    let vocab = Vocabulary(tokens: ["[PAD]", "[UNK]", "sci-fi", "children's", "comedy", "drama", "2001"])

    @Test func contractExample() {
        #expect(Vocabulary.words("Sci-Fi|Children's comedy!") == ["sci-fi", "children's", "comedy"])
        #expect(vocab.tokenize("Sci-Fi|Children's comedy!") == [2, 3, 4])
    }

    @Test func joinersNeedAWordCharacterOnBothSides() {
        #expect(Vocabulary.words("a--b c' 'd -e- x-y-z it's-ok") == ["a", "b", "c", "d", "e", "x-y-z", "it's-ok"])
        #expect(Vocabulary.words("rock'n'roll") == ["rock'n'roll"])
    }

    @Test func asciiOnlyAndLowerCased() {
        // Non-ASCII letters separate words; upper case folds.
        #expect(Vocabulary.words("Amélie DRAMA") == ["am", "lie", "drama"])
        #expect(Vocabulary.words("naïve_café 2001:ODYSSEY") == ["na", "ve", "caf", "2001", "odyssey"])
        #expect(Vocabulary.words("") == [])
        // Only A-Z fold: the Kelvin sign and dotted capital I are separators, not "k" / "i".
        #expect(Vocabulary.words("\u{212A}ids \u{0130}stanbul") == ["ids", "stanbul"])
        #expect(Vocabulary.words("!!! ---") == [])
    }

    @Test func unknownWordsAreOne() {
        #expect(vocab.tokenize("Drama horror 2001") == [5, 1, 6])
        #expect(vocab.tokenize("[PAD]") == [1])  // brackets separate; "pad" is not a word of the vocabulary
    }

    @Test func firstLineWinsForRepeatedTokens() {
        let v = Vocabulary(tokens: ["[PAD]", "[UNK]", "a", "a"])
        #expect(v.tokenize("a") == [2])
    }
}
