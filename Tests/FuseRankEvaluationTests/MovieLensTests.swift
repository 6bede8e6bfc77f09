import Foundation
import Testing
import FuseRankModel
@testable import FuseRankEvaluation

@Suite struct MovieLensTests {
    @Test func ratingsSortByTimestampThenFileOrder() {
        let csv = """
        userId,movieId,rating,timestamp
        2,50,4.0,300
        1,10,4.0,200
        1,11,3.5,100
        1,12,5.0,200
        2,51,1.0,100
        """
        let s = MovieLens.ratingsSequences(csv: csv)
        #expect(s.map(\.user) == [1, 2])
        #expect(s[0].events.map(\.itemID) == [11, 10, 12])
        #expect(s[0].events.map(\.timestampMs) == [100_000, 200_000, 200_000])
        #expect(s[0].events.allSatisfy { $0.type == 6 })
        #expect(s[1].events.map(\.itemID) == [51, 50])
    }

    @Test func genresFromCSVAndDat() {
        let csv = """
        movieId,title,genres
        1,Toy Story (1995),Adventure|Animation|Children
        11,"American President, The (1995)",Comedy|Drama|Romance
        99,"Weird, ""quoted"", title",(no genres listed)
        """
        let g = MovieLens.genresCSV(csv)
        #expect(g[1] == "Adventure Animation Children")
        #expect(g[11] == "Comedy Drama Romance")
        #expect(g[99] == "(no genres listed)")
        let dat = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n"
        #expect(MovieLens.genresDat(dat) == [1: "Animation Children's Comedy", 2: "Adventure"])
        let v = Vocabulary(tokens: ["[PAD]", "[UNK]", "animation", "children's", "comedy"])
        #expect(v.tokenize(MovieLens.genresDat(dat)[1]!) == [2, 3, 4])
    }

    @Test func orderFileKeepsLineOrder() {
        let s = MovieLens.orderSequences("1 5\n1 3\n2 9\n1 4\n")
        #expect(s.map(\.user) == [1, 2])
        #expect(s[0].events.map(\.itemID) == [5, 3, 4])
        #expect(s[0].events.allSatisfy { $0.timestampMs == 0 })
        #expect(MovieLens.pairs("1 1198\n2 3552\n").map { [$0.0, $0.1] } == [[1, 1198], [2, 3552]])
    }

    @Test func theSharedDatasetHasTheDocumentedSize() throws {
        let path = DefaultModelEvaluationTests.dataPath + "/ratings.csv"
        let s = MovieLens.ratingsSequences(csv: try String(contentsOfFile: path, encoding: .utf8))
        #expect(s.count == 610)
        #expect(s.reduce(0) { $0 + $1.events.count } == 100_836)
    }
}
